//! `-p/--publish` values: `[ip:][host_port:]container_port[/proto]`, ports or ranges.

/// One published container port: `80/tcp` bound to an optional host address and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The engine's key, `<port>/<proto>`.
    pub container_port: String,
    pub host_ip: String,
    /// Empty: the engine picks a free port.
    pub host_port: String,
}

/// Parse one `--publish` value into its port bindings (a range gives one per port).
pub fn parse(spec: &str) -> Result<Vec<Published>, String> {
    let bad = |why: &str| format!("invalid port mapping '{spec}': {why}");
    let (addr_ports, proto) = match spec.rsplit_once('/') {
        Some((rest, p)) if matches!(p, "tcp" | "udp" | "sctp") => (rest, p),
        Some(_) => return Err(bad("protocol must be tcp, udp or sctp")),
        None => (spec, "tcp"),
    };
    // A bracketed IPv6 address may hold colons: take it off first.
    let (host_ip, rest) = match addr_ports.strip_prefix('[') {
        Some(v6) => {
            let (ip, rest) = v6.split_once("]:").ok_or_else(|| bad("unclosed '['"))?;
            (ip.to_string(), rest)
        }
        None => (String::new(), addr_ports),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (ip, host, container) = match (host_ip.is_empty(), parts.as_slice()) {
        (true, [c]) => (String::new(), "", *c),
        (true, [h, c]) => (String::new(), *h, *c),
        (true, [ip, h, c]) => (ip.to_string(), *h, *c),
        (false, [h, c]) => (host_ip, *h, *c),
        _ => return Err(bad("too many ':'")),
    };
    let container = range(container).map_err(|e| bad(&e))?;
    let host = match host {
        "" => None,
        h => Some(range(h).map_err(|e| bad(&e))?),
    };
    let span = container.1 - container.0;
    match host {
        // One container port may be published on any port of a host range: the engine picks.
        Some((lo, hi)) if span == 0 && hi > lo => Ok(vec![Published {
            container_port: format!("{}/{proto}", container.0),
            host_ip: ip,
            host_port: format!("{lo}-{hi}"),
        }]),
        Some((lo, hi)) if hi - lo != span => Err(bad("host and container ranges differ in size")),
        _ => Ok((0..=span)
            .map(|i| Published {
                container_port: format!("{}/{proto}", container.0 + i),
                host_ip: ip.clone(),
                host_port: host.map(|(lo, _)| (lo + i).to_string()).unwrap_or_default(),
            })
            .collect()),
    }
}

/// `80` or `8000-8010`.
fn range(text: &str) -> Result<(u16, u16), String> {
    let port = |p: &str| {
        p.parse::<u16>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("'{p}' is not a port number"))
    };
    match text.split_once('-') {
        Some((lo, hi)) => {
            let (lo, hi) = (port(lo)?, port(hi)?);
            if hi < lo {
                return Err(format!("range '{text}' ends before it starts"));
            }
            Ok((lo, hi))
        }
        None => port(text).map(|p| (p, p)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(c: &str, ip: &str, h: &str) -> Published {
        Published {
            container_port: c.into(),
            host_ip: ip.into(),
            host_port: h.into(),
        }
    }

    #[test]
    fn forms() {
        assert_eq!(parse("80").unwrap(), vec![one("80/tcp", "", "")]);
        assert_eq!(
            parse("8888:8000").unwrap(),
            vec![one("8000/tcp", "", "8888")]
        );
        assert_eq!(
            parse("127.0.0.1:42222:22").unwrap(),
            vec![one("22/tcp", "127.0.0.1", "42222")]
        );
        assert_eq!(
            parse("127.0.0.1::22/udp").unwrap(),
            vec![one("22/udp", "127.0.0.1", "")]
        );
        assert_eq!(
            parse("[::1]:8080:80").unwrap(),
            vec![one("80/tcp", "::1", "8080")]
        );
        assert_eq!(
            parse("8000-8001:9000-9001").unwrap(),
            vec![one("9000/tcp", "", "8000"), one("9001/tcp", "", "8001")]
        );
        assert_eq!(
            parse("8000-8010:80").unwrap(),
            vec![one("80/tcp", "", "8000-8010")]
        );
    }

    #[test]
    fn errors_quote_the_value() {
        for bad in [
            "",
            "x:80",
            "80/icmp",
            "1:2:3:4",
            "8000-8001:90-92",
            "0",
            "9-8",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains(&format!("'{bad}'")), "{bad}: {err}");
        }
    }
}
