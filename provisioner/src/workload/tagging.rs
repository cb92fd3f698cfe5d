//! Tags as engine attributes, shared by the workload kinds whatever tag type
//! each AWS SDK uses.

use crate::engine::{Attrs, Change};
use crate::tags::{attr_key, is_managed, Naming, ATTR_PREFIX, NAME};

/// The managed tags among `pairs`, as `tag:Key` attributes.
pub fn observed<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Attrs {
    pairs
        .into_iter()
        .filter(|(k, _)| is_managed(k))
        .map(|(k, v)| (attr_key(k), v.to_string()))
        .collect()
}

/// The four managed tags the resource `name` should carry.
pub fn desired(naming: &Naming, name: &str) -> Attrs {
    naming
        .tags(name)
        .into_iter()
        .map(|(k, v)| (attr_key(k), v))
        .collect()
}

/// Whether tags (as pairs) mark a resource as this environment's.
pub fn owns<'a>(naming: &Naming, pairs: &[(&'a str, &'a str)]) -> bool {
    naming.owns(|k| pairs.iter().find(|(key, _)| *key == k).map(|(_, v)| *v))
}

/// The Name tag among `pairs`.
pub fn name_of(pairs: &[(&str, &str)]) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| *k == NAME)
        .map(|(_, v)| v.to_string())
}

/// Tags to (re)set from a list of changes: managed tags missing or wrong.
pub fn to_set(changes: &[Change]) -> Vec<(String, String)> {
    changes
        .iter()
        .filter_map(|c| {
            let key = c.attr.strip_prefix(ATTR_PREFIX)?;
            Some((key.to_string(), c.new.clone()?))
        })
        .collect()
}

/// The changes that are not tags.
pub fn non_tag(changes: &[Change]) -> impl Iterator<Item = &Change> {
    changes.iter().filter(|c| !c.attr.starts_with(ATTR_PREFIX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_managed_tags_and_finds_what_to_reset() {
        let naming = Naming::new("spaaace", "dev");
        let pairs = [("Project", "spaaace"), ("Owner", "ops"), ("Name", "x")];
        let seen = observed(pairs);
        assert_eq!(seen.len(), 2);
        assert!(
            !owns(&naming, &pairs),
            "ManagedBy and Environment are missing"
        );
        let changes = crate::engine::diff(&desired(&naming, "x"), &seen);
        let mut set = to_set(&changes);
        set.sort();
        assert_eq!(set[0].0, "Environment");
        assert_eq!(
            set[1],
            ("ManagedBy".to_string(), crate::tags::MANAGED_BY.to_string())
        );
    }
}
