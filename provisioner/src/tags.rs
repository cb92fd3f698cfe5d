//! Names and ownership tags. Every managed resource is named
//! `{project}-{env}-{suffix}` and carries the tags Project, Environment,
//! ManagedBy and Name from its creation on. Each AWS service has its own tag
//! type; its module in `crate::aws` turns them into [`Tags`].

use crate::engine::{Attrs, Change};

/// Value of the ManagedBy tag: marks what this tool may delete.
pub const MANAGED_BY: &str = "spaaace-provisioner";

pub const PROJECT: &str = "Project";
pub const ENVIRONMENT: &str = "Environment";
pub const MANAGED_BY_KEY: &str = "ManagedBy";
pub const NAME: &str = "Name";

/// Prefix of tag attributes in [`crate::engine::Attrs`].
pub const ATTR_PREFIX: &str = "tag:";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naming {
    pub project: String,
    pub environment: String,
}

impl Naming {
    pub fn new(project: &str, environment: &str) -> Self {
        Self {
            project: project.to_string(),
            environment: environment.to_string(),
        }
    }

    pub fn name(&self, suffix: &str) -> String {
        format!("{}-{}-{}", self.project, self.environment, suffix)
    }

    /// The four managed tags of the resource called `name`.
    pub fn tags(&self, name: &str) -> Vec<(&'static str, String)> {
        vec![
            (PROJECT, self.project.clone()),
            (ENVIRONMENT, self.environment.clone()),
            (MANAGED_BY_KEY, MANAGED_BY.to_string()),
            (NAME, name.to_string()),
        ]
    }

    /// The managed tags `name` should carry, as attributes.
    pub fn desired_tags(&self, name: &str) -> Attrs {
        self.tags(name)
            .into_iter()
            .map(|(k, v)| (attr_key(k), v))
            .collect()
    }
}

/// The tags of one resource as AWS reports them, whatever the service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags(Vec<(String, String)>);

impl Tags {
    pub fn new<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        Tags(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The Name tag.
    pub fn name(&self) -> Option<String> {
        self.get(NAME).map(str::to_string)
    }

    /// Whether they mark a resource as owned by this environment.
    pub fn owned_by(&self, naming: &Naming) -> bool {
        self.get(MANAGED_BY_KEY) == Some(MANAGED_BY)
            && self.get(ENVIRONMENT) == Some(naming.environment.as_str())
            && self.get(PROJECT) == Some(naming.project.as_str())
    }

    /// The managed tags as `tag:Key` attributes (other tags are left alone).
    pub fn attrs(&self) -> Attrs {
        self.0
            .iter()
            .filter(|(k, _)| is_managed(k))
            .map(|(k, v)| (attr_key(k), v.clone()))
            .collect()
    }
}

/// The attribute key of a tag.
pub fn attr_key(tag: &str) -> String {
    format!("{ATTR_PREFIX}{tag}")
}

/// True for the tags this tool manages (other tags are left alone).
pub fn is_managed(tag: &str) -> bool {
    [PROJECT, ENVIRONMENT, MANAGED_BY_KEY, NAME].contains(&tag)
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

/// Tags to remove from a list of changes.
pub fn to_unset(changes: &[Change]) -> Vec<String> {
    changes
        .iter()
        .filter(|c| c.new.is_none())
        .filter_map(|c| c.attr.strip_prefix(ATTR_PREFIX).map(str::to_string))
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
        let tags = Tags::new([("Project", "spaaace"), ("Owner", "ops"), ("Name", "x")]);
        let seen = tags.attrs();
        assert_eq!(seen.len(), 2);
        assert!(
            !tags.owned_by(&naming),
            "ManagedBy and Environment are missing"
        );
        let changes = crate::engine::diff(&naming.desired_tags("x"), &seen);
        let mut set = to_set(&changes);
        set.sort();
        assert_eq!(set[0].0, "Environment");
        assert_eq!(set[1], ("ManagedBy".to_string(), MANAGED_BY.to_string()));
    }
}
