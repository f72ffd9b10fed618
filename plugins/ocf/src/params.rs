//! The `params` keyword: `key=value` words passed to the agent as `OCF_RESKEY_<key>`, checked
//! against the agent's meta-data.

use crate::meta::AgentMeta;

/// Split `key=value` words. Keys become environment variable names, so they are shell
/// identifiers; a key given twice is an error rather than a silent override.
pub fn parse(words: &[String]) -> Result<Vec<(String, String)>, String> {
    let mut pairs: Vec<(String, String)> = Vec::with_capacity(words.len());
    for word in words {
        let (key, value) = word
            .split_once('=')
            .ok_or_else(|| format!("'{word}' is not key=value"))?;
        let identifier = key.chars().next().is_some_and(|c| !c.is_ascii_digit())
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !identifier {
            return Err(format!("'{key}' is not a parameter name"));
        }
        if pairs.iter().any(|(k, _)| k == key) {
            return Err(format!("'{key}' is given twice"));
        }
        pairs.push((key.to_string(), value.to_string()));
    }
    Ok(pairs)
}

/// Every given parameter is one of the agent's, and every required one is given.
pub fn check(agent: &str, meta: &AgentMeta, pairs: &[(String, String)]) -> Result<(), String> {
    let list = || meta.param_list();
    if let Some((key, _)) = pairs.iter().find(|(k, _)| meta.param(k).is_none()) {
        return Err(format!(
            "{agent} has no parameter '{key}' (its parameters: {})",
            list()
        ));
    }
    let missing: Vec<&str> = meta
        .params
        .iter()
        .filter(|p| p.required && !pairs.iter().any(|(k, _)| *k == p.name))
        .map(|p| p.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{agent} requires {} (its parameters: {})",
            missing.join(", "),
            list()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::Param;

    fn meta() -> AgentMeta {
        let param = |name: &str, required| Param {
            name: name.into(),
            required,
            unique: false,
            kind: "string".into(),
            default: None,
            shortdesc: String::new(),
            longdesc: String::new(),
        };
        AgentMeta {
            name: "IPaddr2".into(),
            shortdesc: String::new(),
            longdesc: String::new(),
            params: vec![param("ip", true), param("nic", false)],
            timeouts: Default::default(),
        }
    }

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn pairs_keep_everything_after_the_first_equal_sign() {
        assert_eq!(
            parse(&words(&["ip=198.18.0.1", "options=a=b c"])).unwrap(),
            [
                ("ip".to_string(), "198.18.0.1".to_string()),
                ("options".to_string(), "a=b c".to_string())
            ]
        );
        assert_eq!(parse(&words(&["flag="])).unwrap()[0].1, "");
    }

    #[test]
    fn malformed_words_are_named() {
        assert_eq!(parse(&words(&["ip"])).unwrap_err(), "'ip' is not key=value");
        assert_eq!(
            parse(&words(&["my-ip=1"])).unwrap_err(),
            "'my-ip' is not a parameter name"
        );
        assert_eq!(
            parse(&words(&["=1"])).unwrap_err(),
            "'' is not a parameter name"
        );
        assert_eq!(
            parse(&words(&["ip=1", "ip=2"])).unwrap_err(),
            "'ip' is given twice"
        );
    }

    #[test]
    fn checked_against_the_meta_data() {
        let m = meta();
        let ok = parse(&words(&["ip=198.18.0.1"])).unwrap();
        assert_eq!(check("heartbeat:IPaddr2", &m, &ok), Ok(()));
        let unknown = parse(&words(&["ip=1", "mask=24"])).unwrap();
        assert_eq!(
            check("heartbeat:IPaddr2", &m, &unknown).unwrap_err(),
            "heartbeat:IPaddr2 has no parameter 'mask' (its parameters: ip (required), nic)"
        );
        let missing = parse(&words(&["nic=br0"])).unwrap();
        assert_eq!(
            check("heartbeat:IPaddr2", &m, &missing).unwrap_err(),
            "heartbeat:IPaddr2 requires ip (its parameters: ip (required), nic)"
        );
    }
}
