//! ElastiCache: tags, and finding the replication group, the cache subnet
//! group and the parameter group by name.

use crate::engine::{Change, Ctx};
use crate::error::found;
use crate::tags::{self, Naming, Tags};
use crate::Error;
use aws_sdk_elasticache::types::{
    CacheParameterGroup, CacheSubnetGroup, Parameter, ReplicationGroup, Tag,
};

/// The managed tags as ElastiCache tags.
pub fn aws_tags(naming: &Naming, name: &str) -> Vec<Tag> {
    naming
        .tags(name)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The tags of one ElastiCache resource.
pub async fn tags_of(ctx: &Ctx, kind: &'static str, name: &str, arn: &str) -> Result<Tags, Error> {
    let out = ctx
        .aws
        .elasticache
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .map_err(|e| Error::aws("reading the tags of", kind, name, e))?;
    Ok(Tags::new(out.tag_list().iter().map(|t| {
        (
            t.key().unwrap_or_default().to_string(),
            t.value().unwrap_or_default().to_string(),
        )
    })))
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
        .elasticache
        .add_tags_to_resource()
        .resource_name(arn)
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

pub async fn find_replication_group(
    ctx: &Ctx,
    id: &str,
) -> Result<Option<ReplicationGroup>, Error> {
    let out = found(
        ctx.aws
            .elasticache
            .describe_replication_groups()
            .replication_group_id(id)
            .send()
            .await
            .map_err(|e| Error::aws("reading", "replication-group", id, e)),
    )?;
    Ok(out.and_then(|o| o.replication_groups().first().cloned()))
}

pub async fn find_cache_subnet_group(
    ctx: &Ctx,
    name: &str,
) -> Result<Option<CacheSubnetGroup>, Error> {
    let out = found(
        ctx.aws
            .elasticache
            .describe_cache_subnet_groups()
            .cache_subnet_group_name(name)
            .send()
            .await
            .map_err(|e| Error::aws("reading", "cache-subnet-group", name, e)),
    )?;
    Ok(out.and_then(|o| o.cache_subnet_groups().first().cloned()))
}

pub async fn find_cache_parameter_group(
    ctx: &Ctx,
    name: &str,
) -> Result<Option<CacheParameterGroup>, Error> {
    let out = found(
        ctx.aws
            .elasticache
            .describe_cache_parameter_groups()
            .cache_parameter_group_name(name)
            .send()
            .await
            .map_err(|e| Error::aws("reading", "cache-parameter-group", name, e)),
    )?;
    Ok(out.and_then(|o| o.cache_parameter_groups().first().cloned()))
}

/// The parameters a user set in a parameter group (defaults left out).
pub async fn user_parameters(ctx: &Ctx, name: &str) -> Result<Vec<Parameter>, Error> {
    let out = ctx
        .aws
        .elasticache
        .describe_cache_parameters()
        .cache_parameter_group_name(name)
        .source("user")
        .send()
        .await
        .map_err(|e| {
            Error::aws(
                "reading the parameters of",
                "cache-parameter-group",
                name,
                e,
            )
        })?;
    Ok(out.parameters().to_vec())
}
