//! The capacity provider's attachment to the cluster as its default
//! strategy. A kind of its own so that `down` detaches it after the service
//! is gone and before the provider is deleted.
//!
//! ECS applies an attachment change asynchronously: the cluster's
//! `attachmentsStatus` stays `UPDATE_IN_PROGRESS` until it is done (ECS API
//! reference, Cluster), and another change meanwhile is refused with
//! `UpdateInProgressException` or, for a provider still in use,
//! `ResourceInUseException` (both retried, see `crate::retry`).

use super::{capacity_provider, ecs_cluster};
use crate::aws::ecs;
use crate::engine::{Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource, State};
use crate::retry;
use crate::tags::Naming;
use crate::wait::{self, Poll};
use crate::Error;
use async_trait::async_trait;
use aws_sdk_ecs::types::CapacityProviderStrategyItem;

pub const KIND: &str = "ecs-cluster-capacity";
const IN_PROGRESS: &str = "UPDATE_IN_PROGRESS";

pub fn key(naming: &Naming) -> Key {
    Key::new(KIND, ecs_cluster::name(naming))
}

pub struct ClusterCapacityKind;

/// The attachment as read off an observed cluster; none when the cluster
/// has no capacity provider.
fn of_cluster(c: &Observed) -> Option<Observed> {
    let providers = c.details.get("capacity_providers")?;
    if providers.is_empty() {
        return None;
    }
    let mut attrs = Attrs::new();
    attrs.insert("capacity_providers".into(), providers.clone());
    attrs.insert(
        "default_strategy".into(),
        c.details
            .get("default_strategy")
            .cloned()
            .unwrap_or_default(),
    );
    let status = c
        .details
        .get("attachments_status")
        .cloned()
        .unwrap_or_default();
    Some(Observed {
        kind: KIND,
        id: c.id.clone(),
        name: c.name.clone(),
        attrs,
        details: Attrs::new(),
        state: State::from_status(status != IN_PROGRESS, status),
        owned: c.owned,
    })
}

/// Until ECS has applied the last attachment change.
async fn settled(ctx: &Ctx, cluster: &str) -> Result<(), Error> {
    wait::until(&ctx.wait, KIND, cluster, "settled", || async {
        let status = ecs::find_cluster(ctx, cluster)
            .await?
            .and_then(|c| c.attachments_status().map(str::to_string));
        Ok(match status.as_deref() {
            Some(IN_PROGRESS) => Poll::Pending(IN_PROGRESS.into()),
            _ => Poll::Done,
        })
    })
    .await
}

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
            .filter_map(of_cluster)
            .collect())
    }

    /// Detaches every provider, retried while ECS says one is in use or an
    /// update is running, then waits until the cluster has settled.
    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        for o in items {
            retry::deleting(ctx, KIND, o.display_name(), || async {
                ctx.aws
                    .ecs
                    .put_cluster_capacity_providers()
                    .cluster(&o.id)
                    .set_capacity_providers(Some(Vec::new()))
                    .set_default_capacity_provider_strategy(Some(Vec::new()))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| Error::aws("detaching the capacity providers of", KIND, &o.id, e))
            })
            .await?;
            settled(ctx, &o.id).await?;
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
        let strategy = CapacityProviderStrategyItem::builder()
            .capacity_provider(&cp)
            .weight(1)
            .base(0)
            .build()
            .map_err(|e| Error::unexpected(KIND, &cluster, e.to_string()))?;
        retry::while_busy(ctx, KIND, &cluster, || async {
            ctx.aws
                .ecs
                .put_cluster_capacity_providers()
                .cluster(&cluster)
                .capacity_providers(&cp)
                .default_capacity_provider_strategy(strategy.clone())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| Error::aws("attaching the capacity provider to", KIND, &cluster, e))
        })
        .await
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

    async fn create(&self, ctx: &Ctx, _refs: &Refs) -> Result<String, Error> {
        self.attach(ctx).await?;
        Ok(ecs_cluster::name(&self.naming))
    }

    async fn read(&self, ctx: &Ctx, _id: &str) -> Result<Option<Observed>, Error> {
        let cluster = ecs_cluster::EcsCluster {
            naming: self.naming.clone(),
        };
        let observed = cluster.read(ctx, "").await?;
        Ok(observed.as_ref().and_then(of_cluster))
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
