//! The whole topology, started in dependency order and torn down on drop:
//! Redis (primary, replica, Sentinels), the primary endpoint, a forwarder
//! per node, three nodes, then the ALB. `execute` applies an `Operation`.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::Mutex;

use crate::error::LabError;
use crate::forwarder::{Forwarder, Link};
use crate::haproxy::config::{self, NODES_BACKEND, REDIS_BACKEND};
use crate::haproxy::{AdminState, HaProxy};
use crate::node::{Node, NodeSpec};
use crate::ops::{LabInfo, LabStatus, NodeStatus, Operation, Reply};
use crate::redis::{self, FailoverTiming, RedisGroup};
use crate::settings::LoadBalancer;
use crate::wait::wait_for;
use crate::zone::Zone;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// ECS's default stop timeout between SIGTERM and SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
const SETTLE_LIMIT: Duration = Duration::from_secs(60);

#[derive(Clone, Debug)]
pub struct LabOptions {
    /// Configurations, logs and Redis data go here.
    pub dir: PathBuf,
    /// The ALB's port on 127.0.0.1 (None: a free one).
    pub alb_port: Option<u16>,
    pub gameserver: PathBuf,
    pub redispatch: bool,
    pub failover: FailoverTiming,
    pub snapshot_interval_ms: u64,
    /// More flags for every node.
    pub node_args: Vec<String>,
}

pub struct Lab {
    options: LabOptions,
    lb: LoadBalancer,
    redis: Mutex<RedisGroup>,
    endpoint: HaProxy,
    forwarders: BTreeMap<Zone, Forwarder>,
    nodes: Mutex<BTreeMap<Zone, Node>>,
    node_addrs: Vec<(Zone, SocketAddr)>,
    alb: HaProxy,
}

impl Lab {
    pub async fn start(mut options: LabOptions) -> Result<Lab, LabError> {
        let lb = LoadBalancer::shared()?;
        private_dir(&options.dir)?;
        // HAProxy takes only absolute socket paths.
        options.dir = std::path::absolute(&options.dir)
            .map_err(LabError::io(format!("resolving {}", options.dir.display())))?;
        let dir = options.dir.as_path();
        let redis = RedisGroup::start(dir, &options.failover).await?;
        let endpoint = start_endpoint(dir, &redis).await?;
        let mut forwarders = BTreeMap::new();
        for zone in Zone::ALL {
            forwarders.insert(
                zone,
                Forwarder::start(zone.node_ip().into(), endpoint.addr).await?,
            );
        }
        let mut nodes = BTreeMap::new();
        let mut node_addrs = Vec::new();
        for zone in Zone::ALL {
            let mut node = Node::new(NodeSpec {
                zone,
                binary: options.gameserver.clone(),
                redis_url: format!("redis://{}", forwarders[&zone].addr),
                log: dir.join(format!("node-{zone}.log")),
                args: node_args(&options),
            })?;
            node_addrs.push((zone, node.start().await?));
            nodes.insert(zone, node);
        }
        for node in nodes.values() {
            node.wait_ready().await?;
        }
        let alb = HaProxy::start("alb", dir, LOCALHOST, options.alb_port, |bind, socket| {
            config::alb(&config::Alb {
                bind,
                nodes: &node_addrs,
                lb: &lb,
                admin_socket: socket,
                redispatch: options.redispatch,
            })
        })
        .await?;
        let lab = Lab {
            options,
            lb,
            redis: Mutex::new(redis),
            endpoint,
            forwarders,
            nodes: Mutex::new(nodes),
            node_addrs,
            alb,
        };
        lab.wait_in_service(&Zone::ALL).await?;
        Ok(lab)
    }

    pub async fn info(&self) -> LabInfo {
        LabInfo {
            http_url: format!("http://{}/", self.alb.addr),
            ws_url: format!("ws://{}/ws", self.alb.addr),
            redis_url: format!("redis://{}", self.endpoint.addr),
            nodes: self.node_addrs.clone(),
            redis_nodes: self.redis.lock().await.data_ports(),
            load_balancer: self.lb.clone(),
            failover: self.options.failover.clone(),
            redispatch: self.options.redispatch,
            snapshot_interval_ms: self.options.snapshot_interval_ms,
            dir: self.options.dir.clone(),
        }
    }

    pub async fn execute(&self, op: Operation) -> Result<Reply, LabError> {
        match op {
            Operation::Describe | Operation::Status => tracing::debug!(?op, "lab"),
            _ => tracing::info!(?op, "lab"),
        }
        match op {
            Operation::Describe => return Ok(Reply::Info(self.info().await)),
            Operation::Status => return Ok(Reply::Status(self.status().await?)),
            Operation::KillNode { zone } => self.with_node(zone, |n| n.kill()).await?,
            Operation::StartNode { zone } => {
                self.nodes
                    .lock()
                    .await
                    .get_mut(&zone)
                    .ok_or(LabError::NodeDown(zone))?
                    .start()
                    .await?;
            }
            Operation::StopNode { zone } => {
                let mut nodes = self.nodes.lock().await;
                let node = nodes.get_mut(&zone).ok_or(LabError::NodeDown(zone))?;
                let status = node.stop(STOP_TIMEOUT).await?;
                tracing::info!(%zone, ?status, "node stopped");
            }
            Operation::Deregister { zone } => self.set_admin(zone, AdminState::Maint).await?,
            Operation::Register { zone } => {
                self.alb
                    .runtime
                    .mark_unchecked(NODES_BACKEND, zone.letter())
                    .await?;
                self.set_admin(zone, AdminState::Ready).await?
            }
            Operation::KillRedisPrimary => {
                let mut redis = self.redis.lock().await;
                let zone = redis.primary().await?;
                redis.kill(zone);
                return Ok(Reply::Zone { zone });
            }
            Operation::RestartRedis { zone } => {
                self.redis.lock().await.restart_as_replica(zone).await?
            }
            Operation::CutRedis { zone } => self.forwarders[&zone].set(Link::Cut),
            Operation::HealRedis { zone } => self.forwarders[&zone].set(Link::Open),
        }
        Ok(Reply::Done)
    }

    pub async fn status(&self) -> Result<LabStatus, LabError> {
        let servers = self.alb.runtime.servers(NODES_BACKEND).await?;
        let mut nodes = Vec::new();
        let mut running = self.nodes.lock().await;
        for zone in Zone::ALL {
            nodes.push(NodeStatus {
                zone,
                running: running.get_mut(&zone).is_some_and(Node::is_running),
                balancer: servers.iter().find(|s| s.name == zone.letter()).cloned(),
                connections: self
                    .alb
                    .runtime
                    .sessions(NODES_BACKEND, zone.letter())
                    .await?,
                redis_link: self.forwarders[&zone].link(),
            });
        }
        drop(running);
        let redis_primary = self.redis.lock().await.primary().await.ok();
        Ok(LabStatus {
            nodes,
            redis_primary,
        })
    }

    async fn with_node(
        &self,
        zone: Zone,
        f: impl FnOnce(&mut Node) -> Result<(), LabError>,
    ) -> Result<(), LabError> {
        f(self
            .nodes
            .lock()
            .await
            .get_mut(&zone)
            .ok_or(LabError::NodeDown(zone))?)
    }

    async fn set_admin(&self, zone: Zone, state: AdminState) -> Result<(), LabError> {
        self.alb
            .runtime
            .set_state(NODES_BACKEND, zone.letter(), state)
            .await
    }

    async fn wait_in_service(&self, zones: &[Zone]) -> Result<(), LabError> {
        wait_for("every node in the load balancer", SETTLE_LIMIT, || async {
            let servers = self.alb.runtime.servers(NODES_BACKEND).await?;
            Ok(zones.iter().all(|z| {
                servers
                    .iter()
                    .any(|s| s.name == z.letter() && s.in_service())
            }))
        })
        .await
    }
}

fn node_args(options: &LabOptions) -> Vec<String> {
    let mut args = vec![
        "--snapshot-interval-ms".to_string(),
        options.snapshot_interval_ms.to_string(),
    ];
    args.extend(options.node_args.iter().cloned());
    args
}

/// The primary endpoint, once it sends connections to the primary only.
async fn start_endpoint(dir: &Path, redis: &RedisGroup) -> Result<HaProxy, LabError> {
    let servers: Vec<(Zone, SocketAddr)> = redis
        .data_ports()
        .into_iter()
        .map(|(z, p)| (z, redis::data_addr(p)))
        .collect();
    let endpoint = HaProxy::start("redis-endpoint", dir, LOCALHOST, None, |bind, socket| {
        config::redis_endpoint(&config::RedisEndpoint {
            bind,
            servers: &servers,
            admin_socket: socket,
        })
    })
    .await?;
    wait_for(
        "the primary endpoint to settle on the primary",
        SETTLE_LIMIT,
        || async {
            let states = endpoint.runtime.servers(REDIS_BACKEND).await?;
            Ok(states
                .iter()
                .filter(|s| s.up)
                .map(|s| s.name.as_str())
                .eq(["a"]))
        },
    )
    .await?;
    Ok(endpoint)
}

/// The run directory, readable by its owner only: it holds the runtime
/// sockets, which have admin rights over the lab.
fn private_dir(dir: &Path) -> Result<(), LabError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).map_err(LabError::io(format!("creating {}", dir.display())))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(LabError::io(format!("restricting {}", dir.display())))
}
