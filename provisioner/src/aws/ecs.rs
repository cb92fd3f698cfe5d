//! ECS: tags, and finding the cluster, the capacity provider, the service
//! and the task definition.

use crate::engine::{Change, Ctx};
use crate::error::found;
use crate::tags::{self, Naming, Tags};
use crate::Error;
use aws_sdk_ecs::types::{
    CapacityProvider, CapacityProviderField, Cluster, ClusterField, Service, ServiceField, Tag,
    TaskDefinition, TaskDefinitionField,
};

/// The managed tags as ECS tags.
pub fn aws_tags(naming: &Naming, name: &str) -> Vec<Tag> {
    naming
        .tags(name)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

pub fn tags(aws: &[Tag]) -> Tags {
    Tags::new(
        aws.iter()
            .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())),
    )
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
        .ecs
        .tag_resource()
        .resource_arn(arn)
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

/// The cluster with its tags and attachments, unless it is gone (a deleted
/// cluster stays visible as INACTIVE for a while).
pub async fn find_cluster(ctx: &Ctx, name: &str) -> Result<Option<Cluster>, Error> {
    let out = ctx
        .aws
        .ecs
        .describe_clusters()
        .clusters(name)
        .include(ClusterField::Tags)
        .include(ClusterField::Attachments)
        .send()
        .await
        .map_err(|e| Error::aws("reading", "ecs-cluster", name, e))?;
    Ok(out
        .clusters()
        .iter()
        .find(|c| c.status() != Some("INACTIVE"))
        .cloned())
}

/// The capacity provider in whatever state (ACTIVE, or INACTIVE on its way
/// out; its update status tells about a failed delete).
pub async fn find_capacity_provider(
    ctx: &Ctx,
    name: &str,
) -> Result<Option<CapacityProvider>, Error> {
    let out = ctx
        .aws
        .ecs
        .describe_capacity_providers()
        .capacity_providers(name)
        .include(CapacityProviderField::Tags)
        .send()
        .await
        .map_err(|e| Error::aws("reading", "ecs-capacity-provider", name, e))?;
    Ok(out.capacity_providers().first().cloned())
}

/// The service, unless it is gone or on its way out (DRAINING, INACTIVE).
pub async fn find_service(ctx: &Ctx, cluster: &str, name: &str) -> Result<Option<Service>, Error> {
    let out = found(
        ctx.aws
            .ecs
            .describe_services()
            .cluster(cluster)
            .services(name)
            .include(ServiceField::Tags)
            .send()
            .await
            .map_err(|e| Error::aws("reading", "ecs-service", name, e)),
    )?;
    Ok(out.and_then(|o| {
        o.services()
            .iter()
            .find(|s| s.status() == Some("ACTIVE"))
            .cloned()
    }))
}

/// A task definition (a family resolves to its latest ACTIVE revision)
/// with its tags.
pub async fn find_task_definition(
    ctx: &Ctx,
    family_or_arn: &str,
) -> Result<Option<(TaskDefinition, Vec<Tag>)>, Error> {
    let out = found(
        ctx.aws
            .ecs
            .describe_task_definition()
            .task_definition(family_or_arn)
            .include(TaskDefinitionField::Tags)
            .send()
            .await
            .map_err(|e| Error::aws("reading", "task-definition", family_or_arn, e)),
    )?;
    Ok(out.and_then(|o| {
        o.task_definition()
            .cloned()
            .map(|td| (td, o.tags().to_vec()))
    }))
}
