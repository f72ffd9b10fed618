//! One `[container#N]` resource: its verbs, driving the engine and logging the equivalent
//! docker command lines as the tutorials show them.

use crate::daemon::PrivateDaemon;
use crate::engine::{self, block_on, Engine, EngineError};
use crate::identity::Identity;
use crate::passthrough;
use crate::settings::{Netns, PullPolicy, Settings};
use bollard::models::{ContainerInspectResponse, ContainerStateStatusEnum, ContainerSummary};
use std::time::{Duration, Instant};
use svcmgr_plugin_api::serde_json::{json, Value};
use svcmgr_plugin_api::{
    ActionReport, Ctx, Error, ResourceImpl, ResourceSpec, Result, Status, StatusReport,
};

/// The container's own bounds, used when no timeout keyword sets the call's deadline.
const DEFAULT_START_WAIT: Duration = Duration::from_secs(5);
const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(10);
const DEFAULT_DAEMON_WAIT: Duration = Duration::from_secs(30);
const DEFAULT_PULL_WAIT: Duration = Duration::from_secs(120);
/// Kept from the stop deadline for the kill and the final checks after the grace period.
const STOP_MARGIN: Duration = Duration::from_secs(2);
const POLL: Duration = Duration::from_millis(100);

pub struct Container {
    /// The docker name, the labels and the rid.
    identity: Identity,
    settings: Settings,
    daemon: Option<PrivateDaemon>,
}

/// The call's configured deadline, or `default` from now.
fn bound(ctx: &Ctx, default: Duration) -> Instant {
    ctx.deadline_or(default)
}

fn engine_error(what: &str, e: EngineError) -> Error {
    match e {
        EngineError::Timeout(_) => Error::timeout(format!("{what}: {e}")),
        EngineError::NotFound(_) => Error::not_found(format!("{what}: {e}")),
        _ => Error::other(format!("{what}: {e}")),
    }
}

fn state_of(c: &ContainerInspectResponse) -> Option<ContainerStateStatusEnum> {
    c.state.as_ref().and_then(|s| s.status)
}

fn short(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..id.len().min(12)]
}

impl Container {
    pub fn new(spec: &ResourceSpec) -> Result<Container> {
        let config = |e: String| Error::config(e);
        let settings = Settings::from_spec(spec).map_err(config)?;
        let identity = Identity::new(
            &spec.context.svcname,
            &spec.context.svc_id,
            &spec.rid,
            spec.str("name"),
        )
        .map_err(|e| config(format!("name: {e}")))?;
        Ok(Container {
            identity,
            settings,
            daemon: PrivateDaemon::from_spec(spec),
        })
    }

    /// `<name>@<image>`.
    fn instance_label(&self) -> String {
        format!("{}@{}", self.identity.name, self.settings.image)
    }

    /// `container <name>@<image> already started|stopped`.
    fn log_already(&self, ctx: &Ctx, state: &str) {
        ctx.info(&format!(
            "container {} already {state}",
            self.instance_label()
        ));
    }

    fn socket(&self) -> String {
        match &self.daemon {
            Some(d) => d.socket_str(),
            None => engine::DEFAULT_SOCKET.to_string(),
        }
    }

    /// `docker` or `docker -H unix://<private socket>`, for the logged command lines.
    fn cli<S: AsRef<str>>(&self, words: &[S]) -> String {
        let mut line = vec!["docker".to_string()];
        if let Some(d) = &self.daemon {
            line.extend(d.host_args());
        }
        line.extend(words.iter().map(|w| w.as_ref().to_string()));
        line.join(" ")
    }

    fn connect(&self) -> std::result::Result<Engine, EngineError> {
        block_on(Engine::connect(&self.socket()))
    }

    /// This resource's instance, looked up now (not from the status cache).
    fn instance(&self, engine: &Engine) -> Result<Option<ContainerSummary>> {
        let all = block_on(engine.list(true)).map_err(|e| engine_error("docker ps", e))?;
        Ok(self.identity.find(&all).cloned())
    }

    fn inspect(&self, engine: &Engine, id: &str) -> Result<Option<ContainerInspectResponse>> {
        block_on(engine.inspect(id)).map_err(|e| engine_error("docker inspect", e))
    }

    /// Pull the image when the policy or its absence asks for it.
    fn ensure_image(&self, ctx: &Ctx, engine: &Engine) -> Result<()> {
        let image = &self.settings.image;
        if self.settings.pull_policy == PullPolicy::Once {
            let present = block_on(engine.image_id(image))
                .map_err(|e| engine_error("docker image inspect", e))?;
            if present.is_some() {
                return Ok(());
            }
        }
        ctx.service_info(&format!("pulling docker image {image}"));
        let deadline = bound(ctx, DEFAULT_PULL_WAIT);
        block_on(engine::until(deadline, "docker pull", engine.pull(image)))
            .map_err(|e| Error::other(format!("image {image} not pullable: {e}")))
    }

    /// `container:<name>` for `netns = container#N`, asking that resource its name.
    fn network_mode(&self, ctx: &Ctx) -> Result<Option<String>> {
        let target = match &self.settings.netns {
            Some(Netns::Container(rid)) => Some(self.name_of(ctx, rid)?),
            _ => None,
        };
        Ok(self.settings.network_mode(target.as_deref()))
    }

    /// The docker name of another container resource of the service (or this one).
    fn name_of(&self, ctx: &Ctx, rid: &str) -> Result<String> {
        if rid == self.identity.rid {
            return Ok(self.identity.name.clone());
        }
        let answer = ctx
            .query(rid, "name", &json!({}))
            .map_err(|e| Error::config(format!("{rid}: {}", e.message())))?;
        answer["name"]
            .as_str()
            .map(String::from)
            .ok_or_else(|| Error::other(format!("{rid} did not answer its container name")))
    }

    /// Create and start a new instance; its id.
    fn run(&self, ctx: &Ctx, engine: &Engine) -> Result<String> {
        self.ensure_image(ctx, engine)?;
        let network_mode = self.network_mode(ctx)?;
        let body = self
            .settings
            .create_body(&self.identity, network_mode.as_deref())
            .map_err(Error::config)?;
        let line = self.cli(
            &self
                .settings
                .run_line(&self.identity.name, network_mode.as_deref()),
        );
        ctx.info(&line);
        let id = block_on(engine.create(&self.identity.name, body))
            .map_err(|e| engine_error(&line, e))?;
        block_on(engine.start(&id)).map_err(|e| engine_error(&line, e))?;
        Ok(id)
    }

    fn log_output(ctx: &Ctx, id: &str) {
        ctx.info("output:");
        ctx.info(id);
    }

    /// Poll until `done` says the instance reached the wanted state, or fail at `deadline`.
    fn wait_for(
        &self,
        engine: &Engine,
        id: &str,
        deadline: Instant,
        on_timeout: &str,
        mut done: impl FnMut(Option<&ContainerInspectResponse>) -> Result<bool>,
    ) -> Result<()> {
        loop {
            let current = self.inspect(engine, id)?;
            if done(current.as_ref())? {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::timeout(on_timeout.to_string()));
            }
            std::thread::sleep(POLL);
        }
    }

    fn wait_up(&self, ctx: &Ctx, engine: &Engine, id: &str) -> Result<()> {
        let deadline = bound(ctx, DEFAULT_START_WAIT);
        let went_down = |c: Option<&ContainerInspectResponse>| {
            let code = c
                .and_then(|c| c.state.as_ref())
                .and_then(|s| s.exit_code)
                .map(|n| format!(" (exit code {n})"))
                .unwrap_or_default();
            Error::other(format!("the container went down{code}"))
        };
        ctx.info("wait for up status");
        self.wait_for(
            engine,
            id,
            deadline,
            "waited too long for startup",
            |c| match c.and_then(state_of) {
                Some(ContainerStateStatusEnum::RUNNING) => Ok(true),
                Some(ContainerStateStatusEnum::EXITED | ContainerStateStatusEnum::DEAD) | None => {
                    Err(went_down(c))
                }
                _ => Ok(false),
            },
        )?;
        ctx.info("wait for container operational");
        let now = self.inspect(engine, id)?;
        match now.as_ref().and_then(state_of) {
            Some(ContainerStateStatusEnum::RUNNING) => Ok(()),
            _ => Err(went_down(now.as_ref())),
        }
    }

    /// `detach = false`: the container runs to completion within the start, then goes.
    fn run_attached(&self, ctx: &Ctx, engine: &Engine, id: &str) -> Result<()> {
        let deadline = bound(ctx, DEFAULT_START_WAIT);
        let mut exit_code = None;
        self.wait_for(
            engine,
            id,
            deadline,
            "waited too long for completion",
            |c| {
                let state = c.and_then(|c| c.state.as_ref());
                exit_code = state.and_then(|s| s.exit_code);
                Ok(!state.and_then(|s| s.running).unwrap_or(false))
            },
        )?;
        block_on(engine.remove(id)).map_err(|e| engine_error("docker rm", e))?;
        match exit_code {
            Some(0) | None => Ok(()),
            Some(n) => Err(Error::other(format!("the container exited with code {n}"))),
        }
    }

    /// Stop the instance (and remove it when asked). Leaves the private daemon alone.
    fn stop_instance(&self, ctx: &Ctx, engine: &Engine, remove: bool) -> Result<ActionReport> {
        let Some(found) = self.instance(engine)? else {
            self.log_already(ctx, "stopped");
            return Ok(ActionReport::unchanged());
        };
        let id = found.id.clone().unwrap_or_default();
        let mut report = ActionReport::unchanged();
        if engine::is_running(&found) {
            let line = self.cli(&["stop", &id]);
            ctx.info(&line);
            let deadline = bound(ctx, DEFAULT_STOP_GRACE + STOP_MARGIN);
            let grace = deadline
                .saturating_duration_since(Instant::now())
                .saturating_sub(STOP_MARGIN);
            block_on(engine::until(deadline, &line, engine.stop(&id, grace)))
                .map_err(|e| engine_error(&line, e))?;
            Self::log_output(ctx, &id);
            report = ActionReport::changed();
        } else {
            self.log_already(ctx, "stopped");
        }
        if remove {
            let line = self.cli(&["rm", &self.identity.name]);
            block_on(engine.remove(&id)).map_err(|e| engine_error(&line, e))?;
            ctx.info(&line);
            report = ActionReport::changed();
        }
        if report.changed {
            ctx.info("wait for down status");
            let deadline = bound(ctx, DEFAULT_STOP_GRACE);
            self.wait_for(engine, &id, deadline, "waited too long for shutdown", |c| {
                Ok(!c
                    .and_then(|c| c.state.as_ref())
                    .and_then(|s| s.running)
                    .unwrap_or(false))
            })?;
        }
        Ok(report)
    }

    /// Stop (removing when `remove`), then shut the private daemon down if now idle.
    fn stop_with(&self, ctx: &Ctx, remove: bool) -> Result<ActionReport> {
        let engine = match self.connect() {
            Ok(e) => e,
            // No engine, no running container: nothing to stop.
            Err(EngineError::Unreachable(_)) => {
                self.log_already(ctx, "stopped");
                return Ok(ActionReport::unchanged());
            }
            Err(e) => return Err(engine_error("docker", e)),
        };
        let report = self.stop_instance(ctx, &engine, remove)?;
        if let Some(d) = &self.daemon {
            d.stop_if_idle(ctx, bound(ctx, DEFAULT_DAEMON_WAIT))?;
        }
        Ok(report)
    }

    fn call_netns(&self) -> Result<Value> {
        let engine = self.connect().map_err(|e| engine_error("docker", e))?;
        let not_running =
            || Error::other(format!("container {} is not running", self.identity.name));
        let found = self.instance(&engine)?.ok_or_else(not_running)?;
        let inspected = self
            .inspect(&engine, found.id.as_deref().unwrap_or_default())?
            .ok_or_else(not_running)?;
        let pid = inspected
            .state
            .as_ref()
            .filter(|s| s.running == Some(true))
            .and_then(|s| s.pid)
            .filter(|&p| p > 0)
            .ok_or_else(not_running)?;
        let sandbox = inspected
            .network_settings
            .and_then(|n| n.sandbox_key)
            .unwrap_or_default();
        Ok(json!({
            "pid": pid,
            "netns": format!("/proc/{pid}/ns/net"),
            "sandbox_key": sandbox,
        }))
    }

    fn call_passthrough(&self, ctx: &Ctx, payload: &Value) -> Result<Value> {
        let args: Vec<String> = payload["args"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        // As OpenSVC did: the operator may need the private daemon to load or list images
        // before the service's first start.
        let host_args = match &self.daemon {
            Some(d) => {
                d.ensure_started(ctx, bound(ctx, DEFAULT_DAEMON_WAIT))?;
                d.host_args().to_vec()
            }
            None => Vec::new(),
        };
        let argv = passthrough::argv(&host_args, &args, |rid| self.name_of(ctx, rid))?;
        Ok(json!({ "argv": argv }))
    }
}

impl ResourceImpl for Container {
    fn label(&self) -> String {
        format!("docker container {}", self.instance_label())
    }

    fn status(&self, _ctx: &Ctx) -> Result<StatusReport> {
        if !self.settings.detach {
            return Ok(StatusReport::na());
        }
        let listed = block_on(async {
            let engine = Engine::connect(&self.socket()).await?;
            let all = engine.containers_cached().await?;
            let Some(c) = self.identity.find(&all).cloned() else {
                return Ok(None);
            };
            let expected = match engine::is_running(&c) {
                true => engine.image_id_cached(&self.settings.image).await?,
                false => None,
            };
            Ok(Some((c, expected)))
        });
        Ok(match listed {
            Err(EngineError::Unreachable(_)) => StatusReport::down("docker daemon is not running"),
            Err(e) => StatusReport::new(Status::Down).with_warn(e.to_string()),
            Ok(None) => StatusReport::down("can not find container id"),
            Ok(Some((c, _))) if !engine::is_running(&c) => StatusReport::new(Status::Down),
            Ok(Some((c, expected))) => {
                let current = c.image_id.unwrap_or_default();
                match expected {
                    Some(want) if want != current => StatusReport::up().with_warn(format!(
                        "the current container is based on image '{}' instead of '{}'",
                        short(&current),
                        short(&want)
                    )),
                    _ => StatusReport::up(),
                }
            }
        })
    }

    fn start(&self, ctx: &Ctx) -> Result<ActionReport> {
        if let Some(d) = &self.daemon {
            d.ensure_started(ctx, bound(ctx, DEFAULT_DAEMON_WAIT))?;
        }
        let engine = self.connect().map_err(|e| engine_error("docker", e))?;
        let found = self.instance(&engine)?;
        if found.as_ref().is_some_and(engine::is_running) {
            self.log_already(ctx, "started");
            return Ok(ActionReport::unchanged());
        }
        let id = match found.and_then(|c| c.id) {
            Some(id) if !self.settings.rm => {
                let line = self.cli(&["start", &id]);
                ctx.info(&line);
                block_on(engine.start(&id)).map_err(|e| engine_error(&line, e))?;
                id
            }
            stale => {
                if let Some(old) = stale {
                    let line = self.cli(&["rm", &self.identity.name]);
                    block_on(engine.remove(&old)).map_err(|e| engine_error(&line, e))?;
                    ctx.info(&line);
                }
                self.run(ctx, &engine)?
            }
        };
        Self::log_output(ctx, &id);
        // From here the container was started: a failure must still be rolled back.
        if self.settings.detach {
            self.wait_up(ctx, &engine, &id).map_err(Error::changed)?;
        } else {
            self.run_attached(ctx, &engine, &id)
                .map_err(Error::changed)?;
        }
        Ok(ActionReport::changed())
    }

    fn stop(&self, ctx: &Ctx) -> Result<ActionReport> {
        self.stop_with(ctx, self.settings.rm)
    }

    fn unprovision(&self, ctx: &Ctx) -> Result<ActionReport> {
        // The instance lives in the private daemon's data dir: removing it needs the daemon.
        if let Some(d) = &self.daemon {
            d.ensure_started(ctx, bound(ctx, DEFAULT_DAEMON_WAIT))?;
        }
        self.stop_with(ctx, true)
    }

    fn call(&self, verb: &str, payload: &Value, ctx: &Ctx) -> Result<Value> {
        match verb {
            "name" => Ok(json!({ "name": self.identity.name })),
            "netns" => self.call_netns(),
            "passthrough" => self.call_passthrough(ctx, payload),
            _ => Err(Error::unsupported(format!(
                "verb '{verb}' is not supported"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    //! On the real engine, with the test images (`tests/setup/docker.sh`).
    use std::process::Command;
    use svcmgr_plugin_api::serde_json::json;
    use svcmgr_plugin_api::testing;

    fn docker(args: &[&str]) -> String {
        let out = Command::new("docker").args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    struct Removed(String);

    impl Drop for Removed {
        fn drop(&mut self) {
            docker(&["rm", "-f", &self.0]);
        }
    }

    #[test]
    fn netns_answer_follows_the_running_instance() {
        let svcname = format!("dkunit{}", std::process::id());
        let c = testing::resource(crate::plugin, "container.docker", "container#1")
            .keyword("image", "svcmgr-test/busybox:1")
            .svcname(&svcname)
            .svc_id(&format!("id-{svcname}"))
            .build()
            .unwrap();
        let not_running = || c.call("netns", json!({})).unwrap_err().to_string();
        assert!(not_running().ends_with("is not running"));

        // Found by its label even under another name.
        let name = format!("{svcname}-renamed");
        let _guard = Removed(name.clone());
        let label = format!("com.opensvc.id=id-{svcname}.container#1");
        docker(&[
            "run",
            "-d",
            "--name",
            &name,
            "--label",
            &label,
            "svcmgr-test/busybox:1",
        ]);
        let pid = docker(&["inspect", "-f", "{{.State.Pid}}", &name]);
        let answer = c.call("netns", json!({})).unwrap();
        assert_eq!(answer["pid"].to_string(), pid);
        assert_eq!(answer["netns"], format!("/proc/{pid}/ns/net"));
        assert!(answer["sandbox_key"].as_str().unwrap().contains("netns"));

        docker(&["stop", "-t", "1", &name]);
        assert!(not_running().ends_with("is not running"));
    }
}
