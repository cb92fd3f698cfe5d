//! The capacity provider's attachment to the cluster as its default
//! strategy. A kind of its own so that `down` detaches it after the service
//! is gone and before the provider is deleted.

use super::{capacity_provider, ecs_cluster};
use crate::engine::{Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource};
use crate::error::is_not_found;
use crate::tags::Naming;
use crate::Error;
use async_trait::async_trait;
use aws_sdk_ecs::types::CapacityProviderStrategyItem;

pub const KIND: &str = "ecs-cluster-capacity";

pub fn key(naming: &Naming) -> Key {
    Key::new(KIND, ecs_cluster::name(naming))
}

pub struct ClusterCapacityKind;

#[async_trait]
impl Kind for ClusterCapacityKind {
    fn name(&self) -> &'static str {
        KIND
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[ecs_cluster::KIND, capacity_provider::KIND]
    }

    /// Read off the clusters already discovered: no extra call.
    async fn discover(&self, _ctx: &Ctx, found: &Inventory) -> Result<Vec<Observed>, Error> {
        Ok(found
            .of(ecs_cluster::KIND)
            .iter()
            .filter(|c| {
                c.details
                    .get("capacity_providers")
                    .is_some_and(|p| !p.is_empty())
            })
            .map(|c| {
                let mut attrs = Attrs::new();
                attrs.insert(
                    "capacity_providers".into(),
                    c.details["capacity_providers"].clone(),
                );
                attrs.insert(
                    "default_strategy".into(),
                    c.details
                        .get("default_strategy")
                        .cloned()
                        .unwrap_or_default(),
                );
                Observed {
                    kind: KIND,
                    id: c.id.clone(),
                    name: c.name.clone(),
                    attrs,
                    details: Attrs::new(),
                    ready: true,
                    owned: c.owned,
                }
            })
            .collect())
    }

    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        for o in items {
            match ctx
                .aws
                .ecs
                .put_cluster_capacity_providers()
                .cluster(&o.id)
                .set_capacity_providers(Some(Vec::new()))
                .set_default_capacity_provider_strategy(Some(Vec::new()))
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => {
                    return Err(Error::aws(
                        "detach the capacity providers of",
                        KIND,
                        o.display_name(),
                        e,
                    ))
                }
            }
        }
        Ok(())
    }
}

pub struct ClusterCapacity {
    pub naming: Naming,
}

impl ClusterCapacity {
    async fn attach(&self, ctx: &Ctx) -> Result<(), Error> {
        let cluster = ecs_cluster::name(&self.naming);
        let cp = capacity_provider::name(&self.naming);
        ctx.aws
            .ecs
            .put_cluster_capacity_providers()
            .cluster(&cluster)
            .capacity_providers(&cp)
            .default_capacity_provider_strategy(
                CapacityProviderStrategyItem::builder()
                    .capacity_provider(&cp)
                    .weight(1)
                    .base(0)
                    .build()
                    .map_err(|e| Error::unexpected(KIND, &cluster, e.to_string()))?,
            )
            .send()
            .await
            .map_err(|e| Error::aws("attach the capacity provider to", KIND, &cluster, e))?;
        Ok(())
    }
}

#[async_trait]
impl Resource for ClusterCapacity {
    fn key(&self) -> Key {
        key(&self.naming)
    }

    fn depends_on(&self) -> Vec<Key> {
        vec![
            ecs_cluster::key(&self.naming),
            capacity_provider::key(&self.naming),
        ]
    }

    fn desired(&self, _refs: &Refs) -> Attrs {
        let cp = capacity_provider::name(&self.naming);
        let mut a = Attrs::new();
        a.insert("capacity_providers".into(), cp.clone());
        a.insert("default_strategy".into(), format!("{cp}:1:0"));
        a
    }

    async fn create(&self, ctx: &Ctx, refs: &Refs) -> Result<Observed, Error> {
        self.attach(ctx).await?;
        let cluster = ecs_cluster::name(&self.naming);
        Ok(Observed {
            kind: KIND,
            id: cluster.clone(),
            name: Some(cluster),
            attrs: self.desired(refs),
            details: Attrs::new(),
            ready: true,
            owned: true,
        })
    }

    async fn update(
        &self,
        ctx: &Ctx,
        _current: &Observed,
        _changes: &[Change],
        _refs: &Refs,
    ) -> Result<(), Error> {
        self.attach(ctx).await
    }
}
