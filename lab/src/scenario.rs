//! The five failures the design must survive, as the seed describes them,
//! each a short script of operations on a lab. A script marks each fault
//! as it injects it; a mark that starts an episode is what players are
//! measured from.

use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::control::LabHandle;
use crate::error::LabError;
use crate::ops::{Operation, Reply};
use crate::wait::wait_for;
use crate::zone::Zone;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// kill -9 of one node, started again about a second later (ECS restarting a task).
    Crash,
    /// kill -9 of one node, not restarted (an EC2 instance lost).
    InstanceLost,
    /// kill -9 of a zone's node and of the Redis primary together; Sentinel promotes the replica.
    ZoneLost,
    /// SIGTERM of each node in turn after deregistering it, then started again (a deployment).
    RollingDeploy,
    /// One node's Redis traffic dropped, not closed, for longer than a room lease, then healed.
    RedisPartition,
}

impl Scenario {
    pub const ALL: [Scenario; 5] = [
        Scenario::Crash,
        Scenario::InstanceLost,
        Scenario::ZoneLost,
        Scenario::RollingDeploy,
        Scenario::RedisPartition,
    ];

    pub fn number(self) -> u8 {
        self as u8 + 1
    }

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Crash => "crash",
            Scenario::InstanceLost => "instance-lost",
            Scenario::ZoneLost => "zone-lost",
            Scenario::RollingDeploy => "rolling-deploy",
            Scenario::RedisPartition => "redis-partition",
        }
    }

    /// The recovery time the design (spaaace-ha-architecture.md) gives.
    pub fn design_recovery(self) -> &'static str {
        match self {
            Scenario::Crash => "2-3 s",
            Scenario::InstanceLost => "30-60 s",
            Scenario::ZoneLost => "1-2 min",
            Scenario::RollingDeploy | Scenario::RedisPartition => "-",
        }
    }

    /// The target of the HA lab issue.
    pub fn target(self) -> &'static str {
        match self {
            Scenario::Crash => "p99 < 1 s",
            Scenario::InstanceLost => "p99 < 3 s",
            Scenario::ZoneLost => "p99 < 10 s",
            Scenario::RollingDeploy => "< 1 s per player, no reset",
            Scenario::RedisPartition => "no stale write, no reset",
        }
    }
}

/// The knobs of a script.
#[derive(Clone, Debug, Serialize)]
pub struct FaultPlan {
    /// The node that fails (zone-lost takes the zone of the Redis primary).
    pub zone: Zone,
    /// Crash: how long the node stays dead.
    pub restart_after: Duration,
    /// Redis partition: how long the node is cut off.
    pub partition: Duration,
    /// Rolling deploy: how long ECS waits after deregistering a node before
    /// it stops it (the deregistration delay; less once no connection is left).
    pub drain: Duration,
}

#[derive(Clone, Debug, Serialize)]
pub struct Mark {
    #[serde(skip)]
    pub at: Instant,
    pub label: String,
    /// Players are measured from this mark.
    pub episode: bool,
}

/// What a script left broken, for `restore`.
#[derive(Clone, Debug, Default)]
pub struct Aftermath {
    node: Option<Zone>,
    redis: Option<Zone>,
}

const BACK_IN_SERVICE: Duration = Duration::from_secs(90);

pub async fn inject(
    scenario: Scenario,
    lab: &LabHandle,
    plan: &FaultPlan,
    marks: &mut Vec<Mark>,
) -> Result<Aftermath, LabError> {
    let zone = plan.zone;
    let mut mark = |label: String, episode: bool| {
        tracing::info!(%label, "fault");
        marks.push(Mark {
            at: Instant::now(),
            label,
            episode,
        });
    };
    let mut after = Aftermath::default();
    match scenario {
        Scenario::Crash => {
            mark(format!("kill -9 node {zone}"), true);
            lab.execute(Operation::KillNode { zone }).await?;
            tokio::time::sleep(plan.restart_after).await;
            mark(format!("node {zone} started again"), false);
            lab.execute(Operation::StartNode { zone }).await?;
        }
        Scenario::InstanceLost => {
            mark(format!("kill -9 node {zone}, not restarted"), true);
            lab.execute(Operation::KillNode { zone }).await?;
            after.node = Some(zone);
        }
        Scenario::ZoneLost => {
            let zone = lab.status().await?.redis_primary.ok_or_else(|| {
                LabError::NoPrimary("Sentinel names no primary before the fault".into())
            })?;
            mark(
                format!("zone {zone} lost: kill -9 node {zone} and the Redis primary"),
                true,
            );
            let (node, redis) = tokio::join!(
                lab.execute(Operation::KillNode { zone }),
                lab.execute(Operation::KillRedisPrimary)
            );
            node?;
            if let Reply::Zone { zone } = redis? {
                after.redis = Some(zone);
            }
            after.node = Some(zone);
        }
        Scenario::RollingDeploy => {
            for zone in Zone::ALL {
                mark(format!("deploy: node {zone} deregistered"), true);
                lab.execute(Operation::Deregister { zone }).await?;
                drain(lab, zone, plan.drain).await?;
                mark(format!("SIGTERM node {zone}"), false);
                lab.execute(Operation::StopNode { zone }).await?;
                lab.execute(Operation::StartNode { zone }).await?;
                lab.execute(Operation::Register { zone }).await?;
                wait_in_service(lab, zone).await?;
                mark(format!("node {zone} back in service"), false);
            }
        }
        Scenario::RedisPartition => {
            mark(format!("node {zone} cut off from Redis"), true);
            lab.execute(Operation::CutRedis { zone }).await?;
            tokio::time::sleep(plan.partition).await;
            mark(format!("node {zone} reaches Redis again"), false);
            lab.execute(Operation::HealRedis { zone }).await?;
        }
    }
    Ok(after)
}

/// Brings the lab back to three nodes and two Redis nodes.
pub async fn restore(lab: &LabHandle, after: &Aftermath) -> Result<(), LabError> {
    if let Some(zone) = after.redis {
        lab.execute(Operation::RestartRedis { zone }).await?;
    }
    if let Some(zone) = after.node {
        lab.execute(Operation::StartNode { zone }).await?;
        wait_in_service(lab, zone).await?;
    }
    Ok(())
}

/// The deregistration delay: ECS stops a task once its target is unused,
/// when it holds no connection or `limit` passed. A WebSocket stays open
/// through it: its players learn of the stop from the node's 4000.
async fn drain(lab: &LabHandle, zone: Zone, limit: Duration) -> Result<(), LabError> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let status = lab.status().await?;
        if status
            .nodes
            .iter()
            .any(|n| n.zone == zone && n.connections == Some(0))
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

async fn wait_in_service(lab: &LabHandle, zone: Zone) -> Result<(), LabError> {
    wait_for(
        &format!("node {zone} back in the load balancer"),
        BACK_IN_SERVICE,
        || async { Ok(lab.status().await?.in_service().contains(&zone)) },
    )
    .await
}
