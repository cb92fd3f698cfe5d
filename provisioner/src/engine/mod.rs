//! The reconcile engine: desired specs with dependencies → find → compare →
//! create or update → wait, the same parts for every resource kind.
//!
//! # Adding a resource kind
//! 1. Implement [`Kind`] once per AWS resource type: its `name` (e.g.
//!    `"subnet"`), the kinds it `depends_on` (they are discovered before it
//!    and deleted after it), `discover` (list, in as few calls as possible,
//!    every resource of the kind that belongs to the environment, as
//!    [`Observed`] values whose `attrs` hold only the attributes this tool
//!    manages, tags as `tag:Key`) and `delete` (delete a batch, waiting where
//!    AWS needs it; already-gone is success).
//! 2. Implement [`Resource`] for the desired spec: `key` (kind + name),
//!    `depends_on` (keys of the resources it references), `desired` (the
//!    attributes it should have, resolving references through [`Refs`]),
//!    `create` (with the tags in TagSpecifications; return what was set),
//!    `update` (apply a list of [`Change`]s; refuse immutable ones with a clear
//!    error) and optionally `wait` (until ready) and `adopts` (match an
//!    observed resource that lost its Name tag).
//! 3. Register both in the stack builder (`crate::stack`).
//!
//! After `create` the engine diffs `desired` against the attributes `create`
//! reported and calls `update` for the rest, so follow-up configuration
//! (attachments, routes, rules, attributes) lives in one place: `update`.
//! A missing resource is `None`, never an error.

mod apply;
mod diff;
mod graph;
mod inventory;
mod plan;
mod resource;
mod teardown;

pub use apply::{apply, ApplyOptions};
pub use diff::{diff, Change};
pub use graph::{kind_levels, order_resources};
pub use inventory::{discover, Inventory, Refs, PENDING};
pub use plan::{plan, Action, Plan, PlannedChange};
pub use resource::{Attrs, Ctx, Key, Kind, Observed, Resource};
pub use teardown::delete_observed;
