//! The reconcile engine: desired specs with dependencies → find → compare →
//! create or update → read back, the same parts for every resource kind.
//!
//! # Adding a resource kind
//! 1. Implement [`Kind`] once per AWS resource type: its `name` (e.g.
//!    `"subnet"`), the kinds it `depends_on` (they are discovered before it
//!    and deleted after it), `discover` (list, in as few calls as possible,
//!    every resource of the kind that belongs to the environment, as
//!    [`Observed`] values whose `attrs` hold only the attributes this tool
//!    manages, tags as `tag:Key`) and `delete` (delete a batch, waiting where
//!    AWS needs it; already gone is success).
//! 2. Implement [`Resource`] for the desired spec: `key` (kind + name),
//!    `depends_on` (keys of the resources it references), `desired` (the
//!    attributes it should have, resolving references through [`Refs`]),
//!    `create` (one call, with the tags at creation; returns the id), `read`
//!    (the resource by id as an [`Observed`], `None` while AWS does not know
//!    it), `update` (apply a list of [`Change`]s; refuse immutable ones with
//!    a clear error) and optionally `adopts` (match an observed resource that
//!    lost its Name tag).
//! 3. Register both in the stack builder (`crate::stack`).
//!
//! The AWS calls themselves (tags, finding by name or id, deleting) live in
//! the service modules under `crate::aws`; retries in `crate::retry`.
//!
//! After `create` the engine reads the resource back, waits until its
//! [`State`] is ready, diffs `desired` against what AWS reports and calls
//! `update` for the rest, so follow-up configuration (attachments, routes,
//! rules, attributes) lives in one place: `update`. Then it reads back until
//! AWS shows the change. A missing resource is `None`, never an error.

mod apply;
mod diff;
mod graph;
mod inventory;
mod plan;
mod reconcile;
mod resource;
mod teardown;

pub use apply::{apply, ApplyOptions};
pub use diff::{diff, Change};
pub use graph::{kind_levels, order_resources};
pub use inventory::{discover, Inventory, Refs, PENDING};
pub use plan::{plan, Action, Plan, PlannedChange};
pub use reconcile::reconcile;
pub use resource::{Attrs, Ctx, Key, Kind, Observed, Resource, State};
pub use teardown::{delete_observed, run_bounded};
