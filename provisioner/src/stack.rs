//! The desired stack of an environment: every kind the tool knows and every
//! resource the profile asks for: the network and, when the profile has its
//! sections, the workload.

use crate::engine::{Ctx, Kind, Observed, Resource};
use crate::network;
use crate::profile::Profile;
use crate::tags::Naming;
use crate::workload::{self, task_definition::TaskDefinition, NetworkKeys};
use crate::workload_profile::WorkloadProfile;
use crate::Error;
use std::collections::HashMap;
use std::sync::Arc;

pub struct Stack {
    pub kinds: Vec<Arc<dyn Kind>>,
    pub resources: Vec<Arc<dyn Resource>>,
    /// The workload, when the profile describes one (a network-only
    /// profile has none of its sections).
    pub workload: Option<WorkloadProfile>,
    /// The gameserver's task definition, for `deploy`.
    pub task: Option<Arc<TaskDefinition>>,
}

impl Stack {
    pub async fn build(ctx: &Ctx, profile: &Profile) -> Result<Self, Error> {
        Self::build_with_image(ctx, profile, None).await
    }

    /// The stack with the gameserver image `image` instead of the profile's.
    pub async fn build_with_image(
        ctx: &Ctx,
        profile: &Profile,
        image: Option<&str>,
    ) -> Result<Self, Error> {
        let zones = network::zones(ctx, profile).await?;
        let mut stack = Stack {
            kinds: network::kinds(),
            resources: network::resources(&ctx.naming, profile, &zones),
            workload: WorkloadProfile::optional(profile)?,
            task: None,
        };
        if let Some(w) = &stack.workload {
            let keys = network_keys(&ctx.naming, zones.len());
            let desired = workload::resources(ctx, profile, w, &keys, image).await?;
            stack.kinds.extend(workload::kinds(w));
            stack.resources.extend(desired.resources);
            stack.task = Some(desired.task);
        }
        Ok(stack)
    }

    /// The stack's outputs (ids a person or another tool needs), from the
    /// desired resources that exist.
    pub fn outputs(
        &self,
        ctx: &Ctx,
        profile: &Profile,
        existing: &HashMap<crate::engine::Key, Observed>,
    ) -> serde_json::Map<String, serde_json::Value> {
        let mut out = network::outputs(&ctx.naming, profile, existing);
        if self.workload.is_some() {
            out.extend(workload::outputs(ctx, existing));
        }
        out
    }
}

/// The network resources the workload references.
pub fn network_keys(n: &Naming, zones: usize) -> NetworkKeys {
    NetworkKeys {
        vpc: network::vpc_key(n),
        public_subnets: (0..zones)
            .map(|i| network::subnet_key(n, true, i))
            .collect(),
        private_subnets: (0..zones)
            .map(|i| network::subnet_key(n, false, i))
            .collect(),
        private_route_tables: (0..zones)
            .map(|i| network::private_route_table_key(n, i))
            .collect(),
        alb_security_group: network::security_group_key(n, network::Group::Alb),
        ecs_security_group: network::security_group_key(n, network::Group::Ecs),
        redis_security_group: network::security_group_key(n, network::Group::Redis),
    }
}
