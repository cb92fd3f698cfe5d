//! Comparing desired with observed attributes.

use crate::engine::Attrs;
use serde::Serialize;
use std::fmt;

/// One drifted attribute: `old` is what exists, `new` what is wanted
/// (`None` = absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub attr: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".into());
        write!(
            f,
            "{}: {} → {}",
            self.attr,
            show(&self.old),
            show(&self.new)
        )
    }
}

/// Attributes that differ. Observed attributes the spec does not mention
/// are drift too (kinds only report attributes they manage, such as extra
/// routes or security-group rules).
pub fn diff(desired: &Attrs, observed: &Attrs) -> Vec<Change> {
    let mut changes = Vec::new();
    for (attr, want) in desired {
        if observed.get(attr) != Some(want) {
            changes.push(Change {
                attr: attr.clone(),
                old: observed.get(attr).cloned(),
                new: Some(want.clone()),
            });
        }
    }
    for (attr, have) in observed {
        if !desired.contains_key(attr) {
            changes.push(Change {
                attr: attr.clone(),
                old: Some(have.clone()),
                new: None,
            });
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> Attrs {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reports_changed_missing_and_extra_attributes() {
        let want = attrs(&[
            ("cidr", "10.0.1.0/24"),
            ("tag:Name", "a"),
            ("route x", "igw-1"),
        ]);
        let have = attrs(&[
            ("cidr", "10.0.1.0/24"),
            ("tag:Name", "b"),
            ("rule y", "allow"),
        ]);
        let mut changes = diff(&want, &have);
        changes.sort_by(|a, b| a.attr.cmp(&b.attr));
        assert_eq!(changes.len(), 3);
        assert_eq!(changes[0].to_string(), "route x: (absent) → igw-1");
        assert_eq!(changes[1].to_string(), "rule y: allow → (absent)");
        assert_eq!(changes[2].to_string(), "tag:Name: b → a");
    }

    #[test]
    fn equal_attributes_make_no_change() {
        let same = attrs(&[("cidr", "10.0.0.0/16")]);
        assert!(diff(&same, &same).is_empty());
    }
}
