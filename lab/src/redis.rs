//! Redis as ElastiCache runs it: a primary (zone a) and a replica (zone b),
//! each with an append-only file fsynced every second, watched by three
//! Sentinels (one per zone, quorum 2) that promote the replica when the
//! primary dies. Nodes never talk to these directly: they use the primary
//! endpoint (`endpoint.rs`), as ElastiCache clients use its DNS name.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::child::Child;
use crate::error::LabError;
use crate::ports::start_listening;
use crate::wait::wait_for;
use crate::zone::Zone;
use serde::{Deserialize, Serialize};

/// The name Sentinel monitors the group under.
pub const MASTER_NAME: &str = "spaaace";
pub const QUORUM: u32 = 2;
const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const QUERY_LIMIT: Duration = Duration::from_secs(2);
/// Sentinels find each other through hello messages every 2 s.
const DISCOVERY_LIMIT: Duration = Duration::from_secs(60);

/// How fast Sentinel declares the primary dead and fails over. ElastiCache
/// takes longer (its docs say up to a minute); the lab's failover is the
/// fastest Sentinel does reliably on a busy machine.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FailoverTiming {
    pub down_after_ms: u64,
    pub failover_timeout_ms: u64,
}

impl Default for FailoverTiming {
    fn default() -> Self {
        FailoverTiming {
            down_after_ms: 1500,
            failover_timeout_ms: 6000,
        }
    }
}

struct DataNode {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

struct Sentinel {
    port: u16,
    _child: Child,
}

pub struct RedisGroup {
    data: BTreeMap<Zone, DataNode>,
    sentinels: BTreeMap<Zone, Sentinel>,
}

impl RedisGroup {
    /// Primary in zone a, replica in zone b, a Sentinel in every zone;
    /// returns once the replica is in sync and every Sentinel knows the
    /// replica and the other two Sentinels (else a failover could not happen).
    pub async fn start(dir: &Path, timing: &FailoverTiming) -> Result<RedisGroup, LabError> {
        let mut group = RedisGroup {
            data: BTreeMap::new(),
            sentinels: BTreeMap::new(),
        };
        let primary = group.start_data(dir, Zone::A, None, None).await?;
        group.start_data(dir, Zone::B, None, Some(primary)).await?;
        group.wait_in_sync(Zone::B).await?;
        for zone in Zone::ALL {
            let sentinel = start_sentinel(dir, zone, primary, timing).await?;
            group.sentinels.insert(zone, sentinel);
        }
        group.wait_sentinels_agree().await?;
        Ok(group)
    }

    /// (zone, port) of each data node, running or not.
    pub fn data_ports(&self) -> Vec<(Zone, u16)> {
        self.data.iter().map(|(z, n)| (*z, n.port)).collect()
    }

    pub fn is_running(&mut self, zone: Zone) -> bool {
        self.data
            .get_mut(&zone)
            .and_then(|n| n.child.as_mut())
            .is_some_and(|c| c.exited().is_none())
    }

    /// The primary as the Sentinels see it (the first that answers).
    pub async fn primary(&self) -> Result<Zone, LabError> {
        let mut last = String::from("no Sentinel answered");
        for sentinel in self.sentinels.values() {
            match primary_port(sentinel.port).await {
                Ok(port) => {
                    return self
                        .data
                        .iter()
                        .find(|(_, n)| n.port == port)
                        .map(|(z, _)| *z)
                        .ok_or_else(|| {
                            LabError::NoPrimary(format!(
                                "Sentinel names port {port}, which is not a lab node"
                            ))
                        })
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(LabError::NoPrimary(last))
    }

    /// SIGKILL of a data node, as a lost zone takes its cache node.
    pub fn kill(&mut self, zone: Zone) {
        if let Some(child) = self.data.get_mut(&zone).and_then(|n| n.child.as_mut()) {
            child.kill();
        }
    }

    /// Brings a data node back as a replica of the current primary, as
    /// ElastiCache replaces a failed node (never as a second primary).
    pub async fn restart_as_replica(&mut self, zone: Zone) -> Result<(), LabError> {
        if self.is_running(zone) {
            return Err(LabError::RedisUp(zone));
        }
        let primary = self.primary().await?;
        let primary_port = self.data[&primary].port;
        let node = &self.data[&zone];
        let (dir, port) = (node.dir.clone(), node.port);
        let (child, _) = start_listening(&format!("redis {zone}"), LOCALHOST, Some(port), |port| {
            let dir = dir.clone();
            async move { spawn_data(&dir, zone, port, Some(primary_port)) }
        })
        .await?;
        if let Some(node) = self.data.get_mut(&zone) {
            node.child = Some(child);
        }
        Ok(())
    }

    async fn start_data(
        &mut self,
        dir: &Path,
        zone: Zone,
        port: Option<u16>,
        replica_of: Option<u16>,
    ) -> Result<u16, LabError> {
        let zone_dir = dir.join(format!("redis-{zone}"));
        std::fs::create_dir_all(&zone_dir)
            .map_err(LabError::io(format!("creating {}", zone_dir.display())))?;
        let (child, port) = start_listening(&format!("redis {zone}"), LOCALHOST, port, |port| {
            let zone_dir = zone_dir.clone();
            async move { spawn_data(&zone_dir, zone, port, replica_of) }
        })
        .await?;
        self.data.insert(
            zone,
            DataNode {
                port,
                dir: zone_dir,
                child: Some(child),
            },
        );
        Ok(port)
    }

    async fn wait_in_sync(&self, zone: Zone) -> Result<(), LabError> {
        let port = self.data[&zone].port;
        wait_for(
            &format!("the replica in zone {zone} to sync"),
            DISCOVERY_LIMIT,
            || async move {
                let info: String = query(port, redis::cmd("INFO").arg("replication")).await?;
                Ok(info.contains("master_link_status:up"))
            },
        )
        .await
    }

    async fn wait_sentinels_agree(&self) -> Result<(), LabError> {
        let others = self.sentinels.len() - 1;
        for sentinel in self.sentinels.values() {
            let port = sentinel.port;
            wait_for(
                "every Sentinel to know the replica and the others",
                DISCOVERY_LIMIT,
                || async move {
                    let replicas: Vec<redis::Value> = query(
                        port,
                        redis::cmd("SENTINEL").arg("replicas").arg(MASTER_NAME),
                    )
                    .await?;
                    let sentinels: Vec<redis::Value> = query(
                        port,
                        redis::cmd("SENTINEL").arg("sentinels").arg(MASTER_NAME),
                    )
                    .await?;
                    Ok(replicas.len() == 1 && sentinels.len() == others)
                },
            )
            .await?;
        }
        Ok(())
    }
}

fn spawn_data(
    dir: &Path,
    zone: Zone,
    port: u16,
    replica_of: Option<u16>,
) -> Result<Child, LabError> {
    let mut cmd = Command::new("redis-server");
    cmd.args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .arg("--dir")
        .arg(dir)
        // ElastiCache's durability setting where it allows one: AOF fsynced every second.
        .args([
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
        ]);
    if let Some(primary) = replica_of {
        cmd.args(["--replicaof", "127.0.0.1", &primary.to_string()]);
    }
    Child::spawn(&format!("redis {zone}"), cmd, &dir.join("redis.log"))
}

async fn start_sentinel(
    dir: &Path,
    zone: Zone,
    primary: u16,
    timing: &FailoverTiming,
) -> Result<Sentinel, LabError> {
    let sentinel_dir = dir.join(format!("sentinel-{zone}"));
    std::fs::create_dir_all(&sentinel_dir)
        .map_err(LabError::io(format!("creating {}", sentinel_dir.display())))?;
    let (child, port) = start_listening(&format!("sentinel {zone}"), LOCALHOST, None, |port| {
        let sentinel_dir = sentinel_dir.clone();
        async move {
            // Sentinel rewrites its configuration file as it learns: it must be its own, writable.
            let config = sentinel_dir.join("sentinel.conf");
            std::fs::write(
                &config,
                sentinel_config(port, primary, &sentinel_dir, timing),
            )
            .map_err(LabError::io(format!("writing {}", config.display())))?;
            let mut cmd = Command::new("redis-sentinel");
            cmd.arg(&config);
            Child::spawn(
                &format!("sentinel {zone}"),
                cmd,
                &sentinel_dir.join("sentinel.log"),
            )
        }
    })
    .await?;
    Ok(Sentinel {
        port,
        _child: child,
    })
}

pub fn sentinel_config(port: u16, primary: u16, dir: &Path, timing: &FailoverTiming) -> String {
    format!(
        "port {port}\n\
         bind 127.0.0.1\n\
         dir {dir}\n\
         sentinel monitor {MASTER_NAME} 127.0.0.1 {primary} {QUORUM}\n\
         sentinel down-after-milliseconds {MASTER_NAME} {down}\n\
         sentinel failover-timeout {MASTER_NAME} {failover}\n\
         sentinel parallel-syncs {MASTER_NAME} 1\n",
        dir = dir.display(),
        down = timing.down_after_ms,
        failover = timing.failover_timeout_ms,
    )
}

async fn primary_port(sentinel: u16) -> Result<u16, LabError> {
    let addr: Vec<String> = query(
        sentinel,
        redis::cmd("SENTINEL")
            .arg("get-master-addr-by-name")
            .arg(MASTER_NAME),
    )
    .await?;
    addr.get(1)
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| LabError::NoPrimary(format!("Sentinel on {sentinel} answered {addr:?}")))
}

/// One command on a fresh connection, bounded in time.
pub async fn query<T: redis::FromRedisValue>(port: u16, cmd: &redis::Cmd) -> Result<T, LabError> {
    let failed = |what: &str| {
        let what = what.to_string();
        move |source| LabError::Redis { port, what, source }
    };
    let client =
        redis::Client::open(format!("redis://127.0.0.1:{port}")).map_err(failed("opening"))?;
    let call = async {
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .map_err(failed("connecting"))?;
        cmd.query_async::<T>(&mut conn)
            .await
            .map_err(failed("querying"))
    };
    tokio::time::timeout(QUERY_LIMIT, call)
        .await
        .map_err(|_| LabError::Timeout {
            what: format!("redis at port {port} to answer"),
            seconds: QUERY_LIMIT.as_secs(),
        })?
}

/// Where a zone's data node listens (for the endpoint's configuration).
pub fn data_addr(port: u16) -> SocketAddr {
    SocketAddr::new(LOCALHOST, port)
}
