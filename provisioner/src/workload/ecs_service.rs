//! The gameserver's ECS service: on the capacity provider, spread across
//! zones then hosts, behind the target group, with a health-check grace
//! period and rolling deployments that keep full capacity (and roll back on
//! failure). `down` scales it to zero and deletes it first.

use super::{cluster_capacity, ecs_cluster, listener, target_group, task_definition};
use crate::aws::ecs;
use crate::engine::{Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource, State};
use crate::retry::{self, Presence};
use crate::tags::{self, Naming};
use crate::Error;
use async_trait::async_trait;
use aws_sdk_ecs::types::{
    CapacityProviderStrategyItem, DeploymentCircuitBreaker, DeploymentConfiguration, LoadBalancer,
    PlacementStrategy, PlacementStrategyType, PropagateTags, Service as AwsService,
};
use std::sync::Arc;

pub const KIND: &str = "ecs-service";

pub fn name(naming: &Naming) -> String {
    naming.name("gameserver")
}

pub fn key(naming: &Naming) -> Key {
    Key::new(KIND, name(naming))
}

pub struct EcsServiceKind;

/// The service as ECS reports it, when it exists and is not being deleted.
pub async fn describe(
    ctx: &Ctx,
    cluster: &str,
    service: &str,
) -> Result<Option<AwsService>, Error> {
    ecs::find_service(ctx, cluster, service).await
}

#[async_trait]
impl Kind for EcsServiceKind {
    fn name(&self) -> &'static str {
        KIND
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[
            ecs_cluster::KIND,
            cluster_capacity::KIND,
            task_definition::KIND,
            target_group::KIND,
            listener::KIND,
        ]
    }

    async fn discover(&self, ctx: &Ctx, found: &Inventory) -> Result<Vec<Observed>, Error> {
        if found.of(ecs_cluster::KIND).is_empty() {
            return Ok(Vec::new());
        }
        find(ctx, found.of(task_definition::KIND))
            .await
            .map(|o| o.into_iter().collect())
    }

    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        for o in items {
            let cluster = o
                .details
                .get("cluster")
                .cloned()
                .unwrap_or_else(|| ecs_cluster::name(&ctx.naming));
            delete_service(ctx, &cluster, o.display_name()).await?;
        }
        Ok(())
    }
}

/// The environment's service; `known` are task definitions already read,
/// so the revision it runs is read only when it is another one.
async fn find(ctx: &Ctx, known: &[Observed]) -> Result<Option<Observed>, Error> {
    let cluster = ecs_cluster::name(&ctx.naming);
    let Some(s) = ecs::find_service(ctx, &cluster, &name(&ctx.naming)).await? else {
        return Ok(None);
    };
    let tags = ecs::tags(s.tags());
    let mut attrs = tags.attrs();
    attrs.insert("desired_count".into(), s.desired_count().to_string());
    let groups: Vec<&str> = s
        .load_balancers()
        .iter()
        .filter_map(|l| l.target_group_arn())
        .collect();
    attrs.insert("target_group".into(), groups.join(","));
    let running = s.task_definition().unwrap_or_default();
    attrs.insert(
        "task_definition".into(),
        running_fingerprint(ctx, known, running).await?,
    );
    let mut details = Attrs::new();
    details.insert("task_definition_arn".into(), running.to_string());
    details.insert("running_count".into(), s.running_count().to_string());
    details.insert("cluster".into(), cluster);
    Ok(Some(Observed {
        kind: KIND,
        id: s.service_arn().unwrap_or_default().to_string(),
        name: s.service_name().map(String::from),
        attrs,
        details,
        state: State::Ready,
        owned: tags.owned_by(&ctx.naming),
    }))
}

/// The fingerprint of the revision the service runs: from a task definition
/// already read when it is that one, else read.
async fn running_fingerprint(ctx: &Ctx, known: &[Observed], arn: &str) -> Result<String, Error> {
    if let Some(latest) = known.iter().find(|t| t.id == arn) {
        return Ok(task_definition::fingerprint(&latest.attrs));
    }
    Ok(ecs::find_task_definition(ctx, arn)
        .await?
        .map(|(td, _)| task_definition::fingerprint(&task_definition::attrs_of(&td)))
        .unwrap_or_default())
}

/// The trap: scale to zero (tasks drain from the target group), delete,
/// and wait until ECS has let the service go.
pub async fn delete_service(ctx: &Ctx, cluster: &str, service: &str) -> Result<(), Error> {
    let delete = || async {
        let scaled = ctx
            .aws
            .ecs
            .update_service()
            .cluster(cluster)
            .service(service)
            .desired_count(0)
            .send()
            .await
            .map_err(|e| Error::aws("scaling to zero", KIND, service, e));
        if let Err(e) = scaled {
            if !e.is_not_found() {
                return Err(e);
            }
        }
        ctx.aws
            .ecs
            .delete_service()
            .cluster(cluster)
            .service(service)
            .force(true)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::aws("deleting", KIND, service, e))
    };
    let probe = || async {
        let out = ctx
            .aws
            .ecs
            .describe_services()
            .cluster(cluster)
            .services(service)
            .send()
            .await
            .map_err(|e| Error::aws("reading", KIND, service, e));
        let out = match out {
            Ok(out) => out,
            Err(e) if e.is_not_found() => return Ok(Presence::Gone),
            Err(e) => return Err(e),
        };
        Ok(match out.services().first().and_then(|s| s.status()) {
            None | Some("INACTIVE") => Presence::Gone,
            Some("ACTIVE") => Presence::Present("ACTIVE".into()),
            Some(status) => Presence::Going(status.to_string()),
        })
    };
    retry::delete_until_gone(ctx, KIND, service, delete, probe).await
}

pub struct EcsService {
    pub naming: Naming,
    pub task: Arc<task_definition::TaskDefinition>,
    pub desired_count: i32,
    pub port: u16,
    pub health_check_grace_seconds: i32,
}

#[async_trait]
impl Resource for EcsService {
    fn key(&self) -> Key {
        key(&self.naming)
    }

    fn depends_on(&self) -> Vec<Key> {
        vec![
            ecs_cluster::key(&self.naming),
            cluster_capacity::key(&self.naming),
            task_definition::key(&self.naming),
            target_group::key(&self.naming),
            // A target group must belong to a load balancer before a
            // service can register with it.
            Key::new(listener::KIND, listener::name(&self.naming, 80)),
        ]
    }

    fn desired(&self, refs: &Refs) -> Attrs {
        let mut a = self.naming.desired_tags(&name(&self.naming));
        a.insert("desired_count".into(), self.desired_count.to_string());
        a.insert(
            "target_group".into(),
            refs.id(&target_group::key(&self.naming)),
        );
        a.insert(
            "task_definition".into(),
            task_definition::fingerprint(&self.task.desired(refs)),
        );
        a
    }

    async fn create(&self, ctx: &Ctx, refs: &Refs) -> Result<String, Error> {
        let svc = name(&self.naming);
        let cluster = ecs_cluster::name(&self.naming);
        let cp = super::capacity_provider::name(&self.naming);
        let build =
            |e: aws_sdk_ecs::error::BuildError| Error::unexpected(KIND, &svc, e.to_string());
        ctx.aws
            .ecs
            .create_service()
            .cluster(&cluster)
            .service_name(&svc)
            .task_definition(task_definition::family(&self.naming))
            .desired_count(self.desired_count)
            .capacity_provider_strategy(
                CapacityProviderStrategyItem::builder()
                    .capacity_provider(&cp)
                    .weight(1)
                    .base(0)
                    .build()
                    .map_err(build)?,
            )
            .load_balancers(
                LoadBalancer::builder()
                    .target_group_arn(refs.require(&target_group::key(&self.naming))?)
                    .container_name(task_definition::CONTAINER)
                    .container_port(i32::from(self.port))
                    .build(),
            )
            .health_check_grace_period_seconds(self.health_check_grace_seconds)
            .placement_strategy(
                PlacementStrategy::builder()
                    .r#type(PlacementStrategyType::Spread)
                    .field("attribute:ecs.availability-zone")
                    .build(),
            )
            .placement_strategy(
                PlacementStrategy::builder()
                    .r#type(PlacementStrategyType::Spread)
                    .field("instanceId")
                    .build(),
            )
            .deployment_configuration(
                DeploymentConfiguration::builder()
                    .minimum_healthy_percent(100)
                    .maximum_percent(200)
                    .deployment_circuit_breaker(
                        DeploymentCircuitBreaker::builder()
                            .enable(true)
                            .rollback(true)
                            .build(),
                    )
                    .build(),
            )
            .enable_ecs_managed_tags(true)
            .propagate_tags(PropagateTags::Service)
            .set_tags(Some(ecs::aws_tags(&self.naming, &svc)))
            .send()
            .await
            .map_err(|e| Error::aws("creating", KIND, &svc, e))?;
        Ok(svc)
    }

    async fn read(&self, ctx: &Ctx, _id: &str) -> Result<Option<Observed>, Error> {
        find(ctx, &[]).await
    }

    async fn update(
        &self,
        ctx: &Ctx,
        current: &Observed,
        changes: &[Change],
        refs: &Refs,
    ) -> Result<(), Error> {
        let svc = name(&self.naming);
        let cluster = ecs_cluster::name(&self.naming);
        if tags::non_tag(changes).next().is_some() {
            let mut req = ctx
                .aws
                .ecs
                .update_service()
                .cluster(&cluster)
                .service(&svc)
                .desired_count(self.desired_count)
                // The family resolves to its latest revision, registered
                // earlier in this run when the task changed.
                .task_definition(task_definition::family(&self.naming));
            if changes.iter().any(|c| c.attr == "target_group") {
                req = req.load_balancers(
                    LoadBalancer::builder()
                        .target_group_arn(refs.require(&target_group::key(&self.naming))?)
                        .container_name(task_definition::CONTAINER)
                        .container_port(i32::from(self.port))
                        .build(),
                );
            }
            req.send()
                .await
                .map_err(|e| Error::aws("update", KIND, &svc, e))?;
        }
        ecs::update_tags(ctx, KIND, &svc, &current.id, changes).await
    }
}
