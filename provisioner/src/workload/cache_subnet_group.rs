//! The cache subnet group over the private subnets.

use super::NetworkKeys;
use crate::aws::elasticache;
use crate::engine::{Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource, State};
use crate::retry;
use crate::tags::Naming;
use crate::Error;
use async_trait::async_trait;

pub const KIND: &str = "cache-subnet-group";

pub fn name(naming: &Naming) -> String {
    naming.name("redis")
}

pub fn key(naming: &Naming) -> Key {
    Key::new(KIND, name(naming))
}

/// The environment's subnet group with its tags, when it exists.
async fn find(ctx: &Ctx) -> Result<Option<Observed>, Error> {
    let group = name(&ctx.naming);
    let Some(g) = elasticache::find_cache_subnet_group(ctx, &group).await? else {
        return Ok(None);
    };
    let arn = g.arn().unwrap_or_default().to_string();
    let tags = elasticache::tags_of(ctx, KIND, &group, &arn).await?;
    let mut attrs = tags.attrs();
    let mut subnets: Vec<&str> = g
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier())
        .collect();
    subnets.sort_unstable();
    attrs.insert("subnets".into(), subnets.join(","));
    Ok(Some(Observed {
        kind: KIND,
        id: g.cache_subnet_group_name().unwrap_or(&group).to_string(),
        name: g.cache_subnet_group_name().map(String::from),
        attrs,
        details: Attrs::from([("arn".to_string(), arn)]),
        state: State::Ready,
        owned: tags.owned_by(&ctx.naming),
    }))
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
        find(ctx).await.map(|o| o.into_iter().collect())
    }

    /// Retried while a replication group that is still being deleted holds
    /// the group (`CacheSubnetGroupInUse`).
    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        for o in items {
            retry::delete(ctx, KIND, o.display_name(), || {
                ctx.aws
                    .elasticache
                    .delete_cache_subnet_group()
                    .cache_subnet_group_name(&o.id)
                    .send()
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
        let mut a = self.naming.desired_tags(&name(&self.naming));
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

    async fn create(&self, ctx: &Ctx, refs: &Refs) -> Result<String, Error> {
        let group = name(&self.naming);
        ctx.aws
            .elasticache
            .create_cache_subnet_group()
            .cache_subnet_group_name(&group)
            .cache_subnet_group_description(format!(
                "Spaaace {} Redis, private subnets",
                self.naming.environment
            ))
            .set_subnet_ids(Some(self.subnet_ids(refs)?))
            .set_tags(Some(elasticache::aws_tags(&self.naming, &group)))
            .send()
            .await
            .map_err(|e| Error::aws("creating", KIND, &group, e))?;
        Ok(group)
    }

    async fn read(&self, ctx: &Ctx, _id: &str) -> Result<Option<Observed>, Error> {
        find(ctx).await
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
            ctx.aws
                .elasticache
                .modify_cache_subnet_group()
                .cache_subnet_group_name(&group)
                .set_subnet_ids(Some(self.subnet_ids(refs)?))
                .send()
                .await
                .map_err(|e| Error::aws("modifying", KIND, &group, e))?;
        }
        let arn = current.details.get("arn").cloned().unwrap_or_default();
        elasticache::update_tags(ctx, KIND, &group, &arn, changes).await
    }
}

impl CacheSubnetGroup {
    fn subnet_ids(&self, refs: &Refs) -> Result<Vec<String>, Error> {
        self.network
            .private_subnets
            .iter()
            .map(|k| refs.require(k).map(String::from))
            .collect()
    }
}
