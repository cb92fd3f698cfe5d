//! The cache subnet group over the private subnets.

use super::{tagging, NetworkKeys};
use crate::engine::{Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource};
use crate::error::aws_code;
use crate::error::is_not_found;
use crate::tags::Naming;
use crate::wait::{self, Poll};
use crate::Error;
use async_trait::async_trait;
use aws_sdk_elasticache::types::Tag;

pub const KIND: &str = "cache-subnet-group";

pub fn name(naming: &Naming) -> String {
    naming.name("redis")
}

pub fn key(naming: &Naming) -> Key {
    Key::new(KIND, name(naming))
}

/// ElastiCache tags of the resource `name`.
pub fn cache_tags(naming: &Naming, name: &str) -> Vec<Tag> {
    naming
        .tags(name)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The managed tags of an ElastiCache resource, as pairs.
pub async fn list_tags(
    ctx: &Ctx,
    kind: &'static str,
    name: &str,
    arn: &str,
) -> Result<Vec<(String, String)>, Error> {
    let out = ctx
        .aws
        .elasticache
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .map_err(|e| Error::aws("list tags of", kind, name, e))?;
    Ok(out
        .tag_list()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect())
}

pub async fn add_tags(
    ctx: &Ctx,
    kind: &'static str,
    name: &str,
    arn: &str,
    changes: &[Change],
) -> Result<(), Error> {
    let tags = tagging::to_set(changes);
    if tags.is_empty() {
        return Ok(());
    }
    ctx.aws
        .elasticache
        .add_tags_to_resource()
        .resource_name(arn)
        .set_tags(Some(
            tags.into_iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .send()
        .await
        .map_err(|e| Error::aws("tag", kind, name, e))?;
    Ok(())
}

pub struct CacheSubnetGroupKind;

#[async_trait]
impl Kind for CacheSubnetGroupKind {
    fn name(&self) -> &'static str {
        KIND
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[super::SUBNET_KIND]
    }

    async fn discover(&self, ctx: &Ctx, _found: &Inventory) -> Result<Vec<Observed>, Error> {
        let group = name(&ctx.naming);
        let out = match ctx
            .aws
            .elasticache
            .describe_cache_subnet_groups()
            .cache_subnet_group_name(&group)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if is_not_found(&e) => return Ok(Vec::new()),
            Err(e) => return Err(Error::aws("describe", KIND, &group, e)),
        };
        let mut found = Vec::new();
        for g in out.cache_subnet_groups() {
            let arn = g.arn().unwrap_or_default().to_string();
            let tags = list_tags(ctx, KIND, &group, &arn).await?;
            let pairs: Vec<(&str, &str)> =
                tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let mut attrs = tagging::observed(pairs.iter().copied());
            let mut subnets: Vec<&str> = g
                .subnets()
                .iter()
                .filter_map(|s| s.subnet_identifier())
                .collect();
            subnets.sort_unstable();
            attrs.insert("subnets".into(), subnets.join(","));
            found.push(Observed {
                kind: KIND,
                id: g.cache_subnet_group_name().unwrap_or(&group).to_string(),
                name: g.cache_subnet_group_name().map(String::from),
                attrs,
                details: Attrs::from([("arn".to_string(), arn)]),
                ready: true,
                owned: tagging::owns(&ctx.naming, &pairs),
            });
        }
        Ok(found)
    }

    /// Retries while a replication group that is still being deleted holds
    /// the group.
    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        for o in items {
            wait::until(&ctx.wait, KIND, o.display_name(), "deleted", || async {
                match ctx
                    .aws
                    .elasticache
                    .delete_cache_subnet_group()
                    .cache_subnet_group_name(&o.id)
                    .send()
                    .await
                {
                    Ok(_) => Ok(Poll::Done),
                    Err(e) if is_not_found(&e) => Ok(Poll::Done),
                    Err(e) if aws_code(&e) == Some("CacheSubnetGroupInUse") => {
                        Ok(Poll::Pending("in use".into()))
                    }
                    Err(e) => Err(Error::aws("delete", KIND, o.display_name(), e)),
                }
            })
            .await?;
        }
        Ok(())
    }
}

pub struct CacheSubnetGroup {
    pub naming: Naming,
    pub network: NetworkKeys,
}

#[async_trait]
impl Resource for CacheSubnetGroup {
    fn key(&self) -> Key {
        key(&self.naming)
    }

    fn depends_on(&self) -> Vec<Key> {
        self.network.private_subnets.clone()
    }

    fn desired(&self, refs: &Refs) -> Attrs {
        let mut a = tagging::desired(&self.naming, &name(&self.naming));
        let mut subnets: Vec<String> = self
            .network
            .private_subnets
            .iter()
            .map(|k| refs.id(k))
            .collect();
        subnets.sort();
        a.insert("subnets".into(), subnets.join(","));
        a
    }

    async fn create(&self, ctx: &Ctx, refs: &Refs) -> Result<Observed, Error> {
        let group = name(&self.naming);
        let subnets: Result<Vec<String>, Error> = self
            .network
            .private_subnets
            .iter()
            .map(|k| refs.require(k).map(String::from))
            .collect();
        let out = ctx
            .aws
            .elasticache
            .create_cache_subnet_group()
            .cache_subnet_group_name(&group)
            .cache_subnet_group_description(format!(
                "Spaaace {} Redis, private subnets",
                self.naming.environment
            ))
            .set_subnet_ids(Some(subnets?))
            .set_tags(Some(cache_tags(&self.naming, &group)))
            .send()
            .await
            .map_err(|e| Error::aws("create", KIND, &group, e))?;
        let arn = out
            .cache_subnet_group()
            .and_then(|g| g.arn())
            .unwrap_or_default()
            .to_string();
        Ok(Observed {
            kind: KIND,
            id: group.clone(),
            name: Some(group),
            attrs: self.desired(refs),
            details: Attrs::from([("arn".to_string(), arn)]),
            ready: true,
            owned: true,
        })
    }

    async fn update(
        &self,
        ctx: &Ctx,
        current: &Observed,
        changes: &[Change],
        refs: &Refs,
    ) -> Result<(), Error> {
        let group = name(&self.naming);
        if changes.iter().any(|c| c.attr == "subnets") {
            let subnets: Result<Vec<String>, Error> = self
                .network
                .private_subnets
                .iter()
                .map(|k| refs.require(k).map(String::from))
                .collect();
            ctx.aws
                .elasticache
                .modify_cache_subnet_group()
                .cache_subnet_group_name(&group)
                .set_subnet_ids(Some(subnets?))
                .send()
                .await
                .map_err(|e| Error::aws("modify", KIND, &group, e))?;
        }
        let arn = current.details.get("arn").cloned().unwrap_or_default();
        add_tags(ctx, KIND, &group, &arn, changes).await
    }
}
