//! Game server nodes sharing one Redis, as several ECS tasks behind a load
//! balancer: each with its own node id, a short snapshot interval, and the
//! endpoints that say what it does for each room.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use gameserver::client::GameClient;
use gameserver::persist::{lease_key, room_key, Envelope};
use gameserver::protocol::{ServerMessage, UpdateKind};
use redis::Commands;

use super::play::update_step;
use super::GameServer;

/// Any wait that should take well under a second, or a lease or two.
pub const LIMIT: Duration = Duration::from_secs(30);

pub struct Node {
    pub server: GameServer,
    pub id: String,
}

impl Node {
    /// Starts a node on `redis_url` and waits until it takes players.
    pub fn start(redis_url: &str, id: &str, extra: &[(&str, &str)]) -> Node {
        let server = GameServer::start(&[], &envs(redis_url, id, extra));
        Self::ready(server, id)
    }

    /// The same, on a given port (a node restarted where it ran before).
    pub fn start_on(port: u16, redis_url: &str, id: &str, extra: &[(&str, &str)]) -> Node {
        let server = GameServer::start_on(port, &[], &envs(redis_url, id, extra));
        Self::ready(server, id)
    }

    /// Several nodes started at the same moment.
    pub fn start_together(redis_url: &str, ids: &[&str], extra: &[(&str, &str)]) -> Vec<Node> {
        let all: Vec<Vec<(&str, &str)>> = ids.iter().map(|id| envs(redis_url, id, extra)).collect();
        GameServer::start_together(&all)
            .into_iter()
            .zip(ids)
            .map(|(server, id)| Self::ready(server, id))
            .collect()
    }

    fn ready(server: GameServer, id: &str) -> Node {
        let node = Node {
            server,
            id: id.to_string(),
        };
        wait_for("a node to be ready", || node.get("/ready").0 == 200);
        node
    }

    pub fn ws_url(&self) -> String {
        self.server.ws_url()
    }

    pub fn port(&self) -> u16 {
        self.server.port
    }

    /// (status, body); (0, "") when the node does not answer.
    pub fn get(&self, path: &str) -> (u16, String) {
        super::try_get(self.server.port, path)
    }

    /// This node's role for `room` in /cluster ("owner", "relay", ...) and the owner it names.
    pub fn role(&self, room: &str) -> Option<(String, String)> {
        let listing: serde_json::Value = serde_json::from_str(&self.get("/cluster").1).ok()?;
        let entry = listing["rooms"]
            .as_array()?
            .iter()
            .find(|r| r["room"] == room)?;
        Some((
            entry["role"].as_str()?.to_string(),
            entry["owner"].as_str().unwrap_or_default().to_string(),
        ))
    }

    /// Rooms this node owns, per /cluster.
    pub fn owned(&self) -> Vec<String> {
        let listing: serde_json::Value =
            serde_json::from_str(&self.get("/cluster").1).unwrap_or_default();
        listing["rooms"]
            .as_array()
            .map(|rooms| {
                rooms
                    .iter()
                    .filter(|r| r["role"] == "owner")
                    .filter_map(|r| r["room"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// An unlabelled sample of /metrics (0 when absent).
    pub fn metric(&self, name: &str) -> f64 {
        let body = self.get("/metrics").1;
        super::metric(&body, name).unwrap_or(0.0)
    }

    /// Sends a signal (`-STOP`, `-CONT`, ...) to the node's process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.server.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} failed");
    }
}

fn envs<'a>(
    redis_url: &'a str,
    id: &'a str,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut envs = vec![
        ("REDIS_ENABLED", "true"),
        ("REDIS_URL", redis_url),
        ("NODE_ID", id),
        ("SNAPSHOT_INTERVAL_MS", "200"),
        ("BOTS", "2"),
    ];
    envs.extend_from_slice(extra);
    envs
}

/// Polls `done` every 20 ms for at most LIMIT (a bound, not a timing assertion).
pub fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < LIMIT, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The same from async code.
pub async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < LIMIT, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The room's saved envelope, in whichever Redis `conn` reaches.
pub fn saved(conn: &mut redis::Connection, room: &str) -> Option<Envelope> {
    let value: Option<Vec<u8>> = conn.get(room_key(room)).ok()?;
    value.map(|v| Envelope::decode(room, &v).expect("a node's own snapshot decodes"))
}

/// The node and epoch the room's lease names.
pub fn holder(conn: &mut redis::Connection, room: &str) -> Option<(String, u64)> {
    let lease: BTreeMap<String, String> = conn.hgetall(lease_key(room)).ok()?;
    Some((
        lease.get("node")?.clone(),
        lease.get("epoch")?.parse().ok()?,
    ))
}

/// Reads until nothing arrives for a while (a stopped server sends nothing);
/// returns the newest step seen.
pub async fn drain(c: &mut GameClient) -> u32 {
    while let Ok(m) = tokio::time::timeout(Duration::from_millis(400), c.pump()).await {
        m.expect("the socket stays open");
    }
    c.view.world.step
}

/// Pumps until an update arrives; every update's step goes into `steps`.
pub async fn next_update(c: &mut GameClient, steps: &mut Vec<u32>) -> (u32, UpdateKind) {
    let m = c
        .pump_until(LIMIT, |_, m| update_step(m).is_some())
        .await
        .expect("an update");
    let ServerMessage::Update { body, .. } = m else {
        unreachable!()
    };
    steps.push(body.step);
    (body.step, body.kind)
}

pub fn never_back(steps: &[u32], who: &str) {
    if let Some(w) = steps.windows(2).find(|w| w[1] < w[0]) {
        panic!("{who} saw the game go back from step {} to {}", w[0], w[1]);
    }
}
