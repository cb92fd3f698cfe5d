//! The desired stack of an environment: every kind the tool knows and every
//! resource the profile asks for. Part 2's layers register here too.

use crate::engine::{Ctx, Kind, Observed, Resource};
use crate::network;
use crate::profile::Profile;
use crate::Error;
use std::collections::HashMap;
use std::sync::Arc;

pub struct Stack {
    pub kinds: Vec<Arc<dyn Kind>>,
    pub resources: Vec<Arc<dyn Resource>>,
}

impl Stack {
    pub async fn build(ctx: &Ctx, profile: &Profile) -> Result<Self, Error> {
        let zones = network::zones(ctx, profile).await?;
        Ok(Stack {
            kinds: network::kinds(),
            resources: network::resources(&ctx.naming, profile, &zones),
        })
    }

    /// The stack's outputs (ids a person or another tool needs), from the
    /// desired resources that exist.
    pub fn outputs(
        &self,
        ctx: &Ctx,
        profile: &Profile,
        existing: &HashMap<crate::engine::Key, Observed>,
    ) -> serde_json::Map<String, serde_json::Value> {
        network::outputs(&ctx.naming, profile, existing)
    }
}
