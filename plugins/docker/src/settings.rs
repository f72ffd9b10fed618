//! A container resource's configuration, checked once when the resource is created, and what
//! follows from it: the engine's create request and the equivalent `docker run` line.

use crate::identity::Identity;
use crate::run_args::{self, Item, Opt, RunArgs};
use bollard::models::ContainerCreateBody;
use svcmgr_plugin_api::serde_json::Value;
use svcmgr_plugin_api::ResourceSpec;

/// The `netns` keyword.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Netns {
    /// `container#N`: join that resource's container network namespace.
    Container(String),
    /// `host`, `none`, `bridge` or a network name: passed to the engine as is.
    Mode(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    /// Pull only when the image is not present locally.
    Once,
    Always,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub image: String,
    pub command: Vec<String>,
    pub run_args: RunArgs,
    pub netns: Option<Netns>,
    pub rm: bool,
    pub pull_policy: PullPolicy,
    pub detach: bool,
    /// No `netns`, no `--net` in `run_args`, and an `ip.*` resource linked to this one: the
    /// container runs with network mode `none`, so its namespace holds only what svcmgr
    /// plumbs (decisions §10).
    pub plumbed_by_svcmgr: bool,
    /// `tty` and `interactive`, shown first in the `docker run` line as the tutorials do.
    terminal: Vec<Item>,
    /// The other keywords that map to `docker run` options (hostname, privileged, entrypoint,
    /// volume_mounts, environment); they override `run_args`.
    keyword_items: Vec<Item>,
}

impl Settings {
    /// Read the keywords. Errors name the keyword; the caller adds the rid.
    pub fn from_spec(spec: &ResourceSpec) -> Result<Settings, String> {
        let image = spec
            .str("image")
            .filter(|s| !s.is_empty())
            .ok_or("image: a value is required")?
            .to_string();
        let run_args =
            RunArgs::parse(&spec.words("run_args")).map_err(|e| format!("run_args: {e}"))?;
        let netns = match spec.str("netns").filter(|s| !s.is_empty()) {
            Some(rid) if rid == spec.rid => {
                return Err(format!("netns: {rid} can not join its own namespace"))
            }
            Some(rid) if rid.starts_with("container#") => Some(Netns::Container(rid.into())),
            Some(mode) => Some(Netns::Mode(mode.into())),
            None => None,
        };
        let pull_policy = match spec.str("image_pull_policy").unwrap_or("once") {
            "once" => PullPolicy::Once,
            "always" => PullPolicy::Always,
            other => {
                return Err(format!(
                    "image_pull_policy: '{other}' is not one of once, always"
                ))
            }
        };
        let plumbed_by_svcmgr = netns.is_none()
            && !run_args.opts().any(|o| matches!(o, Opt::Network(_)))
            && spec
                .context
                .linked_by
                .iter()
                .any(|l| l.driver.starts_with("ip."));
        let tristate = |kw: &str| spec.get(kw).and_then(Value::as_bool);
        let item = |words: Vec<String>, opt: Opt| Item { words, opt };

        let mut terminal = Vec::new();
        if let Some(b) = tristate("tty") {
            terminal.push(item(vec![switch("-t", "--tty", b)], Opt::Tty(b)));
        }
        if let Some(b) = tristate("interactive") {
            terminal.push(item(
                vec![switch("-i", "--interactive", b)],
                Opt::Interactive(b),
            ));
        }

        let mut keyword_items = Vec::new();
        if let Some(h) = spec.str("hostname") {
            keyword_items.push(item(
                vec![format!("--hostname={h}")],
                Opt::Hostname(h.into()),
            ));
        }
        if let Some(b) = tristate("privileged") {
            keyword_items.push(item(
                vec![switch("--privileged", "--privileged", b)],
                Opt::Privileged(b),
            ));
        }
        if let Some(e) = spec.str("entrypoint") {
            keyword_items.push(item(
                vec![format!("--entrypoint={e}")],
                Opt::Entrypoint(e.into()),
            ));
        }
        for v in spec.words("volume_mounts") {
            keyword_items.push(item(vec![format!("--volume={v}")], Opt::Volume(v)));
        }
        for e in spec.words("environment") {
            if !e.contains('=') || e.starts_with('=') {
                return Err(format!("environment: '{e}' is not KEY=value"));
            }
            keyword_items.push(item(vec!["-e".into(), e.clone()], Opt::Env(e)));
        }

        // The keywords win over run_args: what they replace leaves the line and the request.
        let run_args =
            run_args.without_replaced(terminal.iter().chain(&keyword_items).map(|i| &i.opt));
        Ok(Settings {
            image,
            command: spec.words("command"),
            run_args,
            netns,
            rm: spec.bool("rm"),
            pull_policy,
            detach: spec.get("detach").and_then(Value::as_bool).unwrap_or(true),
            plumbed_by_svcmgr,
            terminal,
            keyword_items,
        })
    }

    /// The network mode the `netns` keyword asks for, given the resolved name of a
    /// `container#N` target; `none` when svcmgr plumbs the namespace.
    pub fn network_mode(&self, target_name: Option<&str>) -> Option<String> {
        match (&self.netns, target_name) {
            (Some(Netns::Container(_)), Some(name)) => Some(format!("container:{name}")),
            (Some(Netns::Mode(m)), _) => Some(m.clone()),
            (None, _) if self.plumbed_by_svcmgr => Some("none".into()),
            _ => None,
        }
    }

    /// `run_args` without what the network mode replaces.
    fn run_args_with(&self, network: Option<&Opt>) -> RunArgs {
        self.run_args.without_replaced(network.into_iter())
    }

    /// The engine's create request: the options of [`Settings::run_line`], in its order.
    /// Without a network mode the engine's default network is kept (so `-p` publishes ports).
    pub fn create_body(
        &self,
        identity: &Identity,
        network_mode: Option<&str>,
    ) -> Result<ContainerCreateBody, String> {
        let mut body = ContainerCreateBody {
            image: Some(self.image.clone()),
            cmd: (!self.command.is_empty()).then(|| self.command.clone()),
            ..Default::default()
        };
        let network = network_mode.map(|m| Opt::Network(m.into()));
        let run_args = self.run_args_with(network.as_ref());
        let opts = self
            .terminal
            .iter()
            .chain(&self.keyword_items)
            .map(|i| &i.opt)
            .chain(run_args.opts())
            .chain(network.iter());
        run_args::apply(opts, &mut body)?;
        body.labels
            .get_or_insert_with(Default::default)
            .extend(identity.labels());
        Ok(body)
    }

    /// The `docker run …` words that create the same container as the create request (labels
    /// left out: they are the driver's bookkeeping, not the operator's settings).
    pub fn run_line(&self, name: &str, network_mode: Option<&str>) -> Vec<String> {
        let network = network_mode.map(|m| Opt::Network(m.into()));
        let mut line = vec!["run".to_string()];
        line.extend(self.terminal.iter().flat_map(|i| i.words.clone()));
        line.push("-d".into());
        line.push(format!("--name={name}"));
        line.extend(self.keyword_items.iter().flat_map(|i| i.words.clone()));
        line.extend(self.run_args_with(network.as_ref()).words().cloned());
        if let Some(mode) = network_mode {
            line.push(format!("--net={mode}"));
        }
        line.push(self.image.clone());
        line.extend(self.command.iter().cloned());
        line
    }
}

/// `-t` when on; the long form `=false` when explicitly off.
fn switch(on: &str, long: &str, value: bool) -> String {
    match value {
        true => on.to_string(),
        false => format!("{long}=false"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use svcmgr_plugin_api::serde_json::{json, Map};
    use svcmgr_plugin_api::types::{LinkedBy, ResourceContext};

    fn spec(rid: &str, kw: Value) -> ResourceSpec {
        let keywords: Map<String, Value> = serde_json_obj(kw);
        let mut context = ResourceContext::new("svc2", "");
        context.svc_id = "u-1".into();
        ResourceSpec::new("container.docker", rid, keywords, context)
    }

    fn serde_json_obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("object expected"),
        }
    }

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn v1_run_line() {
        let s = Settings::from_spec(&spec(
            "container#2",
            json!({"image": "30e0b59613ff", "run_args": ["-v", "/var/lib/opensvc/app/docker.sock:/docker.sock", "-p", "8888:8000"]}),
        ))
        .unwrap();
        assert_eq!(
            s.run_line("app.container.2", None),
            words("run -d --name=app.container.2 -v /var/lib/opensvc/app/docker.sock:/docker.sock -p 8888:8000 30e0b59613ff")
        );
        let s = Settings::from_spec(&spec(
            "container#1",
            json!({"image": "f66342b343ae", "command": ["/bin/sh"], "tty": true, "interactive": true}),
        ))
        .unwrap();
        assert_eq!(
            s.run_line("app.container.1", None),
            words("run -t -i -d --name=app.container.1 f66342b343ae /bin/sh")
        );
    }

    #[test]
    fn v2_netns_container() {
        let s = Settings::from_spec(&spec(
            "container#3",
            json!({"image": "redis:3.0", "netns": "container#1", "run_args": ["--net=host"]}),
        ))
        .unwrap();
        assert_eq!(s.netns, Some(Netns::Container("container#1".into())));
        let mode = s.network_mode(Some("svc2.container.1"));
        assert_eq!(mode.as_deref(), Some("container:svc2.container.1"));
        assert_eq!(
            s.run_line("svc2.container.3", mode.as_deref()),
            words("run -d --name=svc2.container.3 --net=container:svc2.container.1 redis:3.0")
        );
        let id = Identity::new("svc2", "u-1", "container#3", None).unwrap();
        let body = s.create_body(&id, mode.as_deref()).unwrap();
        assert_eq!(
            body.host_config.unwrap().network_mode.as_deref(),
            Some("container:svc2.container.1")
        );
        assert_eq!(
            body.labels.unwrap()["com.opensvc.id"],
            "u-1.container#3".to_string()
        );
    }

    #[test]
    fn network_none_when_an_ip_resource_plumbs_the_namespace() {
        let with_links = |kw: Value, drivers: &[&str]| {
            let mut sp = spec("container#1", kw);
            sp.context.linked_by = drivers.iter().map(|d| LinkedBy::new("ip#1", d)).collect();
            Settings::from_spec(&sp).unwrap()
        };
        let pause = with_links(json!({"image": "pause"}), &["ip.netns"]);
        assert_eq!(pause.network_mode(None).as_deref(), Some("none"));
        assert_eq!(
            pause.run_line("svc2.container.1", Some("none")),
            words("run -d --name=svc2.container.1 --net=none pause")
        );
        // Every other container keeps today's behaviour.
        for (kw, drivers) in [
            (json!({"image": "i"}), &[][..]),
            (json!({"image": "i"}), &["app.forking"][..]),
            (
                json!({"image": "i", "run_args": ["--net=host"]}),
                &["ip.netns"][..],
            ),
        ] {
            let s = with_links(kw, drivers);
            assert!(!s.plumbed_by_svcmgr);
            assert_eq!(s.network_mode(None), None);
        }
        let joined = with_links(json!({"image": "i", "netns": "container#2"}), &["ip.netns"]);
        assert_eq!(
            joined.network_mode(Some("svc2.container.2")).as_deref(),
            Some("container:svc2.container.2")
        );
    }

    #[test]
    fn keywords_override_run_args() {
        let s = Settings::from_spec(&spec(
            "container#1",
            json!({"image": "i", "run_args": ["-h", "a", "-e", "X=1", "-e", "Y=1", "-ti"],
                   "tty": false, "hostname": "b",
                   "environment": ["X=2"], "volume_mounts": ["/a:/b"], "privileged": false}),
        ))
        .unwrap();
        let id = Identity::new("svc", "", "container#1", None).unwrap();
        let body = s.create_body(&id, None).unwrap();
        assert_eq!(body.hostname.as_deref(), Some("b"));
        assert_eq!(body.env, Some(vec!["X=2".into(), "Y=1".into()]));
        let host = body.host_config.unwrap();
        assert_eq!(host.binds, Some(vec!["/a:/b".into()]));
        assert_eq!(
            host.network_mode, None,
            "the engine's default network is kept"
        );
        assert_eq!(
            s.run_line("n", None),
            words("run --tty=false -d --name=n --hostname=b --privileged=false --volume=/a:/b -e X=2 -e Y=1 -i i"),
            "what a keyword replaces is not in the line"
        );
    }

    #[test]
    fn errors_name_the_keyword() {
        let err = |kw: Value| Settings::from_spec(&spec("container#2", kw)).unwrap_err();
        assert_eq!(
            err(json!({"image": "i", "run_args": ["--bogus"]})),
            "run_args: unknown flag --bogus"
        );
        assert_eq!(err(json!({})), "image: a value is required");
        assert!(err(json!({"image": "i", "netns": "container#2"})).starts_with("netns:"));
        assert!(err(json!({"image": "i", "environment": ["NOVALUE"]})).starts_with("environment:"));
        assert!(err(json!({"image": "i", "image_pull_policy": "never"}))
            .starts_with("image_pull_policy:"));
    }
}
