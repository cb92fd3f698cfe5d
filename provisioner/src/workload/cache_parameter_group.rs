//! The Redis parameter group. Durability wanted: an append-only file with
//! fsync every second. ElastiCache allows it only on old engines (families
//! before Redis 2.8.22), never on T1/T2 nodes and never with Multi-AZ, which
//! it offers instead; [`aof_support`] decides, and the group says why when
//! it cannot. Eviction prefers keys with an expiry (game snapshots), least
//! recently used first, so a hot lease is the last to go.

use crate::aws::elasticache;
use crate::engine::{Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource, State};
use crate::retry;
use crate::tags::Naming;
use crate::Error;
use async_trait::async_trait;
use aws_sdk_elasticache::types::ParameterNameValue;

pub const KIND: &str = "cache-parameter-group";
const PARAM_PREFIX: &str = "param:";

pub fn name(naming: &Naming) -> String {
    naming.name("redis-params")
}

pub fn key(naming: &Naming) -> Key {
    Key::new(KIND, name(naming))
}

/// Whether ElastiCache lets this group turn on AOF; the reason when not.
pub fn aof_support(family: &str, node_type: &str, multi_az: bool) -> Result<(), String> {
    if multi_az {
        return Err("ElastiCache disables AOF on Multi-AZ replication groups (the replica is the durability)".into());
    }
    if node_type.starts_with("cache.t1.") || node_type.starts_with("cache.t2.") {
        return Err(format!(
            "ElastiCache ignores appendonly on {node_type} nodes"
        ));
    }
    if !matches!(family, "redis2.6" | "redis2.8") {
        return Err(format!(
            "parameter family {family}: appendonly/appendfsync are not available on Redis 2.8.22 and later"
        ));
    }
    Ok(())
}

/// The parameters the group sets.
pub fn parameters(
    family: &str,
    node_type: &str,
    multi_az: bool,
) -> Vec<(&'static str, &'static str)> {
    let mut p = vec![("maxmemory-policy", "volatile-lru")];
    match aof_support(family, node_type, multi_az) {
        Ok(()) => {
            p.push(("appendonly", "yes"));
            p.push(("appendfsync", "everysec"));
        }
        Err(why) => tracing::debug!("no AOF: {why}"),
    }
    p
}

pub struct CacheParameterGroupKind;

#[async_trait]
impl Kind for CacheParameterGroupKind {
    fn name(&self) -> &'static str {
        KIND
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[]
    }

    async fn discover(&self, ctx: &Ctx, _found: &Inventory) -> Result<Vec<Observed>, Error> {
        find(ctx).await.map(|o| o.into_iter().collect())
    }

    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        for o in items {
            retry::delete(ctx, KIND, o.display_name(), || {
                ctx.aws
                    .elasticache
                    .delete_cache_parameter_group()
                    .cache_parameter_group_name(&o.id)
                    .send()
            })
            .await?;
        }
        Ok(())
    }
}

/// The environment's parameter group with its tags and the parameters set
/// in it, when it exists.
async fn find(ctx: &Ctx) -> Result<Option<Observed>, Error> {
    let group = name(&ctx.naming);
    let Some(g) = elasticache::find_cache_parameter_group(ctx, &group).await? else {
        return Ok(None);
    };
    let arn = g.arn().unwrap_or_default().to_string();
    let tags = elasticache::tags_of(ctx, KIND, &group, &arn).await?;
    let mut attrs = tags.attrs();
    attrs.insert(
        "family".into(),
        g.cache_parameter_group_family()
            .unwrap_or_default()
            .to_string(),
    );
    for p in elasticache::user_parameters(ctx, &group).await? {
        attrs.insert(
            format!("{PARAM_PREFIX}{}", p.parameter_name().unwrap_or_default()),
            p.parameter_value().unwrap_or_default().to_string(),
        );
    }
    Ok(Some(Observed {
        kind: KIND,
        id: group.clone(),
        name: Some(group),
        attrs,
        details: Attrs::from([("arn".to_string(), arn)]),
        state: State::Ready,
        owned: tags.owned_by(&ctx.naming),
    }))
}

pub struct CacheParameterGroup {
    pub naming: Naming,
    pub family: String,
    pub node_type: String,
}

impl CacheParameterGroup {
    fn parameters(&self) -> Vec<(&'static str, &'static str)> {
        // Always Multi-AZ: the replication group requires it.
        parameters(&self.family, &self.node_type, true)
    }
}

#[async_trait]
impl Resource for CacheParameterGroup {
    fn key(&self) -> Key {
        key(&self.naming)
    }

    fn depends_on(&self) -> Vec<Key> {
        Vec::new()
    }

    fn desired(&self, _refs: &Refs) -> Attrs {
        let mut a = self.naming.desired_tags(&name(&self.naming));
        a.insert("family".into(), self.family.clone());
        for (k, v) in self.parameters() {
            a.insert(format!("{PARAM_PREFIX}{k}"), v.into());
        }
        a
    }

    async fn create(&self, ctx: &Ctx, _refs: &Refs) -> Result<String, Error> {
        let group = name(&self.naming);
        ctx.aws
            .elasticache
            .create_cache_parameter_group()
            .cache_parameter_group_name(&group)
            .cache_parameter_group_family(&self.family)
            .description(format!("Spaaace {} Redis", self.naming.environment))
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
        _refs: &Refs,
    ) -> Result<(), Error> {
        let group = name(&self.naming);
        if changes.iter().any(|c| c.attr == "family") {
            return Err(Error::unexpected(
                KIND,
                &group,
                format!(
                    "its family cannot change to {}; run `down` and `up` to recreate it",
                    self.family
                ),
            ));
        }
        let wanted: Vec<ParameterNameValue> = self
            .parameters()
            .into_iter()
            .filter(|(k, _)| {
                changes
                    .iter()
                    .any(|c| c.attr == format!("{PARAM_PREFIX}{k}"))
            })
            .map(|(k, v)| {
                ParameterNameValue::builder()
                    .parameter_name(k)
                    .parameter_value(v)
                    .build()
            })
            .collect();
        if !wanted.is_empty() {
            ctx.aws
                .elasticache
                .modify_cache_parameter_group()
                .cache_parameter_group_name(&group)
                .set_parameter_name_values(Some(wanted))
                .send()
                .await
                .map_err(|e| Error::aws("setting the parameters of", KIND, &group, e))?;
        }
        let arn = current.details.get("arn").cloned().unwrap_or_default();
        elasticache::update_tags(ctx, KIND, &group, &arn, changes).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aof_only_where_elasticache_allows_it() {
        assert!(aof_support("redis2.8", "cache.m3.medium", false).is_ok());
        let why = aof_support("redis7", "cache.t4g.micro", true).unwrap_err();
        assert!(why.contains("Multi-AZ"), "{why}");
        let why = aof_support("redis7", "cache.m6g.large", false).unwrap_err();
        assert!(why.contains("redis7") && why.contains("2.8.22"), "{why}");
        assert!(aof_support("redis2.8", "cache.t2.micro", false)
            .unwrap_err()
            .contains("cache.t2.micro"));
        assert!(
            parameters("redis2.8", "cache.m3.medium", false).contains(&("appendfsync", "everysec"))
        );
        assert_eq!(
            parameters("redis7", "cache.t4g.micro", true),
            vec![("maxmemory-policy", "volatile-lru")]
        );
    }
}
