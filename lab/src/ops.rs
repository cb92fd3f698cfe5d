//! What can be done to a running lab, as data: the runner sends these to a
//! lab in its own process or, over the control socket, to `spaaace-lab up`.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::forwarder::Link;
use crate::haproxy::ServerState;
use crate::redis::FailoverTiming;
use crate::settings::LoadBalancer;
use crate::zone::Zone;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Operation {
    Describe,
    Status,
    /// SIGKILL of a node (a crashed task, a lost instance).
    KillNode {
        zone: Zone,
    },
    /// Starts a stopped node again (ECS starting a task); returns once it listens.
    StartNode {
        zone: Zone,
    },
    /// SIGTERM of a node, SIGKILL after the stop timeout (ECS stopping a task).
    StopNode {
        zone: Zone,
    },
    /// Takes a node out of the load balancer: no new connection, open ones
    /// stay (an ALB target deregistering).
    Deregister {
        zone: Zone,
    },
    /// Registers a node again: like a new ALB target it gets traffic once the
    /// healthy threshold of checks has passed.
    Register {
        zone: Zone,
    },
    /// SIGKILL of whichever Redis node is primary; answers its zone.
    KillRedisPrimary,
    /// Brings a Redis node back as a replica of the current primary.
    RestartRedis {
        zone: Zone,
    },
    /// Drops a node's traffic to Redis without closing anything.
    CutRedis {
        zone: Zone,
    },
    HealRedis {
        zone: Zone,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "kebab-case")]
pub enum Reply {
    Info(LabInfo),
    Status(LabStatus),
    Done,
    Zone { zone: Zone },
    Error { message: String },
}

/// Where everything is and the numbers it runs with.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LabInfo {
    /// The load balancer: the game's URL.
    pub http_url: String,
    pub ws_url: String,
    /// The primary endpoint (what nodes use, through their forwarders).
    pub redis_url: String,
    pub nodes: Vec<(Zone, SocketAddr)>,
    pub redis_nodes: Vec<(Zone, u16)>,
    pub load_balancer: LoadBalancer,
    pub failover: FailoverTiming,
    pub redispatch: bool,
    pub snapshot_interval_ms: u64,
    pub dir: PathBuf,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabStatus {
    pub nodes: Vec<NodeStatus>,
    /// None while no Sentinel names one (during a failover).
    pub redis_primary: Option<Zone>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    pub zone: Zone,
    pub running: bool,
    /// As the load balancer sees it.
    pub balancer: Option<ServerState>,
    /// Connections the load balancer holds open to it.
    pub connections: Option<u64>,
    pub redis_link: Link,
}

impl LabStatus {
    /// Nodes the load balancer sends new players to.
    pub fn in_service(&self) -> Vec<Zone> {
        self.nodes
            .iter()
            .filter(|n| n.balancer.as_ref().is_some_and(ServerState::in_service))
            .map(|n| n.zone)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_read_as_json_lines() {
        let op: Operation = serde_json::from_str(r#"{"op":"kill-node","zone":"b"}"#).unwrap();
        assert_eq!(op, Operation::KillNode { zone: Zone::B });
        assert_eq!(
            serde_json::to_string(&Operation::Status).unwrap(),
            r#"{"op":"status"}"#
        );
        assert!(serde_json::from_str::<Operation>(r#"{"op":"kill-node","zone":"d"}"#).is_err());
        assert!(serde_json::from_str::<Operation>(r#"{"op":"rm -rf"}"#).is_err());
    }
}
