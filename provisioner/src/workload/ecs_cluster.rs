//! The ECS cluster. Its attached capacity providers are recorded in the
//! observed details for the attachment kind (`cluster_capacity`).

use super::tagging;
use crate::engine::{Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource};
use crate::error::aws_code;
use crate::error::is_not_found;
use crate::tags::Naming;
use crate::wait::{self, Poll};
use crate::Error;
use async_trait::async_trait;
use aws_sdk_ecs::types::{ClusterField, ClusterSetting, ClusterSettingName, Tag};

pub const KIND: &str = "ecs-cluster";

pub fn name(naming: &Naming) -> String {
    naming.name("cluster")
}

pub fn key(naming: &Naming) -> Key {
    Key::new(KIND, name(naming))
}

pub fn ecs_tags(naming: &Naming, name: &str) -> Vec<Tag> {
    naming
        .tags(name)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
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
        let cluster = name(&ctx.naming);
        let out = ctx
            .aws
            .ecs
            .describe_clusters()
            .clusters(&cluster)
            .include(ClusterField::Tags)
            .send()
            .await
            .map_err(|e| Error::aws("describe", KIND, &cluster, e))?;
        // A deleted cluster stays visible as INACTIVE for a while.
        Ok(out
            .clusters()
            .iter()
            .filter(|c| c.status() == Some("ACTIVE"))
            .map(|c| {
                let pairs: Vec<(&str, &str)> = c
                    .tags()
                    .iter()
                    .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()))
                    .collect();
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
                    "arn".into(),
                    c.cluster_arn().unwrap_or_default().to_string(),
                );
                Observed {
                    kind: KIND,
                    id: c.cluster_name().unwrap_or(&cluster).to_string(),
                    name: Some(c.cluster_name().unwrap_or(&cluster).to_string()),
                    attrs: tagging::observed(pairs.iter().copied()),
                    details,
                    ready: true,
                    owned: tagging::owns(&ctx.naming, &pairs),
                }
            })
            .collect())
    }

    /// Waits while the cluster still holds hosts that are deregistering.
    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        for o in items {
            wait::until(&ctx.wait, KIND, o.display_name(), "deleted", || async {
                match ctx.aws.ecs.delete_cluster().cluster(&o.id).send().await {
                    Ok(_) => Ok(Poll::Done),
                    Err(e) if is_not_found(&e) => Ok(Poll::Done),
                    Err(e)
                        if matches!(
                            aws_code(&e),
                            Some("ClusterContainsContainerInstancesException")
                                | Some("ClusterContainsTasksException")
                        ) =>
                    {
                        Ok(Poll::Pending("hosts still registered".into()))
                    }
                    Err(e) => Err(Error::aws("delete", KIND, o.display_name(), e)),
                }
            })
            .await?;
        }
        Ok(())
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
        tagging::desired(&self.naming, &name(&self.naming))
    }

    async fn create(&self, ctx: &Ctx, refs: &Refs) -> Result<Observed, Error> {
        let cluster = name(&self.naming);
        let out = ctx
            .aws
            .ecs
            .create_cluster()
            .cluster_name(&cluster)
            .settings(
                ClusterSetting::builder()
                    .name(ClusterSettingName::ContainerInsights)
                    .value("enabled")
                    .build(),
            )
            .set_tags(Some(ecs_tags(&self.naming, &cluster)))
            .send()
            .await
            .map_err(|e| Error::aws("create", KIND, &cluster, e))?;
        let mut details = Attrs::new();
        details.insert(
            "arn".into(),
            out.cluster()
                .and_then(|c| c.cluster_arn())
                .unwrap_or_default()
                .to_string(),
        );
        Ok(Observed {
            kind: KIND,
            id: cluster.clone(),
            name: Some(cluster),
            attrs: self.desired(refs),
            details,
            ready: true,
            owned: true,
        })
    }

    async fn update(
        &self,
        ctx: &Ctx,
        current: &Observed,
        changes: &[Change],
        _refs: &Refs,
    ) -> Result<(), Error> {
        let cluster = name(&self.naming);
        let tags = tagging::to_set(changes);
        let arn = current.details.get("arn").cloned().unwrap_or_default();
        if !tags.is_empty() {
            ctx.aws
                .ecs
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(
                    tags.into_iter()
                        .map(|(k, v)| Tag::builder().key(k).value(v).build())
                        .collect(),
                ))
                .send()
                .await
                .map_err(|e| Error::aws("tag", KIND, &cluster, e))?;
        }
        Ok(())
    }
}
