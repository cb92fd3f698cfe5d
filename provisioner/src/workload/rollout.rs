//! Waiting until the game is reachable after `up` or `deploy` changed its
//! service: one deployment whose rollout completed, every task running, and
//! at least as many healthy targets behind the load balancer as tasks
//! wanted. When tasks do not start, the error carries what ECS says: the
//! service's latest events and the stopped tasks' reasons (ECS developer
//! guide, "Viewing Amazon ECS stopped task errors").

use super::{ecs_cluster, ecs_service, load_balancer, target_group};
use crate::aws::{ecs, elbv2};
use crate::engine::Ctx;
use crate::wait::{self, Poll, WaitPolicy};
use crate::Error;
use aws_sdk_ecs::types::{DesiredStatus, Service};
use aws_sdk_elasticloadbalancingv2::types::TargetHealthStateEnum;
use serde::Serialize;

/// The game, reachable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reachable {
    pub url: String,
    pub tasks: i32,
    pub healthy_targets: usize,
}

/// How many service events and stopped tasks an error quotes.
const QUOTED: usize = 3;

/// Polls the service and its targets until the game is reachable; fails
/// at once on a rolled-back deployment, and at the policy's timeout.
pub async fn wait_reachable(
    ctx: &Ctx,
    policy: &WaitPolicy,
    https: bool,
) -> Result<Reachable, Error> {
    let cluster = ecs_cluster::name(&ctx.naming);
    let service = ecs_service::name(&ctx.naming);
    let tg = target_group::name(&ctx.naming);
    let tg_arn = elbv2::find_target_group(ctx, &tg)
        .await?
        .and_then(|t| t.target_group_arn().map(str::to_string))
        .ok_or_else(|| Error::unexpected(target_group::KIND, &tg, "does not exist; run `up`"))?;
    let healthy = std::sync::Mutex::new((0, 0usize));
    let waited = wait::until(policy, ecs_service::KIND, &service, "reachable", || async {
        let s = ecs::find_service(ctx, &cluster, &service)
            .await?
            .ok_or_else(|| Error::unexpected(ecs_service::KIND, &service, "does not exist"))?;
        let targets = elbv2::target_health(ctx, &tg_arn, &tg).await?;
        let up = targets
            .iter()
            .filter(|t| {
                t.target_health().and_then(|h| h.state()) == Some(&TargetHealthStateEnum::Healthy)
            })
            .count();
        *healthy.lock().unwrap_or_else(|p| p.into_inner()) = (s.desired_count(), up);
        progress(&s, up)
    })
    .await;
    if let Err(e) = waited {
        let why = diagnose(ctx, &cluster, &service).await;
        return Err(Error::unexpected(
            ecs_service::KIND,
            &service,
            format!("the game did not become reachable: {e}{why}"),
        ));
    }
    let (tasks, healthy_targets) = *healthy.lock().unwrap_or_else(|p| p.into_inner());
    Ok(Reachable {
        url: url(ctx, https).await?,
        tasks,
        healthy_targets,
    })
}

/// One look at the service: done, still rolling out, or rolled back.
fn progress(s: &Service, healthy: usize) -> Result<Poll, Error> {
    let deployments = s.deployments();
    let primary = deployments.iter().find(|d| d.status() == Some("PRIMARY"));
    let rollout = primary
        .and_then(|d| d.rollout_state())
        .map(|r| r.as_str().to_string());
    if rollout.as_deref() == Some("FAILED") {
        let why = primary
            .and_then(|d| d.rollout_state_reason())
            .unwrap_or("no reason given");
        return Err(Error::unexpected(
            ecs_service::KIND,
            s.service_name().unwrap_or_default(),
            format!("the deployment failed and was rolled back: {why}"),
        ));
    }
    let desired = s.desired_count();
    let steady = deployments.len() == 1
        && s.running_count() == desired
        && s.pending_count() == 0
        && rollout.as_deref().is_none_or(|r| r == "COMPLETED");
    let wanted = usize::try_from(desired).unwrap_or(0);
    Ok(if steady && healthy >= wanted {
        Poll::Done
    } else {
        Poll::Pending(format!(
            "{}/{desired} tasks running, {healthy}/{wanted} targets healthy, rollout {}",
            s.running_count(),
            rollout.unwrap_or_else(|| "unknown".into())
        ))
    })
}

/// The service's latest events and why its last tasks stopped, as text to
/// append to an error; empty when ECS has nothing to say.
async fn diagnose(ctx: &Ctx, cluster: &str, service: &str) -> String {
    let mut lines = Vec::new();
    if let Ok(Some(s)) = ecs::find_service(ctx, cluster, service).await {
        for e in s.events().iter().take(QUOTED) {
            lines.push(format!("event: {}", e.message().unwrap_or_default()));
        }
    }
    match stopped_reasons(ctx, cluster, service).await {
        Ok(reasons) => lines.extend(reasons),
        Err(e) => tracing::debug!("reading the stopped tasks: {e}"),
    }
    if lines.is_empty() {
        String::new()
    } else {
        format!("\n  {}", lines.join("\n  "))
    }
}

/// Why the service's latest stopped tasks stopped, task and containers.
async fn stopped_reasons(ctx: &Ctx, cluster: &str, service: &str) -> Result<Vec<String>, Error> {
    let listed = ctx
        .aws
        .ecs
        .list_tasks()
        .cluster(cluster)
        .service_name(service)
        .desired_status(DesiredStatus::Stopped)
        .send()
        .await
        .map_err(|e| {
            Error::aws(
                "listing the stopped tasks of",
                ecs_service::KIND,
                service,
                e,
            )
        })?;
    let arns: Vec<String> = listed.task_arns().iter().take(QUOTED).cloned().collect();
    if arns.is_empty() {
        return Ok(Vec::new());
    }
    let described = ctx
        .aws
        .ecs
        .describe_tasks()
        .cluster(cluster)
        .set_tasks(Some(arns))
        .send()
        .await
        .map_err(|e| {
            Error::aws(
                "reading the stopped tasks of",
                ecs_service::KIND,
                service,
                e,
            )
        })?;
    Ok(described
        .tasks()
        .iter()
        .map(|t| {
            let id = t
                .task_arn()
                .and_then(|a| a.rsplit('/').next())
                .unwrap_or("?");
            let mut line = format!(
                "task {id} stopped: {}",
                t.stopped_reason().unwrap_or("no reason given")
            );
            for c in t.containers() {
                if let Some(reason) = c.reason() {
                    line.push_str(&format!("; {}: {reason}", c.name().unwrap_or("container")));
                }
            }
            line
        })
        .collect())
}

/// The game's address: the load balancer's DNS name.
async fn url(ctx: &Ctx, https: bool) -> Result<String, Error> {
    let lb = load_balancer::name(&ctx.naming);
    let dns = elbv2::find_load_balancer(ctx, &lb)
        .await?
        .and_then(|l| l.dns_name().map(str::to_string))
        .ok_or_else(|| Error::unexpected(load_balancer::KIND, &lb, "does not exist"))?;
    let scheme = if https { "https" } else { "http" };
    Ok(format!("{scheme}://{dns}/"))
}
