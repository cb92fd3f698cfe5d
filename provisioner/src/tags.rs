//! Names and ownership tags. Every managed resource is named
//! `{project}-{env}-{suffix}` and carries the tags Project, Environment,
//! ManagedBy and Name from its creation on.

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

    /// True when a resource's tags mark it as owned by this environment.
    pub fn owns<'a>(&self, mut tag: impl FnMut(&str) -> Option<&'a str>) -> bool {
        tag(MANAGED_BY_KEY) == Some(MANAGED_BY)
            && tag(ENVIRONMENT) == Some(self.environment.as_str())
            && tag(PROJECT) == Some(self.project.as_str())
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
