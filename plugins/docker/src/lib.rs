//! The `container.docker` driver: docker containers as svcmgr resources, driven through the
//! engine API (bollard), optionally on a private docker daemon per service.

mod daemon;
mod engine;
mod identity;
mod memo;
mod passthrough;
mod ports;
mod resource;
mod run_args;
mod settings;
mod units;

use svcmgr_plugin_api::{
    export_plugin, DriverDecl, Kw, Plugin, ResourceImpl, ResourceSpec, Result,
};

export_plugin!(plugin);

pub fn plugin() -> Plugin {
    Plugin::new("docker", env!("CARGO_PKG_VERSION")).driver(declaration())
}

fn new_container(spec: &ResourceSpec) -> Result<Box<dyn ResourceImpl>> {
    resource::Container::new(spec).map(|c| Box::new(c) as Box<dyn ResourceImpl>)
}

fn declaration() -> DriverDecl {
    DriverDecl::new("container.docker", env!("CARGO_PKG_VERSION"), new_container)
        .help("A docker container, run from a local or pulled image.")
        .type_alias("oci")
        .default_for_group()
        .capability("provision")
        .capability("query:name")
        .capability("query:netns")
        .passthrough("docker")
        .keyword(
            Kw::string("image")
                .required()
                .alias("run_image")
                .help("The image the container runs: name[:tag], name@digest or image id."),
        )
        .keyword(
            Kw::shlex("command")
                .alias("run_command")
                .help("The command the container runs, instead of the image's default."),
        )
        .keyword(Kw::shlex("run_args").help(
            "docker run options, in the docker CLI syntax (-v, -p, -e, --env-file, -w, -u, -h, \
             --net, --privileged, -t, -i, --entrypoint, --cap-add, --cap-drop, -l, --restart, \
             -m, --cpus, --add-host, --dns, --tmpfs, --read-only, --init, --shm-size, \
             --ulimit, --device). Any other option is an error.",
        ))
        .keyword(
            Kw::string("entrypoint").help("Overrides the image's entrypoint (docker run --entrypoint)."),
        )
        .keyword(Kw::string("netns").alias("net").help(
            "The network namespace: container#N to share that container's, host, none, or a \
             docker network name. Unset: docker's default network.",
        ))
        .keyword(
            Kw::bool("rm")
                .default("false")
                .help("Remove the instance after stop, so the next start runs a new one."),
        )
        .keyword(
            Kw::string("name").help("The docker container name. Default: <svcname>.container.<N>."),
        )
        .keyword(Kw::string("hostname").help("The container's hostname."))
        .keyword(Kw::bool("privileged").help("Run the container privileged."))
        .keyword(Kw::bool("interactive").help("Keep the container's stdin open (docker run -i)."))
        .keyword(Kw::bool("tty").help("Give the container a terminal (docker run -t)."))
        .keyword(
            Kw::list("volume_mounts")
                .help("Volumes to mount: src:dst[:opts], src a host path or a volume name."),
        )
        .keyword(Kw::list("environment").help("Environment variables: KEY=value."))
        .keyword(
            Kw::string("image_pull_policy")
                .default("once")
                .candidates(&["once", "always"])
                .help("once: pull only when the image is not present locally; always: pull at each start."),
        )
        .keyword(Kw::bool("detach").default("true").help(
            "Run in the background. false: the start runs the container to completion, then \
             removes it; its status is n/a.",
        ))
        .service_keyword(Kw::string("container_data_dir").alias("docker_data_dir").help(
            "The data dir of a docker daemon private to the service, started and stopped with \
             its containers.",
        ))
        .service_keyword(
            Kw::shlex("docker_daemon_args").help("Extra options of the private docker daemon."),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest() {
        let decl = declaration();
        let m = decl.manifest();
        assert_eq!(m.id, "container.docker");
        assert!(m.default_for_group);
        assert_eq!(m.type_aliases, vec!["oci"]);
        assert_eq!(m.passthrough.as_deref(), Some("docker"));
        let kw = |n: &str| m.keywords.iter().find(|k| k.name == n).unwrap();
        assert!(kw("image").required);
        assert_eq!(kw("image").aliases, vec!["run_image"]);
        assert_eq!(kw("command").aliases, vec!["run_command"]);
        assert_eq!(kw("netns").aliases, vec!["net"]);
        for generic in ["start_timeout", "stop_timeout", "timeout"] {
            assert!(m.keywords.iter().all(|k| k.name != generic));
        }
        let svc: Vec<_> = m.service_keywords.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(svc, ["container_data_dir", "docker_daemon_args"]);
    }
}
