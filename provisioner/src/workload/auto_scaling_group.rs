//! The Auto Scaling Group of ECS hosts over the private subnets. New hosts
//! are protected from scale-in so the capacity provider decides which host
//! may go (only empty ones); `down` lifts that protection first.

use super::{ecs_cluster, launch_template, NetworkKeys};
use crate::aws::autoscaling;
use crate::engine::{Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource, State};
use crate::retry::{self, Presence};
use crate::tags::{self, Naming};
use crate::Error;
use async_trait::async_trait;
use aws_sdk_autoscaling::types::{AutoScalingGroup as AwsGroup, LaunchTemplateSpecification};

pub const KIND: &str = "auto-scaling-group";
/// The group follows the template's default version, so a new version
/// applies to every host launched after it.
const TEMPLATE_VERSION: &str = "$Default";

pub fn name(naming: &Naming) -> String {
    naming.name("ecs-hosts")
}

pub fn key(naming: &Naming) -> Key {
    Key::new(KIND, name(naming))
}

/// One host of the group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub instance_id: String,
    pub zone: String,
    pub protected: bool,
}

/// The hosts recorded in an observed group's details.
pub fn hosts(o: &Observed) -> Vec<Host> {
    o.details
        .get("hosts")
        .map(|s| {
            s.split(',')
                .filter_map(|h| {
                    let mut parts = h.split('/');
                    Some(Host {
                        instance_id: parts.next()?.to_string(),
                        zone: parts.next()?.to_string(),
                        protected: parts.next()? == "protected",
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

fn observe(g: &AwsGroup, ctx: &Ctx) -> Observed {
    let tags = autoscaling::tags(g.tags());
    let mut attrs = tags.attrs();
    attrs.insert(
        "min_size".into(),
        g.min_size().unwrap_or_default().to_string(),
    );
    attrs.insert(
        "max_size".into(),
        g.max_size().unwrap_or_default().to_string(),
    );
    let mut subnets: Vec<&str> = g
        .vpc_zone_identifier()
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .collect();
    subnets.sort_unstable();
    attrs.insert("subnets".into(), subnets.join(","));
    let lt = g.launch_template();
    attrs.insert(
        "launch_template".into(),
        format!(
            "{}@{}",
            lt.and_then(|l| l.launch_template_id()).unwrap_or_default(),
            lt.and_then(|l| l.version()).unwrap_or_default()
        ),
    );
    attrs.insert(
        "protect_new_hosts".into(),
        g.new_instances_protected_from_scale_in()
            .unwrap_or(false)
            .to_string(),
    );
    let hosts: Vec<String> = g
        .instances()
        .iter()
        .map(|i| {
            format!(
                "{}/{}/{}",
                i.instance_id().unwrap_or_default(),
                i.availability_zone().unwrap_or_default(),
                if i.protected_from_scale_in().unwrap_or(false) {
                    "protected"
                } else {
                    "unprotected"
                }
            )
        })
        .collect();
    let mut details = Attrs::new();
    details.insert("hosts".into(), hosts.join(","));
    details.insert(
        "desired_capacity".into(),
        g.desired_capacity().unwrap_or_default().to_string(),
    );
    details.insert("zones".into(), g.availability_zones().join(","));
    Observed {
        kind: KIND,
        id: g.auto_scaling_group_arn().unwrap_or_default().to_string(),
        name: Some(g.auto_scaling_group_name().unwrap_or_default().to_string()),
        attrs,
        details,
        // A group being deleted says so in its status; otherwise it has none.
        state: match g.status() {
            None => State::Ready,
            Some(status) => State::Failed(status.to_string()),
        },
        owned: tags.owned_by(&ctx.naming),
    }
}

pub struct AutoScalingGroupKind;

#[async_trait]
impl Kind for AutoScalingGroupKind {
    fn name(&self) -> &'static str {
        KIND
    }

    // The cluster is deleted after the group: it refuses while hosts remain.
    fn depends_on(&self) -> &'static [&'static str] {
        &[
            launch_template::KIND,
            super::SUBNET_KIND,
            super::ROUTE_TABLE_KIND,
            ecs_cluster::KIND,
        ]
    }

    async fn discover(&self, ctx: &Ctx, _found: &Inventory) -> Result<Vec<Observed>, Error> {
        let group = autoscaling::find_group(ctx, &name(&ctx.naming)).await?;
        Ok(group.iter().map(|g| observe(g, ctx)).collect())
    }

    /// The trap: protected hosts block scale-in, so lift the protection,
    /// then force-delete the group (terminating its hosts) and wait.
    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        for o in items {
            let group = o.display_name();
            let protected: Vec<String> = hosts(o)
                .into_iter()
                .filter(|h| h.protected)
                .map(|h| h.instance_id)
                .collect();
            if !protected.is_empty() {
                retry::delete(ctx, KIND, group, || {
                    ctx.aws
                        .autoscaling
                        .set_instance_protection()
                        .auto_scaling_group_name(group)
                        .set_instance_ids(Some(protected.clone()))
                        .protected_from_scale_in(false)
                        .send()
                })
                .await?;
            }
            let delete = || async {
                ctx.aws
                    .autoscaling
                    .delete_auto_scaling_group()
                    .auto_scaling_group_name(group)
                    .force_delete(true)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| Error::aws("deleting", KIND, group, e))
            };
            let probe = || async {
                Ok(match autoscaling::find_group(ctx, group).await? {
                    None => Presence::Gone,
                    Some(g) => {
                        let state = format!("{} hosts", g.instances().len());
                        match g.status() {
                            Some(status) => Presence::Going(format!("{status}, {state}")),
                            None => Presence::Present(state),
                        }
                    }
                })
            };
            retry::delete_until_gone(ctx, KIND, group, delete, probe).await?;
        }
        Ok(())
    }
}

pub struct AutoScalingGroup {
    pub naming: Naming,
    pub network: NetworkKeys,
    pub min_size: i32,
    pub max_size: i32,
    pub desired_capacity: i32,
}

impl AutoScalingGroup {
    fn subnets(&self, refs: &Refs) -> Result<String, Error> {
        let ids: Result<Vec<&str>, Error> = self
            .network
            .private_subnets
            .iter()
            .map(|k| refs.require(k))
            .collect();
        Ok(ids?.join(","))
    }

    fn template(&self, refs: &Refs) -> Result<LaunchTemplateSpecification, Error> {
        Ok(LaunchTemplateSpecification::builder()
            .launch_template_id(refs.require(&launch_template::key(&self.naming))?)
            .version(TEMPLATE_VERSION)
            .build())
    }
}

#[async_trait]
impl Resource for AutoScalingGroup {
    fn key(&self) -> Key {
        key(&self.naming)
    }

    /// Hosts that boot before their subnet routes to the NAT gateway cannot
    /// register with ECS, so the group waits for the private route tables.
    fn depends_on(&self) -> Vec<Key> {
        let mut deps = self.network.private_subnets.clone();
        deps.extend(self.network.private_route_tables.iter().cloned());
        deps.push(launch_template::key(&self.naming));
        deps.push(ecs_cluster::key(&self.naming));
        deps
    }

    fn desired(&self, refs: &Refs) -> Attrs {
        let mut a = self.naming.desired_tags(&name(&self.naming));
        a.insert("min_size".into(), self.min_size.to_string());
        a.insert("max_size".into(), self.max_size.to_string());
        let mut subnets: Vec<String> = self
            .network
            .private_subnets
            .iter()
            .map(|k| refs.id(k))
            .collect();
        subnets.sort();
        a.insert("subnets".into(), subnets.join(","));
        a.insert(
            "launch_template".into(),
            format!(
                "{}@{TEMPLATE_VERSION}",
                refs.id(&launch_template::key(&self.naming))
            ),
        );
        a.insert("protect_new_hosts".into(), "true".into());
        a
    }

    async fn create(&self, ctx: &Ctx, refs: &Refs) -> Result<String, Error> {
        let asg_name = name(&self.naming);
        ctx.aws
            .autoscaling
            .create_auto_scaling_group()
            .auto_scaling_group_name(&asg_name)
            .launch_template(self.template(refs)?)
            .min_size(self.min_size)
            .max_size(self.max_size)
            .desired_capacity(self.desired_capacity)
            .vpc_zone_identifier(self.subnets(refs)?)
            .new_instances_protected_from_scale_in(true)
            .health_check_grace_period(120)
            .set_tags(Some(autoscaling::managed_tags(&self.naming, &asg_name)))
            .send()
            .await
            .map_err(|e| Error::aws("creating", KIND, &asg_name, e))?;
        Ok(asg_name)
    }

    async fn read(&self, ctx: &Ctx, _id: &str) -> Result<Option<Observed>, Error> {
        let group = autoscaling::find_group(ctx, &name(&self.naming)).await?;
        Ok(group.map(|g| observe(&g, ctx)))
    }

    async fn update(
        &self,
        ctx: &Ctx,
        _current: &Observed,
        changes: &[Change],
        refs: &Refs,
    ) -> Result<(), Error> {
        let asg_name = name(&self.naming);
        if tags::non_tag(changes).next().is_some() {
            // Desired capacity is left to the capacity provider.
            ctx.aws
                .autoscaling
                .update_auto_scaling_group()
                .auto_scaling_group_name(&asg_name)
                .min_size(self.min_size)
                .max_size(self.max_size)
                .vpc_zone_identifier(self.subnets(refs)?)
                .launch_template(self.template(refs)?)
                .new_instances_protected_from_scale_in(true)
                .send()
                .await
                .map_err(|e| Error::aws("update", KIND, &asg_name, e))?;
        }
        autoscaling::update_tags(ctx, KIND, &asg_name, changes).await
    }
}
