//! The ECS cluster. Its attached capacity providers are recorded in the
//! observed details for the attachment kind (`cluster_capacity`).

use crate::aws::ecs;
use crate::engine::{Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource, State};
use crate::retry;
use crate::tags::Naming;
use crate::Error;
use async_trait::async_trait;
use aws_sdk_ecs::types::{Cluster, ClusterSetting, ClusterSettingName};

pub const KIND: &str = "ecs-cluster";

pub fn name(naming: &Naming) -> String {
    naming.name("cluster")
}

pub fn key(naming: &Naming) -> Key {
    Key::new(KIND, name(naming))
}

pub struct EcsClusterKind;

#[async_trait]
impl Kind for EcsClusterKind {
    fn name(&self) -> &'static str {
        KIND
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[]
    }

    async fn discover(&self, ctx: &Ctx, _found: &Inventory) -> Result<Vec<Observed>, Error> {
        let cluster = ecs::find_cluster(ctx, &name(&ctx.naming)).await?;
        Ok(cluster.iter().map(|c| observe(ctx, c)).collect())
    }

    /// Retried while the cluster still holds hosts that are deregistering.
    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        for o in items {
            retry::delete(ctx, KIND, o.display_name(), || {
                ctx.aws.ecs.delete_cluster().cluster(&o.id).send()
            })
            .await?;
        }
        Ok(())
    }
}

/// The cluster; its capacity providers, default strategy and attachment
/// status go in the details for the attachment kind (`cluster_capacity`).
fn observe(ctx: &Ctx, c: &Cluster) -> Observed {
    let tags = ecs::tags(c.tags());
    let cluster = c.cluster_name().unwrap_or_default().to_string();
    let mut details = Attrs::new();
    details.insert(
        "capacity_providers".into(),
        c.capacity_providers().join(","),
    );
    let strategy: Vec<String> = c
        .default_capacity_provider_strategy()
        .iter()
        .map(|s| format!("{}:{}:{}", s.capacity_provider(), s.weight(), s.base()))
        .collect();
    details.insert("default_strategy".into(), strategy.join(","));
    details.insert(
        "attachments_status".into(),
        c.attachments_status().unwrap_or_default().to_string(),
    );
    details.insert(
        "arn".into(),
        c.cluster_arn().unwrap_or_default().to_string(),
    );
    let status = c.status().unwrap_or("unknown");
    Observed {
        kind: KIND,
        id: cluster.clone(),
        name: Some(cluster),
        attrs: tags.attrs(),
        details,
        state: State::from_status(status == "ACTIVE", status),
        owned: tags.owned_by(&ctx.naming),
    }
}

pub struct EcsCluster {
    pub naming: Naming,
}

#[async_trait]
impl Resource for EcsCluster {
    fn key(&self) -> Key {
        key(&self.naming)
    }

    fn depends_on(&self) -> Vec<Key> {
        Vec::new()
    }

    fn desired(&self, _refs: &Refs) -> Attrs {
        self.naming.desired_tags(&name(&self.naming))
    }

    async fn create(&self, ctx: &Ctx, _refs: &Refs) -> Result<String, Error> {
        let cluster = name(&self.naming);
        ctx.aws
            .ecs
            .create_cluster()
            .cluster_name(&cluster)
            .settings(
                ClusterSetting::builder()
                    .name(ClusterSettingName::ContainerInsights)
                    .value("enabled")
                    .build(),
            )
            .set_tags(Some(ecs::aws_tags(&self.naming, &cluster)))
            .send()
            .await
            .map_err(|e| Error::aws("creating", KIND, &cluster, e))?;
        Ok(cluster)
    }

    async fn read(&self, ctx: &Ctx, _id: &str) -> Result<Option<Observed>, Error> {
        let cluster = ecs::find_cluster(ctx, &name(&self.naming)).await?;
        Ok(cluster.map(|c| observe(ctx, &c)))
    }

    async fn update(
        &self,
        ctx: &Ctx,
        current: &Observed,
        changes: &[Change],
        _refs: &Refs,
    ) -> Result<(), Error> {
        let arn = current.details.get("arn").cloned().unwrap_or_default();
        ecs::update_tags(ctx, KIND, &name(&self.naming), &arn, changes).await
    }
}
