//! Operating several real `gameserver` nodes on one real redis-server:
//! three started at once on saved rooms, a rolling restart as an ECS
//! deployment does it, and a Redis primary switched to its replica and back
//! behind a moving address (ElastiCache's DNS name, here a TCP forwarder).

mod common;
#[path = "common/redis.rs"]
mod redis_server;

use std::collections::{BTreeMap, BTreeSet};

use common::cluster::{holder, never_back, saved, wait_until, Node, LIMIT};
use common::forwarder::Forwarder;
use common::play::{play_a_little, update_step};
use common::saved_room;
use gameserver::client::{ClientError, GameClient};
use gameserver::persist::room_key;
use gameserver::protocol::close;
use redis::Commands;
use redis_server::RedisServer;

#[tokio::test]
async fn three_nodes_started_at_once_run_each_of_30_saved_rooms_exactly_once() {
    let redis = RedisServer::start();
    let rooms: Vec<String> = (0..30).map(|i| format!("saved{i}")).collect();
    let mut conn = redis.connection();
    for room in &rooms {
        let _: () = conn
            .set(
                room_key(room),
                saved_room(room, &format!("token-{room}"), 600),
            )
            .unwrap();
    }
    let nodes = Node::start_together(&redis.url(), &["n1", "n2", "n3"], &[]);
    let mut owners: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for node in &nodes {
        for room in node.owned() {
            owners.entry(room).or_default().push(node.id.clone());
        }
    }
    let twice: Vec<_> = owners.iter().filter(|(_, n)| n.len() > 1).collect();
    assert!(twice.is_empty(), "rooms run on several nodes: {twice:?}");
    let all: BTreeSet<&String> = rooms.iter().collect();
    assert_eq!(owners.keys().collect::<BTreeSet<_>>(), all);
    for (room, nodes) in &owners {
        assert_eq!(
            holder(&mut redis.connection(), room).map(|h| h.0).as_ref(),
            nodes.first()
        );
    }
    // Its player resumes through any node, in the one world.
    for (i, node) in nodes.iter().enumerate() {
        let room = &rooms[i * 7];
        let c = GameClient::join(&node.ws_url(), room, "", &format!("token-{room}"))
            .await
            .unwrap();
        assert!(c.view.welcome.resumed, "{room} via {}", node.id);
        assert!(c.view.welcome.step >= 600, "{room} started fresh");
    }
}

/// A player as a browser behind the load balancer: when its node goes, it
/// reconnects through another with its token.
struct Player {
    room: String,
    client: GameClient,
    id: u32,
    token: String,
    node: usize,
    steps: Vec<u32>,
}

impl Player {
    async fn join(nodes: &[Option<Node>], node: usize, room: &str) -> Player {
        let url = nodes[node].as_ref().expect("a live node").ws_url();
        let client = GameClient::join(&url, room, "", "").await.unwrap();
        Player {
            room: room.to_string(),
            id: client.player_id(),
            token: client.view.welcome.token.clone(),
            steps: vec![client.view.welcome.step],
            client,
            node,
        }
    }

    /// Until an update newer than `than`; every step seen is kept.
    async fn until_past(&mut self, than: u32) {
        let steps = &mut self.steps;
        self.client
            .pump_until(LIMIT, |_, m| {
                steps.extend(update_step(m));
                update_step(m).is_some_and(|s| s > than)
            })
            .await
            .unwrap_or_else(|e| panic!("{}: player {}: {e}", self.room, self.id));
    }

    /// Its node is draining: it is told to reconnect (4000), and does,
    /// through the next node that answers.
    async fn moved(&mut self, nodes: &[Option<Node>]) {
        let steps = &mut self.steps;
        let closed = self
            .client
            .pump_until(LIMIT, |_, m| {
                steps.extend(update_step(m));
                false
            })
            .await;
        match closed {
            Err(ClientError::Closed { code, .. }) => {
                assert_eq!(code, Some(close::SERVER_RESTARTING), "{}", self.room);
            }
            other => panic!("{}: player {}: {other:?}", self.room, self.id),
        }
        self.reconnect(nodes).await;
    }

    async fn reconnect(&mut self, nodes: &[Option<Node>]) {
        for step in 1..=nodes.len() {
            let next = (self.node + step) % nodes.len();
            let Some(node) = &nodes[next] else { continue };
            let Ok(client) = GameClient::join(&node.ws_url(), &self.room, "", &self.token).await
            else {
                continue;
            };
            let w = &client.view.welcome;
            assert!(
                w.resumed,
                "{}: player {} came back as a new player",
                self.room, self.id
            );
            assert_eq!(w.player_id, self.id);
            self.steps.push(w.step);
            self.client = client;
            self.node = next;
            return;
        }
        panic!("{}: no node took player {} back", self.room, self.id);
    }
}

#[tokio::test]
async fn a_rolling_restart_of_three_nodes_keeps_every_room_and_player() {
    let redis = RedisServer::start();
    let url = redis.url();
    let mut nodes: Vec<Option<Node>> = ["a-1", "b-1", "c-1"]
        .iter()
        .map(|id| Some(Node::start(&url, id, &[])))
        .collect();
    let mut players = Vec::new();
    for (i, room) in ["r0", "r1", "r2"].iter().enumerate() {
        for node in [i, (i + 1) % 3] {
            players.push(Player::join(&nodes, node, room).await);
        }
    }
    for round in 0..3 {
        for p in players.iter_mut() {
            let at = p.client.view.world.step;
            p.until_past(at).await;
        }
        // As ECS replaces a task: SIGTERM, wait for it to exit, start its successor.
        let old = nodes[round].take().unwrap();
        let port = old.port();
        let mut server = old.server;
        let status = server.terminate();
        assert!(status.success(), "node {round} exited with {status}");
        for p in players.iter_mut() {
            if p.node == round {
                p.moved(&nodes).await;
            }
            let at = p.client.view.world.step;
            p.until_past(at).await;
        }
        let id = format!("{}-2", ["a", "b", "c"][round]);
        nodes[round] = Some(Node::start_on(port, &url, &id, &[]));
        for p in players.iter_mut() {
            play_a_little(&mut p.client, LIMIT).await;
            let at = p.client.view.world.step;
            p.until_past(at).await;
        }
    }
    for p in &players {
        never_back(&p.steps, &format!("{} player {}", p.room, p.id));
    }
    // One owner per room, and every player still in its saved world.
    let live: Vec<&Node> = nodes.iter().flatten().collect();
    for room in ["r0", "r1", "r2"] {
        let owners: Vec<&str> = live
            .iter()
            .filter(|n| n.owned().iter().any(|r| r == room))
            .map(|n| n.id.as_str())
            .collect();
        assert_eq!(owners.len(), 1, "{room}: owners {owners:?}");
        let ids: BTreeSet<u32> = players
            .iter()
            .filter(|p| p.room == room)
            .map(|p| p.id)
            .collect();
        wait_until("the room's snapshot to list its players", || {
            saved(&mut redis.connection(), room)
                .is_some_and(|e| ids.iter().all(|id| e.players.contains_key(id)))
        })
        .await;
    }
}

/// Waits until `replica` has everything `primary` has.
fn in_sync(primary: &RedisServer) {
    let replicas: i64 = redis::cmd("WAIT")
        .arg(1)
        .arg(5000)
        .query(&mut primary.connection())
        .unwrap();
    assert_eq!(replicas, 1, "the replica did not catch up");
}

fn replicaof(server: &RedisServer, primary: Option<u16>) {
    let mut cmd = redis::cmd("REPLICAOF");
    match primary {
        Some(port) => cmd.arg("127.0.0.1").arg(port),
        None => cmd.arg("NO").arg("ONE"),
    };
    let _: () = cmd.query(&mut server.connection()).unwrap();
}

#[tokio::test]
async fn a_redis_primary_switched_to_its_replica_and_back_while_playing() {
    let primary = RedisServer::start();
    let port = primary.port.to_string();
    let replica = RedisServer::start_with(&["--replicaof", "127.0.0.1", &port]);
    in_sync(&primary);
    let endpoint = Forwarder::start(primary.port);
    let a = Node::start(&endpoint.url(), "node-a", &[]);
    let b = Node::start(&endpoint.url(), "node-b", &[]);
    let mut ann = GameClient::join(&a.ws_url(), "swap", "Ann", "")
        .await
        .unwrap();
    let mut bob = GameClient::join(&b.ws_url(), "swap", "Bob", "")
        .await
        .unwrap();
    play_a_little(&mut ann, LIMIT).await;
    play_a_little(&mut bob, LIMIT).await;

    for (old, new) in [(&primary, &replica), (&replica, &primary)] {
        in_sync(old);
        // The failover: the replica is promoted, the old primary follows it,
        // and the endpoint's name moves. Open connections stay where they were.
        replicaof(new, None);
        replicaof(old, Some(new.port));
        endpoint.point_to(new.port);
        let at = u64::from(bob.view.world.step);
        wait_until("snapshots on the new primary", || {
            saved(&mut new.connection(), "swap").is_some_and(|e| e.snapshot.step_count() > at + 60)
        })
        .await;
        // Both players play on, the relayed one through the new primary too.
        play_a_little(&mut ann, LIMIT).await;
        play_a_little(&mut bob, LIMIT).await;
        let ann_id = ann.player_id();
        bob.pump_until(LIMIT, |v, m| {
            update_step(m).is_some() && v.world.ships.values().any(|s| s.player == ann_id)
        })
        .await
        .unwrap();
        // Still one owner.
        assert_eq!(a.role("swap"), Some(("owner".into(), "node-a".into())));
        assert_eq!(b.role("swap"), Some(("relay".into(), "node-a".into())));
        assert_eq!(
            holder(&mut new.connection(), "swap").map(|h| h.0),
            Some("node-a".into())
        );
    }
}
