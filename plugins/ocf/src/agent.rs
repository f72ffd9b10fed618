//! Finding an agent (`provider:type` under `<ocf_root>/resource.d/`) and running its
//! `meta-data` action, which happens at resource creation, outside any verb call.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// An agent named by the `agent` keyword.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub provider: String,
    pub kind: String,
    pub path: PathBuf,
}

impl Agent {
    /// `provider:type` under `ocf_root`; errors name the path looked in.
    pub fn locate(spec: &str, ocf_root: &str) -> Result<Agent, String> {
        let part_ok = |s: &str| !s.is_empty() && !s.contains('/') && s != "." && s != "..";
        let (provider, kind) = spec
            .split_once(':')
            .filter(|(p, t)| part_ok(p) && part_ok(t) && !t.contains(':'))
            .ok_or_else(|| format!("'{spec}' is not provider:type (e.g. heartbeat:IPaddr2)"))?;
        let path = PathBuf::from(ocf_root)
            .join("resource.d")
            .join(provider)
            .join(kind);
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => {}
            Ok(_) => {
                return Err(format!(
                    "{spec}: {} is not an executable file",
                    path.display()
                ))
            }
            Err(e) => return Err(format!("{spec} not found: {}: {e}", path.display())),
        }
        Ok(Agent {
            provider: provider.to_string(),
            kind: kind.to_string(),
            path,
        })
    }

    /// `heartbeat:IPaddr2`.
    pub fn name(&self) -> String {
        format!("{}:{}", self.provider, self.kind)
    }

    /// Run `<agent> meta-data` and return what it printed. Agents answer in milliseconds;
    /// one that hangs is killed (with what it started) after `limit`.
    pub fn meta_data_xml(&self, ocf_root: &str, limit: Duration) -> Result<String, String> {
        let fail = |what: String| format!("{} meta-data {what}", self.name());
        let mut child = Command::new(&self.path)
            .arg("meta-data")
            .env("OCF_ROOT", ocf_root)
            .env("OCF_RA_VERSION_MAJOR", "1")
            .env("OCF_RA_VERSION_MINOR", "1")
            .env("OCF_RESOURCE_TYPE", &self.kind)
            .env("OCF_RESOURCE_PROVIDER", &self.provider)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| fail(format!("could not run {}: {e}", self.path.display())))?;
        let mut stdout = child.stdout.take().expect("piped stdout");
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            stdout.read_to_string(&mut text).map(|_| text)
        });
        let deadline = Instant::now() + limit;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2))
                }
                Ok(None) => {
                    // SAFETY: plain kill(2) of the process group the child leads.
                    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
                    let _ = child.wait();
                    return Err(fail(format!(
                        "gave no answer within {}s: killed",
                        limit.as_secs()
                    )));
                }
                Err(e) => return Err(fail(e.to_string())),
            }
        };
        let text = reader
            .join()
            .map_err(|_| fail("output could not be read".into()))?
            .map_err(|e| fail(format!("output: {e}")))?;
        match status.success() {
            true => Ok(text),
            false => Err(fail(format!("failed: {status}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn root_with(agent: &str, script: &str, mode: u32) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("resource.d/test");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(agent);
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        root
    }

    #[test]
    fn locates_provider_and_type() {
        let root = root_with("a", "#!/bin/sh\n", 0o755);
        let r = root.path().to_str().unwrap();
        let a = Agent::locate("test:a", r).unwrap();
        assert_eq!(a.name(), "test:a");
        assert_eq!(a.path, root.path().join("resource.d/test/a"));
    }

    #[test]
    fn bad_names_and_missing_agents_are_named() {
        let root = root_with("a", "#!/bin/sh\n", 0o644);
        let r = root.path().to_str().unwrap();
        for bad in ["a", "test:", ":a", "test:a:b", "../x:a", "test:.."] {
            assert_eq!(
                Agent::locate(bad, r).unwrap_err(),
                format!("'{bad}' is not provider:type (e.g. heartbeat:IPaddr2)")
            );
        }
        let missing = Agent::locate("test:nope", r).unwrap_err();
        assert!(
            missing.starts_with(&format!(
                "test:nope not found: {}/resource.d/test/nope: ",
                r
            )),
            "{missing}"
        );
        assert_eq!(
            Agent::locate("test:a", r).unwrap_err(),
            format!("test:a: {r}/resource.d/test/a is not an executable file")
        );
    }

    #[test]
    fn meta_data_output_failure_and_hang() {
        let script = "#!/bin/sh\ncase $1 in meta-data) echo \"<resource-agent name='$OCF_RESOURCE_TYPE'/>\";; esac\n";
        let root = root_with("ok", script, 0o755);
        let r = root.path().to_str().unwrap();
        let a = Agent::locate("test:ok", r).unwrap();
        assert_eq!(
            a.meta_data_xml(r, Duration::from_secs(5)).unwrap(),
            "<resource-agent name='ok'/>\n"
        );

        let root = root_with("bad", "#!/bin/sh\nexit 3\n", 0o755);
        let r = root.path().to_str().unwrap();
        let a = Agent::locate("test:bad", r).unwrap();
        assert_eq!(
            a.meta_data_xml(r, Duration::from_secs(5)).unwrap_err(),
            "test:bad meta-data failed: exit status: 3"
        );

        // The sleep is in the agent's process group: killed with it, so the pipe closes.
        let root = root_with("hang", "#!/bin/sh\nsleep 30\n", 0o755);
        let r = root.path().to_str().unwrap();
        let a = Agent::locate("test:hang", r).unwrap();
        assert_eq!(
            a.meta_data_xml(r, Duration::from_secs(1)).unwrap_err(),
            "test:hang meta-data gave no answer within 1s: killed"
        );
    }
}
