//! Failure injection: the seed's failover tests, one command each. Every
//! action reports what it did and how to undo it.

use crate::engine::Ctx;
use crate::workload::{auto_scaling_group, ecs_cluster, ecs_service, replication_group};
use crate::Error;
use aws_sdk_ecs::types::DesiredStatus;
use serde::Serialize;

/// The primary's node group in a cluster-mode-disabled replication group.
pub const NODE_GROUP: &str = "0001";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChaosReport {
    pub action: &'static str,
    /// What was hit (task ARNs, instance ids, the replication group).
    pub targets: Vec<String>,
    pub effect: String,
    pub undo: String,
}

impl std::fmt::Display for ChaosReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{}: {}", self.action, self.targets.join(", "))?;
        writeln!(f, "effect: {}", self.effect)?;
        write!(f, "undo: {}", self.undo)
    }
}

/// Stops one running task of the gameserver service (ECS StopTask).
pub async fn stop_task(ctx: &Ctx) -> Result<ChaosReport, Error> {
    let cluster = ecs_cluster::name(&ctx.naming);
    let service = ecs_service::name(&ctx.naming);
    let ecs = &ctx.aws.ecs;
    let listed = ecs
        .list_tasks()
        .cluster(&cluster)
        .service_name(&service)
        .desired_status(DesiredStatus::Running)
        .send()
        .await
        .map_err(|e| Error::aws("list tasks of", ecs_service::KIND, &service, e))?;
    let arns = listed.task_arns().to_vec();
    let none = || Error::unexpected(ecs_service::KIND, &service, "has no running task to stop");
    if arns.is_empty() {
        return Err(none());
    }
    let described = ecs
        .describe_tasks()
        .cluster(&cluster)
        .set_tasks(Some(arns))
        .send()
        .await
        .map_err(|e| Error::aws("describe tasks of", ecs_service::KIND, &service, e))?;
    // A service's tasks are in the group `service:NAME`; the filter guards
    // against backends that ignore the service name in ListTasks.
    let group = format!("service:{service}");
    let task = described
        .tasks()
        .iter()
        .find(|t| t.group() == Some(group.as_str()) && t.last_status() != Some("STOPPED"))
        .and_then(|t| t.task_arn())
        .ok_or_else(none)?
        .to_string();
    ecs.stop_task()
        .cluster(&cluster)
        .task(&task)
        .reason("spaaace-provisioner chaos stop-task")
        .send()
        .await
        .map_err(|e| Error::aws("stop task of", ecs_service::KIND, &task, e))?;
    Ok(ChaosReport {
        action: "stop-task",
        targets: vec![task],
        effect: format!("ECS starts a replacement task for {service}; its players reconnect and resume from Redis"),
        undo: "nothing to undo: the service restores its desired count by itself".into(),
    })
}

/// The hosts of the group with their zones.
async fn hosts(ctx: &Ctx) -> Result<Vec<auto_scaling_group::Host>, Error> {
    let group = auto_scaling_group::name(&ctx.naming);
    let out = ctx
        .aws
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(&group)
        .send()
        .await
        .map_err(|e| Error::aws("describe", auto_scaling_group::KIND, &group, e))?;
    let g = out.auto_scaling_groups().first().ok_or_else(|| {
        Error::unexpected(
            auto_scaling_group::KIND,
            &group,
            "does not exist; run `up` first",
        )
    })?;
    Ok(g.instances()
        .iter()
        .filter(|i| i.lifecycle_state().map(|s| s.as_str()) == Some("InService"))
        .map(|i| auto_scaling_group::Host {
            instance_id: i.instance_id().unwrap_or_default().to_string(),
            zone: i.availability_zone().unwrap_or_default().to_string(),
            protected: i.protected_from_scale_in().unwrap_or(false),
        })
        .collect())
}

async fn terminate(ctx: &Ctx, ids: &[String]) -> Result<(), Error> {
    ctx.aws
        .ec2
        .terminate_instances()
        .set_instance_ids(Some(ids.to_vec()))
        .send()
        .await
        .map_err(|e| Error::aws("terminate", "instance", &ids.join(","), e))?;
    Ok(())
}

/// Terminates one ECS host (EC2 TerminateInstances).
pub async fn terminate_instance(ctx: &Ctx) -> Result<ChaosReport, Error> {
    let group = auto_scaling_group::name(&ctx.naming);
    let host = hosts(ctx).await?.into_iter().next().ok_or_else(|| {
        Error::unexpected(auto_scaling_group::KIND, &group, "has no host in service")
    })?;
    terminate(ctx, std::slice::from_ref(&host.instance_id)).await?;
    Ok(ChaosReport {
        action: "terminate-instance",
        targets: vec![format!("{} ({})", host.instance_id, host.zone)],
        effect: format!(
            "{group} launches a replacement host; ECS moves the host's tasks to the others"
        ),
        undo: "nothing to undo: the Auto Scaling Group restores its capacity by itself".into(),
    })
}

/// The zone a `--az` argument means: a full name, or the zone letter.
pub fn resolve_zone(arg: &str, zones: &[String]) -> Option<String> {
    let arg = arg.trim().to_ascii_lowercase();
    zones
        .iter()
        .find(|z| **z == arg || (arg.len() == 1 && z.ends_with(arg.as_str())))
        .cloned()
}

/// Simulates losing a zone: the group may no longer launch there and its
/// hosts there are terminated.
pub async fn az_outage(ctx: &Ctx, az: &str) -> Result<ChaosReport, Error> {
    let group = auto_scaling_group::name(&ctx.naming);
    let asg = &ctx.aws.autoscaling;
    let out = asg
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(&group)
        .send()
        .await
        .map_err(|e| Error::aws("describe", auto_scaling_group::KIND, &group, e))?;
    let g = out.auto_scaling_groups().first().ok_or_else(|| {
        Error::unexpected(
            auto_scaling_group::KIND,
            &group,
            "does not exist; run `up` first",
        )
    })?;
    let subnet_ids: Vec<String> = g
        .vpc_zone_identifier()
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    let subnets = ctx
        .aws
        .ec2
        .describe_subnets()
        .set_subnet_ids(Some(subnet_ids))
        .send()
        .await
        .map_err(|e| Error::aws("describe subnets of", auto_scaling_group::KIND, &group, e))?;
    let by_zone: Vec<(String, String)> = subnets
        .subnets()
        .iter()
        .map(|s| {
            (
                s.availability_zone().unwrap_or_default().to_string(),
                s.subnet_id().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let zones: Vec<String> = by_zone.iter().map(|(z, _)| z.clone()).collect();
    let zone = resolve_zone(az, &zones).ok_or_else(|| {
        Error::unexpected(
            auto_scaling_group::KIND,
            &group,
            format!("--az {az} is none of its zones ({})", zones.join(", ")),
        )
    })?;
    let remaining: Vec<&str> = by_zone
        .iter()
        .filter(|(z, _)| *z != zone)
        .map(|(_, s)| s.as_str())
        .collect();
    if remaining.is_empty() {
        return Err(Error::unexpected(
            auto_scaling_group::KIND,
            &group,
            "would be left without any zone",
        ));
    }
    asg.update_auto_scaling_group()
        .auto_scaling_group_name(&group)
        .vpc_zone_identifier(remaining.join(","))
        .send()
        .await
        .map_err(|e| Error::aws("limit the zones of", auto_scaling_group::KIND, &group, e))?;
    let victims: Vec<String> = hosts(ctx)
        .await?
        .into_iter()
        .filter(|h| h.zone == zone)
        .map(|h| h.instance_id)
        .collect();
    if !victims.is_empty() {
        terminate(ctx, &victims).await?;
    }
    let mut targets = vec![format!("zone {zone}")];
    targets.extend(victims);
    Ok(ChaosReport {
        action: "az-outage",
        targets,
        effect: format!(
            "{group} launches only in the other zones; tasks there take the players over"
        ),
        undo: format!("`provisioner up` gives {group} its subnet in {zone} back"),
    })
}

/// Fails the Redis primary over to its replica (ElastiCache TestFailover).
pub async fn redis_failover(ctx: &Ctx) -> Result<ChaosReport, Error> {
    let group = replication_group::name(&ctx.naming);
    let sent = ctx
        .aws
        .elasticache
        .test_failover()
        .replication_group_id(&group)
        .node_group_id(NODE_GROUP)
        .send()
        .await
        .map_err(|e| Error::aws("failing over", replication_group::KIND, &group, e));
    match sent {
        Ok(_) => {}
        Err(e) if e.is_not_found() => {
            return Err(Error::unexpected(
                replication_group::KIND,
                &group,
                "does not exist; run `up` first",
            ))
        }
        Err(e) => return Err(e),
    }
    Ok(ChaosReport {
        action: "redis-failover",
        targets: vec![format!("{group} node group {NODE_GROUP}")],
        effect: "the replica becomes primary and the primary endpoint's DNS follows it (about a minute); \
                 game servers reconnect and keep saving"
            .into(),
        undo: "nothing to undo: the old primary rejoins as a replica".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zone_is_named_in_full_or_by_its_letter() {
        let zones = vec!["us-east-1a".to_string(), "us-east-1b".to_string()];
        assert_eq!(resolve_zone("b", &zones).as_deref(), Some("us-east-1b"));
        assert_eq!(
            resolve_zone("US-EAST-1A", &zones).as_deref(),
            Some("us-east-1a")
        );
        assert_eq!(resolve_zone("c", &zones), None);
        assert_eq!(resolve_zone("1a", &zones), None);
    }
}
