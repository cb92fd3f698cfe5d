//! Several real `gameserver` processes on one real redis-server, as ECS
//! tasks behind a load balancer: one world per room whichever node a player
//! lands on; kill -9 and SIGSTOP of an owner; three nodes starting at once on
//! saved rooms; a rolling restart; a Redis primary switched to its replica
//! and back behind a moving address; a room started while Redis was out of
//! reach yielding to the saved one.

mod common;
#[path = "common/redis.rs"]
mod redis_server;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use common::cluster::{wait_until, Node, LIMIT};
use common::forwarder::Forwarder;
use common::play::{hunt, play_a_little, update_step};
use gameserver::client::{ClientError, GameClient};
use gameserver::persist::{lease_key, room_key, Envelope, PlayerRecord};
use gameserver::protocol::{close, ServerMessage, UpdateKind};
use gameserver::sim::{SimConfig, World};
use gameserver::token::TokenHash;
use redis::Commands;
use redis_server::RedisServer;

/// The room's saved envelope, as whichever Redis holds it.
fn saved(redis: &RedisServer, room: &str) -> Option<Envelope> {
    let value: Option<Vec<u8>> = redis.connection().get(room_key(room)).ok()?;
    value.map(|v| Envelope::decode(room, &v).expect("a node's own snapshot decodes"))
}

/// The node and epoch the room's lease names.
fn holder(redis: &RedisServer, room: &str) -> Option<(String, u64)> {
    let lease: BTreeMap<String, String> = redis.connection().hgetall(lease_key(room)).ok()?;
    Some((
        lease.get("node")?.clone(),
        lease.get("epoch")?.parse().ok()?,
    ))
}

/// Reads until nothing arrives for a while (a stopped server sends nothing);
/// returns the newest step seen.
async fn drain(c: &mut GameClient) -> u32 {
    while let Ok(m) = tokio::time::timeout(Duration::from_millis(400), c.pump()).await {
        m.expect("the socket stays open");
    }
    c.view.world.step
}

/// Pumps until an update arrives; every update's step goes into `steps`.
async fn next_update(c: &mut GameClient, steps: &mut Vec<u32>) -> (u32, UpdateKind) {
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

fn never_back(steps: &[u32], who: &str) {
    if let Some(w) = steps.windows(2).find(|w| w[1] < w[0]) {
        panic!("{who} saw the game go back from step {} to {}", w[0], w[1]);
    }
}

#[tokio::test]
async fn two_players_on_two_nodes_play_one_world() {
    let redis = RedisServer::start();
    let quiet = [("BOTS", "0"), ("SEED", "3")];
    let a = Node::start(&redis.url(), "node-a", &quiet);
    let b = Node::start(&redis.url(), "node-b", &quiet);
    let mut prey = GameClient::join(&a.ws_url(), "duel", "Prey", "")
        .await
        .unwrap();
    let mut hunter = GameClient::join(&b.ws_url(), "duel", "Hunter", "")
        .await
        .unwrap();
    assert_eq!(a.role("duel"), Some(("owner".into(), "node-a".into())));
    assert_eq!(b.role("duel"), Some(("relay".into(), "node-a".into())));
    assert_eq!(
        hunter.view.welcome.token.len(),
        43,
        "the relaying node writes the token in"
    );

    // Each sees the other.
    let (prey_ship, hunter_ship) = (prey.view.my_ship, hunter.view.my_ship);
    prey.pump_until(LIMIT, |v, _| v.world.ships.contains_key(&hunter_ship))
        .await
        .unwrap();
    hunter
        .pump_until(LIMIT, |v, _| {
            v.world.ships.contains_key(&prey_ship) && v.world.ships.contains_key(&hunter_ship)
        })
        .await
        .unwrap();

    // The relayed player's inputs reach the owner and move its ship there.
    let still = prey.view.world.ships[&hunter_ship];
    play_a_little(&mut hunter, LIMIT).await;
    prey.pump_until(LIMIT, |v, _| {
        v.world
            .ships
            .get(&hunter_ship)
            .is_some_and(|s| s.vx.hypot(s.vy) > 0.04)
    })
    .await
    .expect("the owner's world never saw the relayed thrust");
    assert_eq!((still.vx, still.vy), (0.0, 0.0));

    // A hit across nodes scores, for both.
    hunt(&mut hunter, prey.player_id(), Duration::from_secs(120)).await;
    let hunter_id = hunter.player_id();
    prey.pump_until(LIMIT, |v, _| {
        v.score_of_player(hunter_id).is_some_and(|r| r.kills == 1) && v.my_ship == 0
    })
    .await
    .unwrap();
    assert_eq!(a.metric("spaaace_players_relayed_in"), 1.0);
    assert_eq!(b.metric("spaaace_players_relayed_out"), 1.0);
    assert_eq!(b.metric("spaaace_rooms_owned"), 0.0);
}

#[tokio::test]
async fn kill_9_of_the_owner_moves_the_room_and_every_player_resumes() {
    let redis = RedisServer::start();
    let interval_steps = 30;
    let settings = [("SNAPSHOT_INTERVAL_MS", "500")];
    let mut a = Node::start(&redis.url(), "node-a", &settings);
    let b = Node::start(&redis.url(), "node-b", &settings);
    let mut ann = GameClient::join(&a.ws_url(), "crash", "Ann", "")
        .await
        .unwrap();
    let mut bob = GameClient::join(&b.ws_url(), "crash", "Bob", "")
        .await
        .unwrap();
    play_a_little(&mut ann, LIMIT).await;
    play_a_little(&mut bob, LIMIT).await;
    let start = bob.view.world.step;
    // Long enough that the periodic snapshots, not the join's, are what count.
    bob.pump_until(LIMIT, |v, _| v.world.step > start + 3 * interval_steps)
        .await
        .unwrap();
    play_a_little(&mut bob, LIMIT).await;
    let (ann_player, ann_ship, ann_token) = (
        ann.player_id(),
        ann.view.my_ship,
        ann.view.welcome.token.clone(),
    );
    let (bob_player, bob_ship) = (bob.player_id(), bob.view.my_ship);

    // Frozen, then killed: what Redis holds is what a crash leaves.
    a.signal("-STOP");
    let last_seen = drain(&mut bob).await;
    let left = saved(&redis, "crash").expect("a snapshot");
    a.server.kill();
    let lost = u64::from(last_seen).saturating_sub(left.snapshot.step_count());
    // One snapshot interval, plus the write in flight when the node died.
    assert!(lost <= 2 * u64::from(interval_steps), "{lost} steps lost");

    // Bob's socket on b stays open: a pause, then b's world, never older.
    let mut steps = vec![last_seen];
    let (_, kind) = next_update(&mut bob, &mut steps).await;
    assert_eq!(
        kind,
        UpdateKind::Full,
        "the new owner starts with a full update"
    );
    for _ in 0..10 {
        next_update(&mut bob, &mut steps).await;
    }
    never_back(&steps, "Bob");
    assert_eq!(bob.player_id(), bob_player);
    assert!(bob.view.world.ships.contains_key(&bob_ship), "Bob's ship");
    assert_eq!(b.role("crash"), Some(("owner".into(), "node-b".into())));
    assert_eq!(holder(&redis, "crash").map(|h| h.0), Some("node-b".into()));
    play_a_little(&mut bob, LIMIT).await;

    // Ann's node is gone: she reconnects through the load balancer to b.
    let ann = GameClient::join(&b.ws_url(), "crash", "", &ann_token)
        .await
        .unwrap();
    let w = &ann.view.welcome;
    assert!(w.resumed, "Ann's token did not resume her");
    assert_eq!((w.player_id, w.ship_id), (ann_player, ann_ship));
    assert!(w.step >= last_seen, "Ann came back to an older world");
    assert_eq!(b.metric("spaaace_takeovers_total"), 1.0);
    assert!(b.metric("spaaace_takeover_seconds_count") >= 1.0);
}

#[tokio::test]
async fn an_owner_paused_past_its_lease_stops_and_its_late_write_is_refused() {
    let redis = RedisServer::start();
    let a = Node::start(&redis.url(), "node-a", &[]);
    let b = Node::start(&redis.url(), "node-b", &[]);
    let mut ann = GameClient::join(&a.ws_url(), "pause", "Ann", "")
        .await
        .unwrap();
    let mut bob = GameClient::join(&b.ws_url(), "pause", "Bob", "")
        .await
        .unwrap();
    play_a_little(&mut ann, LIMIT).await;
    play_a_little(&mut bob, LIMIT).await;
    let (_, old_epoch) = holder(&redis, "pause").unwrap();
    let ann_token = ann.view.welcome.token.clone();

    a.signal("-STOP");
    let ann_saw = drain(&mut ann).await;
    let mut steps = vec![drain(&mut bob).await];
    // b takes the room over once a's lease runs out; Bob keeps his socket.
    let (_, kind) = next_update(&mut bob, &mut steps).await;
    assert_eq!(kind, UpdateKind::Full);
    let (owner, new_epoch) = holder(&redis, "pause").unwrap();
    assert_eq!(owner, "node-b");
    assert!(new_epoch > old_epoch);
    // b's world runs on for a second before a wakes.
    let from = bob.view.world.step;
    while bob.view.world.step < from + 60 {
        next_update(&mut bob, &mut steps).await;
    }

    a.signal("-CONT");
    // a notices it was paused, its snapshot is refused, and it lets go.
    wait_until("a to stop the room", || {
        a.metric("spaaace_fenced_writes_refused_total") >= 1.0
            && a.metric("spaaace_rooms_owned") == 0.0
    })
    .await;
    assert!(a.metric("spaaace_lease_losses_total") >= 1.0);
    // Ann hears nothing of a's old world, only to reconnect.
    let (messages, code) = ann.conn.events_until_close(LIMIT).await.unwrap();
    assert_eq!(code, Some(close::SERVER_RESTARTING));
    let newer: Vec<u32> = messages
        .iter()
        .filter_map(update_step)
        .filter(|&s| s > ann_saw)
        .collect();
    assert!(
        newer.is_empty(),
        "a sent its stale world after waking: {newer:?}"
    );

    // Redis holds b's world, still moving on.
    let bob_at = u64::from(bob.view.world.step);
    wait_until("b's snapshots", || {
        saved(&redis, "pause")
            .is_some_and(|e| e.epoch == Some(new_epoch) && e.snapshot.step_count() > bob_at)
    })
    .await;
    // Ann comes back (through a, which now relays to b) to b's world.
    let ann = GameClient::join(&a.ws_url(), "pause", "", &ann_token)
        .await
        .unwrap();
    assert!(ann.view.welcome.resumed);
    assert!(
        ann.view.welcome.step >= ann_saw,
        "Ann came back to an older world"
    );
    assert_eq!(a.role("pause"), Some(("relay".into(), "node-b".into())));
    for _ in 0..10 {
        next_update(&mut bob, &mut steps).await;
    }
    never_back(&steps, "Bob");
}

/// A room as a node that ran before left it: a player holding `token`.
fn saved_room(room: &str, token: &str) -> Vec<u8> {
    let mut world = World::new(SimConfig::default(), 11);
    let p = world.add_player(Some("Old".into()));
    world.spawn_ship(p);
    for _ in 0..600 {
        world.step(&[]);
    }
    let record = PlayerRecord {
        token_hash: TokenHash::of(token),
        grace_deadline: None,
    };
    Envelope::capture(
        room,
        &world,
        BTreeMap::from([(p, record)]),
        SystemTime::now(),
    )
    .encode()
    .unwrap()
}

#[tokio::test]
async fn three_nodes_started_at_once_run_each_of_30_saved_rooms_exactly_once() {
    let redis = RedisServer::start();
    let rooms: Vec<String> = (0..30).map(|i| format!("saved{i}")).collect();
    let mut conn = redis.connection();
    for room in &rooms {
        let _: () = conn
            .set(room_key(room), saved_room(room, &format!("token-{room}")))
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
        assert_eq!(holder(&redis, room).map(|h| h.0).as_ref(), nodes.first());
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
            saved(&redis, room).is_some_and(|e| ids.iter().all(|id| e.players.contains_key(id)))
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
            saved(new, "swap").is_some_and(|e| e.snapshot.step_count() > at + 60)
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
        assert_eq!(holder(new, "swap").map(|h| h.0), Some("node-a".into()));
    }
}

#[tokio::test]
async fn a_room_started_while_redis_was_out_of_reach_yields_to_the_saved_one() {
    let redis = RedisServer::start();
    let endpoint = Forwarder::start(redis.port);
    let a = Node::start(&endpoint.url(), "node-a", &[]);
    // The node loses Redis; meanwhile another node's snapshot of "lost" is there.
    endpoint.point_to(common::free_port());
    endpoint.cut();
    wait_until("/health to see Redis gone", || a.get("/health").0 == 503).await;
    let _: () = redis
        .connection()
        .set(room_key("lost"), saved_room("lost", "token-old"))
        .unwrap();

    // Players still play: the room starts without its lease.
    let mut newcomer = GameClient::join(&a.ws_url(), "lost", "", "").await.unwrap();
    assert!(!newcomer.view.welcome.resumed);
    assert!(
        newcomer.view.welcome.step < 600,
        "it cannot have read the saved world"
    );
    play_a_little(&mut newcomer, LIMIT).await;
    assert_eq!(
        a.get("/ready").0,
        200,
        "a Redis outage takes no node out of the load balancer"
    );
    assert_eq!(a.role("lost").map(|r| r.0), Some("provisional".into()));

    // Redis is back: the saved world wins, the newcomer is sent to it.
    endpoint.point_to(redis.port);
    let (_, code) = newcomer.conn.events_until_close(LIMIT).await.unwrap();
    assert_eq!(code, Some(close::SERVER_RESTARTING));
    let old = GameClient::join(&a.ws_url(), "lost", "", "token-old")
        .await
        .unwrap();
    assert!(old.view.welcome.resumed, "the saved player resumes");
    assert!(old.view.welcome.step >= 600);
    wait_until("the saved world's snapshots", || {
        saved(&redis, "lost").is_some_and(|e| e.epoch.is_some())
    })
    .await;
    let kept = saved(&redis, "lost").unwrap();
    assert!(
        kept.snapshot.step_count() >= 600,
        "the fresh world overwrote the saved one"
    );
    assert_eq!(a.role("lost").map(|r| r.0), Some("owner".into()));
}
