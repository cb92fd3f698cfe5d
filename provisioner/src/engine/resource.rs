//! The two traits every resource kind implements and the values they pass.

use crate::aws::AwsContext;
use crate::engine::{Change, Inventory, Refs};
use crate::tags::Naming;
use crate::wait::WaitPolicy;
use crate::Error;
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// Managed attributes by name, as comparable strings (`tag:Key` for tags).
pub type Attrs = BTreeMap<String, String>;

/// What every kind and resource gets: clients, naming and wait policy.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub aws: Arc<AwsContext>,
    pub naming: Naming,
    pub wait: WaitPolicy,
    /// Upper bound on concurrent AWS operations within one step.
    pub concurrency: usize,
}

#[cfg(test)]
impl Ctx {
    /// A context for tests that never reach AWS (its endpoint is a closed
    /// loopback port).
    pub(crate) async fn offline(wait: WaitPolicy, concurrency: usize) -> Ctx {
        let options = crate::aws::AwsOptions {
            region: Some("us-east-1".into()),
            endpoint_url: Some("http://127.0.0.1:9".into()),
            ..Default::default()
        };
        Ctx {
            aws: Arc::new(AwsContext::load(&options).await),
            naming: Naming::new("spaaace", "test"),
            wait,
            concurrency,
        }
    }
}

/// Identity of a desired resource: its kind and deterministic name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub kind: &'static str,
    pub name: String,
}

impl Key {
    pub fn new(kind: &'static str, name: impl Into<String>) -> Self {
        Self {
            kind,
            name: name.into(),
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.name)
    }
}

/// One resource as it exists in AWS.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Observed {
    pub kind: &'static str,
    /// Physical id (vpc-..., subnet-..., an ARN, ...).
    pub id: String,
    /// Its Name tag (or name), when it has one.
    pub name: Option<String>,
    /// Managed attributes, compared with the desired ones.
    pub attrs: Attrs,
    /// Facts needed to act on it that are not compared (association ids...).
    #[serde(skip)]
    pub details: Attrs,
    /// Whether AWS has finished bringing it up.
    pub state: State,
    /// Carries this environment's ownership tags, so it may be deleted when
    /// no longer wanted.
    pub owned: bool,
}

impl Observed {
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }

    pub fn is_ready(&self) -> bool {
        self.state == State::Ready
    }
}

/// Where AWS is in bringing a resource up, read off its status.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase", tag = "state", content = "detail")]
pub enum State {
    Ready,
    /// Still on its way (pending, creating, modifying...), with AWS's word.
    Pending(String),
    /// AWS gave up on it (a failed NAT gateway or load balancer, a
    /// replication group that failed to create), with the reason.
    Failed(String),
}

impl State {
    /// Ready when `ready`, else pending with the status AWS gave.
    pub fn from_status(ready: bool, status: impl Into<String>) -> State {
        if ready {
            State::Ready
        } else {
            State::Pending(status.into())
        }
    }
}

/// A type of AWS resource: how to list the environment's ones and delete
/// them.
#[async_trait]
pub trait Kind: Send + Sync {
    fn name(&self) -> &'static str;

    /// Kinds this one depends on: discovered before it, deleted after it.
    fn depends_on(&self) -> &'static [&'static str];

    /// Every resource of this kind belonging to the environment, in as few
    /// calls as possible. `found` holds the kinds it depends on.
    async fn discover(&self, ctx: &Ctx, found: &Inventory) -> Result<Vec<Observed>, Error>;

    /// Deletes these resources (all of this kind), waiting until AWS lets
    /// the kinds they depend on go. Already gone is success.
    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error>;
}

/// A desired resource: what should exist and how to get it there.
///
/// The engine ends every create and update with a `read` (as
/// terraform-provider-aws ends Create with Read): what a resource is, is
/// what AWS says, never what a create assumed.
#[async_trait]
pub trait Resource: Send + Sync {
    fn key(&self) -> Key;

    /// Resources this one references; they are applied first.
    fn depends_on(&self) -> Vec<Key>;

    /// The managed attributes it should have. References to resources not
    /// created yet resolve to [`crate::engine::PENDING`].
    fn desired(&self, refs: &Refs) -> Attrs;

    /// Creates it, tagged at creation, with one mutating call (so the engine
    /// may repeat it while a dependency is not yet visible to AWS); returns
    /// its id. Everything else it needs is applied by `update`.
    async fn create(&self, ctx: &Ctx, refs: &Refs) -> Result<String, Error>;

    /// It as AWS reports it now, or `None` while AWS does not know it (yet).
    async fn read(&self, ctx: &Ctx, id: &str) -> Result<Option<Observed>, Error>;

    /// Brings `current` to the desired state by applying `changes`.
    async fn update(
        &self,
        ctx: &Ctx,
        current: &Observed,
        changes: &[Change],
        refs: &Refs,
    ) -> Result<(), Error>;

    /// Whether an observed resource without a matching Name is this one
    /// (for example a subnet by its CIDR), so drift on the Name tag is
    /// repaired instead of creating a duplicate.
    fn adopts(&self, _observed: &Observed) -> bool {
        false
    }
}
