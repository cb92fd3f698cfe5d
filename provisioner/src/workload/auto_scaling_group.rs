//! The Auto Scaling Group of ECS hosts over the private subnets. New hosts
//! are protected from scale-in so the capacity provider decides which host
//! may go (only empty ones); `down` lifts that protection first.

use super::{ecs_cluster, launch_template, tagging, NetworkKeys};
use crate::engine::{Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource};
use crate::error::aws_code;
use crate::tags::Naming;
use crate::wait::{self, Poll};
use crate::Error;
use async_trait::async_trait;
use aws_sdk_autoscaling::types::{AutoScalingGroup as AwsGroup, LaunchTemplateSpecification, Tag};

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
    let pairs: Vec<(&str, &str)> = g
        .tags()
        .iter()
        .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()))
        .collect();
    let mut attrs = tagging::observed(pairs.iter().copied());
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
        ready: g.status().is_none(),
        owned: tagging::owns(&ctx.naming, &pairs),
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
        &[launch_template::KIND, super::SUBNET_KIND, ecs_cluster::KIND]
    }

    async fn discover(&self, ctx: &Ctx, _found: &Inventory) -> Result<Vec<Observed>, Error> {
        let asg_name = name(&ctx.naming);
        let out = ctx
            .aws
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(&asg_name)
            .send()
            .await
            .map_err(|e| Error::aws("describe", KIND, &asg_name, e))?;
        Ok(out
            .auto_scaling_groups()
            .iter()
            .map(|g| observe(g, ctx))
            .collect())
    }

    /// The trap: protected hosts block scale-in, so lift the protection,
    /// then force-delete the group (terminating its hosts) and wait.
    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        let asg = &ctx.aws.autoscaling;
        for o in items {
            let group = o.display_name().to_string();
            let protected: Vec<String> = hosts(o)
                .into_iter()
                .filter(|h| h.protected)
                .map(|h| h.instance_id)
                .collect();
            if !protected.is_empty() {
                asg.set_instance_protection()
                    .auto_scaling_group_name(&group)
                    .set_instance_ids(Some(protected))
                    .protected_from_scale_in(false)
                    .send()
                    .await
                    .map_err(|e| Error::aws("lift scale-in protection of", KIND, &group, e))?;
            }
            match asg
                .delete_auto_scaling_group()
                .auto_scaling_group_name(&group)
                .force_delete(true)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if aws_code(&e) == Some("ValidationError") => continue,
                Err(e) => return Err(Error::aws("delete", KIND, &group, e)),
            }
            wait::until(&ctx.wait, KIND, &group, "deleted", || async {
                let out = asg
                    .describe_auto_scaling_groups()
                    .auto_scaling_group_names(&group)
                    .send()
                    .await
                    .map_err(|e| Error::aws("describe", KIND, &group, e))?;
                Ok(match out.auto_scaling_groups().first() {
                    None => Poll::Done,
                    Some(g) => Poll::Pending(format!(
                        "{} ({} hosts)",
                        g.status().unwrap_or("deleting"),
                        g.instances().len()
                    )),
                })
            })
            .await?;
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

    fn depends_on(&self) -> Vec<Key> {
        let mut deps = self.network.private_subnets.clone();
        deps.push(launch_template::key(&self.naming));
        deps.push(ecs_cluster::key(&self.naming));
        deps
    }

    fn desired(&self, refs: &Refs) -> Attrs {
        let mut a = tagging::desired(&self.naming, &name(&self.naming));
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

    async fn create(&self, ctx: &Ctx, refs: &Refs) -> Result<Observed, Error> {
        let asg_name = name(&self.naming);
        let mut tags = Vec::new();
        for (k, v) in self.naming.tags(&asg_name) {
            tags.push(
                Tag::builder()
                    .key(k)
                    .value(v)
                    .resource_id(&asg_name)
                    .resource_type("auto-scaling-group")
                    .propagate_at_launch(true)
                    .build(),
            );
        }
        let subnets = self.subnets(refs)?;
        let template = self.template(refs)?;
        // A new instance profile takes a few seconds to reach EC2; until
        // then AWS rejects the template's profile as invalid.
        wait::until(&ctx.wait, KIND, &asg_name, "created", || async {
            let result = ctx
                .aws
                .autoscaling
                .create_auto_scaling_group()
                .auto_scaling_group_name(&asg_name)
                .launch_template(template.clone())
                .min_size(self.min_size)
                .max_size(self.max_size)
                .desired_capacity(self.desired_capacity)
                .vpc_zone_identifier(&subnets)
                .new_instances_protected_from_scale_in(true)
                .health_check_grace_period(120)
                .set_tags(Some(tags.clone()))
                .send()
                .await;
            match result {
                Ok(_) => Ok(Poll::Done),
                Err(e)
                    if aws_code(&e) == Some("ValidationError")
                        && aws_cause_mentions(&e, "IamInstanceProfile") =>
                {
                    Ok(Poll::Pending(
                        "instance profile not yet visible to EC2".into(),
                    ))
                }
                Err(e) => Err(Error::aws("create", KIND, &asg_name, e)),
            }
        })
        .await?;
        let out = ctx
            .aws
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(&asg_name)
            .send()
            .await
            .map_err(|e| Error::aws("describe", KIND, &asg_name, e))?;
        let g = out.auto_scaling_groups().first().ok_or_else(|| {
            Error::unexpected(KIND, &asg_name, "not found right after its creation")
        })?;
        Ok(observe(g, ctx))
    }

    async fn update(
        &self,
        ctx: &Ctx,
        _current: &Observed,
        changes: &[Change],
        refs: &Refs,
    ) -> Result<(), Error> {
        let asg_name = name(&self.naming);
        let asg = &ctx.aws.autoscaling;
        if tagging::non_tag(changes).next().is_some() {
            // Desired capacity is left to the capacity provider.
            asg.update_auto_scaling_group()
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
        let tags = tagging::to_set(changes);
        if !tags.is_empty() {
            let tags = tags
                .into_iter()
                .map(|(k, v)| {
                    Tag::builder()
                        .key(k)
                        .value(v)
                        .resource_id(&asg_name)
                        .resource_type("auto-scaling-group")
                        .propagate_at_launch(true)
                        .build()
                })
                .collect();
            asg.create_or_update_tags()
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| Error::aws("tag", KIND, &asg_name, e))?;
        }
        Ok(())
    }
}

fn aws_cause_mentions<E, R>(
    e: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
    word: &str,
) -> bool
where
    E: aws_sdk_autoscaling::error::ProvideErrorMetadata,
{
    use aws_sdk_autoscaling::error::ProvideErrorMetadata as _;
    e.message().is_some_and(|m| m.contains(word))
}
