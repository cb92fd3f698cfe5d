//! Elastic Load Balancing v2: tags, finding the load balancer, target group
//! and listeners, their attributes and the targets' health.

use crate::engine::{Change, Ctx};
use crate::error::found;
use crate::tags::{self, Naming, Tags};
use crate::Error;
use aws_sdk_elasticloadbalancingv2::types::{
    Listener, LoadBalancer, Tag, TargetGroup, TargetHealthDescription,
};
use std::collections::HashMap;

/// The managed tags as ELB tags.
pub fn aws_tags(naming: &Naming, name: &str) -> Vec<Tag> {
    naming
        .tags(name)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The tags of up to 20 resources, by ARN.
pub async fn tags_of(
    ctx: &Ctx,
    kind: &'static str,
    name: &str,
    arns: Vec<String>,
) -> Result<HashMap<String, Tags>, Error> {
    if arns.is_empty() {
        return Ok(HashMap::new());
    }
    let out = ctx
        .aws
        .elbv2
        .describe_tags()
        .set_resource_arns(Some(arns))
        .send()
        .await
        .map_err(|e| Error::aws("reading the tags of", kind, name, e))?;
    Ok(out
        .tag_descriptions()
        .iter()
        .map(|d| {
            let tags = Tags::new(
                d.tags()
                    .iter()
                    .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())),
            );
            (d.resource_arn().unwrap_or_default().to_string(), tags)
        })
        .collect())
}

/// Sets the managed tags among `changes` on one resource.
pub async fn update_tags(
    ctx: &Ctx,
    kind: &'static str,
    name: &str,
    arn: &str,
    changes: &[Change],
) -> Result<(), Error> {
    let set = tags::to_set(changes);
    if set.is_empty() {
        return Ok(());
    }
    ctx.aws
        .elbv2
        .add_tags()
        .resource_arns(arn)
        .set_tags(Some(
            set.into_iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .send()
        .await
        .map_err(|e| Error::aws("tagging", kind, name, e))?;
    Ok(())
}

pub async fn find_load_balancer(ctx: &Ctx, name: &str) -> Result<Option<LoadBalancer>, Error> {
    let out = found(
        ctx.aws
            .elbv2
            .describe_load_balancers()
            .names(name)
            .send()
            .await
            .map_err(|e| Error::aws("reading", "load-balancer", name, e)),
    )?;
    Ok(out.and_then(|o| o.load_balancers().first().cloned()))
}

pub async fn find_target_group(ctx: &Ctx, name: &str) -> Result<Option<TargetGroup>, Error> {
    let out = found(
        ctx.aws
            .elbv2
            .describe_target_groups()
            .names(name)
            .send()
            .await
            .map_err(|e| Error::aws("reading", "target-group", name, e)),
    )?;
    Ok(out.and_then(|o| o.target_groups().first().cloned()))
}

/// The listeners of a load balancer (none when it is gone).
pub async fn listeners(ctx: &Ctx, lb_arn: &str, lb_name: &str) -> Result<Vec<Listener>, Error> {
    let out = found(
        ctx.aws
            .elbv2
            .describe_listeners()
            .load_balancer_arn(lb_arn)
            .send()
            .await
            .map_err(|e| Error::aws("listing the listeners of", "load-balancer", lb_name, e)),
    )?;
    Ok(out.map(|o| o.listeners().to_vec()).unwrap_or_default())
}

pub async fn load_balancer_attributes(
    ctx: &Ctx,
    arn: &str,
    name: &str,
) -> Result<Vec<(String, String)>, Error> {
    let out = ctx
        .aws
        .elbv2
        .describe_load_balancer_attributes()
        .load_balancer_arn(arn)
        .send()
        .await
        .map_err(|e| Error::aws("reading the attributes of", "load-balancer", name, e))?;
    Ok(out
        .attributes()
        .iter()
        .map(|a| {
            (
                a.key().unwrap_or_default().to_string(),
                a.value().unwrap_or_default().to_string(),
            )
        })
        .collect())
}

pub async fn target_group_attributes(
    ctx: &Ctx,
    arn: &str,
    name: &str,
) -> Result<Vec<(String, String)>, Error> {
    let out = ctx
        .aws
        .elbv2
        .describe_target_group_attributes()
        .target_group_arn(arn)
        .send()
        .await
        .map_err(|e| Error::aws("reading the attributes of", "target-group", name, e))?;
    Ok(out
        .attributes()
        .iter()
        .map(|a| {
            (
                a.key().unwrap_or_default().to_string(),
                a.value().unwrap_or_default().to_string(),
            )
        })
        .collect())
}

/// The health of every target registered with a target group.
pub async fn target_health(
    ctx: &Ctx,
    arn: &str,
    name: &str,
) -> Result<Vec<TargetHealthDescription>, Error> {
    let out = ctx
        .aws
        .elbv2
        .describe_target_health()
        .target_group_arn(arn)
        .send()
        .await
        .map_err(|e| Error::aws("reading the target health of", "target-group", name, e))?;
    Ok(out.target_health_descriptions().to_vec())
}
