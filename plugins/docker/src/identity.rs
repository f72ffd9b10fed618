//! Which engine container is a resource's instance: its docker name and labels, and the lookup
//! (by the service id label first, so a renamed container is still found, then by name).

use bollard::models::ContainerSummary;

/// `<DEFAULT.id>.<rid>`: identifies the instance across renames.
pub const LABEL_ID: &str = "com.opensvc.id";
pub const LABEL_RID: &str = "com.opensvc.rid";
/// The service name, so an operator (or a test) can find every container of a service.
pub const LABEL_SERVICE: &str = "com.opensvc.name";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    /// None when the service has no `DEFAULT.id`: a label made of the rid alone would match
    /// other services' containers.
    pub id_label: Option<String>,
    pub rid: String,
    pub svcname: String,
}

impl Identity {
    /// `name` overrides the derived `<svc>.<rid with # as .>`.
    pub fn new(svcname: &str, svc_id: &str, rid: &str, name: Option<&str>) -> Result<Self, String> {
        let name = match name {
            Some(n) => n.to_string(),
            None => derived_name(svcname, rid),
        };
        check_name(&name)?;
        Ok(Identity {
            name,
            id_label: (!svc_id.is_empty()).then(|| format!("{svc_id}.{rid}")),
            rid: rid.to_string(),
            svcname: svcname.to_string(),
        })
    }

    /// The labels every instance is created with.
    pub fn labels(&self) -> Vec<(String, String)> {
        let mut labels = vec![
            (LABEL_RID.to_string(), self.rid.clone()),
            (LABEL_SERVICE.to_string(), self.svcname.clone()),
        ];
        if let Some(id) = &self.id_label {
            labels.push((LABEL_ID.to_string(), id.clone()));
        }
        labels
    }

    /// This resource's instance among the engine's containers.
    pub fn find<'a>(&self, containers: &'a [ContainerSummary]) -> Option<&'a ContainerSummary> {
        let by_label = self.id_label.as_ref().and_then(|id| {
            containers.iter().find(|c| {
                c.labels
                    .as_ref()
                    .and_then(|l| l.get(LABEL_ID))
                    .is_some_and(|v| v == id)
            })
        });
        by_label.or_else(|| {
            let slashed = format!("/{}", self.name);
            containers.iter().find(|c| {
                c.names
                    .as_ref()
                    .is_some_and(|names| names.iter().any(|n| *n == slashed || *n == self.name))
            })
        })
    }
}

/// `svc2` + `container#3` → `svc2.container.3`.
pub fn derived_name(svcname: &str, rid: &str) -> String {
    format!("{svcname}.{}", rid.replace('#', "."))
}

/// The engine's rule for container names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if first_ok && rest_ok && name.len() > 1 {
        Ok(())
    } else {
        Err(format!(
            "'{name}' is not a valid docker container name ([a-zA-Z0-9][a-zA-Z0-9_.-]+)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn summary(id: &str, name: &str, labels: &[(&str, &str)]) -> ContainerSummary {
        ContainerSummary {
            id: Some(id.into()),
            names: Some(vec![format!("/{name}")]),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<HashMap<_, _>>(),
            ),
            ..Default::default()
        }
    }

    #[test]
    fn names() {
        assert_eq!(derived_name("svc2", "container#3"), "svc2.container.3");
        assert_eq!(
            derived_name("app.opensvc.com", "container#1"),
            "app.opensvc.com.container.1"
        );
        let id = Identity::new("svc", "abc", "container#1", Some("web")).unwrap();
        assert_eq!(id.name, "web");
        assert!(Identity::new("svc", "", "container#1", Some("bad name")).is_err());
        assert!(Identity::new("-svc", "", "container#1", None).is_err());
    }

    #[test]
    fn lookup_prefers_the_label_then_the_name() {
        let id = Identity::new("svc", "u-1", "container#1", None).unwrap();
        let renamed = summary("a", "other", &[(LABEL_ID, "u-1.container#1")]);
        let by_name = summary("b", "svc.container.1", &[]);
        let foreign = summary("c", "x", &[(LABEL_ID, "u-2.container#1")]);
        let all = [foreign.clone(), by_name.clone(), renamed.clone()];
        assert_eq!(id.find(&all).unwrap().id.as_deref(), Some("a"));
        assert_eq!(
            id.find(&[foreign.clone(), by_name]).unwrap().id.as_deref(),
            Some("b")
        );
        assert!(id.find(&[foreign]).is_none());
    }

    #[test]
    fn no_id_label_without_a_service_id() {
        let id = Identity::new("svc", "", "container#1", None).unwrap();
        assert_eq!(id.id_label, None);
        assert_eq!(id.labels().len(), 2);
        let other = summary("a", "x", &[(LABEL_ID, ".container#1")]);
        assert!(id.find(&[other]).is_none());
    }
}
