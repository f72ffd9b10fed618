//! `svcmgr -s NAME docker <args…>`: the docker command line the host runs for the operator.

/// `docker [-H unix://<private socket>] <args…>`, each `{container#N}` in an argument replaced
/// by that container's docker name (`resolve` maps a rid to it).
pub fn argv<E>(
    host_args: &[String],
    args: &[String],
    mut resolve: impl FnMut(&str) -> Result<String, E>,
) -> Result<Vec<String>, E> {
    let mut argv = vec!["docker".to_string()];
    argv.extend(host_args.iter().cloned());
    for arg in args {
        argv.push(substitute(arg, &mut resolve)?);
    }
    Ok(argv)
}

fn substitute<E>(
    arg: &str,
    resolve: &mut impl FnMut(&str) -> Result<String, E>,
) -> Result<String, E> {
    const OPEN: &str = "{container#";
    let mut out = String::new();
    let mut rest = arg;
    while let Some(at) = rest.find(OPEN) {
        let Some(len) = rest[at..].find('}') else {
            break;
        };
        out.push_str(&rest[..at]);
        out.push_str(&resolve(&rest[at + 1..at + len])?);
        rest = &rest[at + len + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(rid: &str) -> Result<String, String> {
        match rid {
            "container#1" => Ok("svc.container.1".into()),
            other => Err(format!("no {other}")),
        }
    }

    fn v(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn shared_and_private_daemons() {
        assert_eq!(argv(&[], &v("ps -a"), names), Ok(v("docker ps -a")));
        assert_eq!(
            argv(&v("-H unix:///var/x/docker.sock"), &v("images"), names),
            Ok(v("docker -H unix:///var/x/docker.sock images"))
        );
    }

    #[test]
    fn container_references() {
        assert_eq!(
            argv(&[], &v("exec {container#1} ls"), names),
            Ok(v("docker exec svc.container.1 ls"))
        );
        assert_eq!(
            argv(&[], &v("--filter=name={container#1}x {container#"), names),
            Ok(v("docker --filter=name=svc.container.1x {container#"))
        );
        assert_eq!(
            argv(&[], &v("logs {container#9}"), names),
            Err("no container#9".into())
        );
    }
}
