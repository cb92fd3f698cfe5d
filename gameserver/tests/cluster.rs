//! Several real `gameserver` processes on one real redis-server, as ECS
//! tasks behind a load balancer, playing: one world per room whichever node
//! a player lands on; kill -9 and SIGSTOP of a room's owner (a crashed
//! owner's room moving before its lease runs out); Redis out of
//! reach of every node for longer than a lease; a room started while Redis
//! was out of reach yielding to the saved one.
//! (Starting, deploying and failing Redis over: tests/cluster_ops.rs.)

mod common;
#[path = "common/redis.rs"]
mod redis_server;

use std::time::Duration;

use common::cluster::{drain, holder, never_back, next_update, saved, wait_until, Node, LIMIT};
use common::forwarder::Forwarder;
use common::play::{hunt, play_a_little, update_step};
use common::saved_room;
use gameserver::client::GameClient;
use gameserver::persist::room_key;
use gameserver::protocol::{close, UpdateKind};
use redis::Commands;
use redis_server::RedisServer;

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
    let listing = b.get("/cluster").1;
    assert_eq!(listing.matches("\"owner\"").count(), 1, "{listing}");
    assert!(
        listing.starts_with(r#"{"node":"node-b","rooms":[{"room":"duel""#),
        "{listing}"
    );
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
    let survivors = [
        Node::start(&redis.url(), "node-b", &settings),
        Node::start(&redis.url(), "node-c", &settings),
    ];
    let mut ann = GameClient::join(&a.ws_url(), "crash", "Ann", "")
        .await
        .unwrap();
    let mut relayed = Vec::new();
    for (node, name) in survivors.iter().zip(["Bob", "Cid"]) {
        relayed.push(
            GameClient::join(&node.ws_url(), "crash", name, "")
                .await
                .unwrap(),
        );
    }
    play_a_little(&mut ann, LIMIT).await;
    for c in relayed.iter_mut() {
        play_a_little(c, LIMIT).await;
    }
    let start = relayed[0].view.world.step;
    // Long enough that the periodic snapshots, not the join's, are what count.
    relayed[0]
        .pump_until(LIMIT, |v, _| v.world.step > start + 3 * interval_steps)
        .await
        .unwrap();
    play_a_little(&mut relayed[0], LIMIT).await;
    let (ann_player, ann_ship, ann_token) = (
        ann.player_id(),
        ann.view.my_ship,
        ann.view.welcome.token.clone(),
    );

    // Frozen, then killed: what Redis holds is what a crash leaves.
    a.signal("-STOP");
    let mut last_seen = Vec::new();
    for c in relayed.iter_mut() {
        last_seen.push(drain(c).await);
    }
    let left = saved(&mut redis.connection(), "crash").expect("a snapshot");
    a.server.kill();
    let newest = *last_seen.iter().max().unwrap();
    let lost = u64::from(newest).saturating_sub(left.snapshot.step_count());
    // One snapshot interval, plus the write in flight when the node died.
    assert!(lost <= 2 * u64::from(interval_steps), "{lost} steps lost");

    // One survivor takes the room over, the other follows it; both players
    // keep their sockets: a pause, then a full update, never an older world.
    for (c, seen) in relayed.iter_mut().zip(&last_seen) {
        let (player, ship) = (c.player_id(), c.view.my_ship);
        let mut steps = vec![*seen];
        let (_, kind) = next_update(c, &mut steps).await;
        assert_eq!(
            kind,
            UpdateKind::Full,
            "a moved player starts with a full update"
        );
        for _ in 0..10 {
            next_update(c, &mut steps).await;
        }
        never_back(&steps, &format!("player {player}"));
        assert_eq!(c.player_id(), player);
        assert!(
            c.view.world.ships.contains_key(&ship),
            "player {player}'s ship"
        );
        play_a_little(c, LIMIT).await;
    }
    let (owner, _) = holder(&mut redis.connection(), "crash").unwrap();
    let (taker, follower) = match owner.as_str() {
        "node-b" => (&survivors[0], &survivors[1]),
        _ => (&survivors[1], &survivors[0]),
    };
    assert_eq!(taker.role("crash"), Some(("owner".into(), owner.clone())));
    assert_eq!(
        follower.role("crash"),
        Some(("relay".into(), owner.clone()))
    );
    assert_eq!(taker.metric("spaaace_takeovers_total"), 1.0);
    assert!(taker.metric("spaaace_takeover_seconds_count") >= 1.0);

    // Ann's node is gone: the load balancer sends her to another node.
    let ann = GameClient::join(&follower.ws_url(), "crash", "", &ann_token)
        .await
        .unwrap();
    let w = &ann.view.welcome;
    assert!(w.resumed, "Ann's token did not resume her");
    assert_eq!((w.player_id, w.ship_id), (ann_player, ann_ship));
    assert!(w.step >= newest, "Ann came back to an older world");
}

/// A crashed owner's presence in Redis goes with its process: the room moves
/// at once, not when its lease (a minute here, longer than any wait of this
/// test) runs out.
#[tokio::test]
async fn a_crashed_owners_room_moves_long_before_its_lease_runs_out() {
    let redis = RedisServer::start();
    let settings = [("LEASE_TTL_MS", "60000")];
    let mut a = Node::start(&redis.url(), "node-a", &settings);
    let b = Node::start(&redis.url(), "node-b", &settings);
    // b judges another node's presence once its own has been steady 5 s.
    let b_started = tokio::time::Instant::now();
    let mut ann = GameClient::join(&a.ws_url(), "crash", "Ann", "")
        .await
        .unwrap();
    let mut bob = GameClient::join(&b.ws_url(), "crash", "Bob", "")
        .await
        .unwrap();
    play_a_little(&mut ann, LIMIT).await;
    play_a_little(&mut bob, LIMIT).await;
    assert_eq!(b.role("crash"), Some(("relay".into(), "node-a".into())));
    tokio::time::sleep_until(b_started + Duration::from_secs(6)).await;
    let (ann_player, ann_token) = (ann.player_id(), ann.view.welcome.token.clone());
    let bob_player = bob.player_id();

    a.server.kill();
    // Updates already on their way come first; then b's room starts Bob
    // over with a full update. Each wait is bounded by LIMIT, half the lease.
    let mut steps = vec![bob.view.world.step];
    while next_update(&mut bob, &mut steps).await.1 != UpdateKind::Full {}
    next_update(&mut bob, &mut steps).await;
    never_back(&steps, "Bob");
    assert_eq!(bob.player_id(), bob_player);
    assert_eq!(b.role("crash"), Some(("owner".into(), "node-b".into())));
    assert_eq!(b.metric("spaaace_takeovers_total"), 1.0);

    let ann = GameClient::join(&b.ws_url(), "crash", "", &ann_token)
        .await
        .unwrap();
    assert!(ann.view.welcome.resumed, "Ann's token did not resume her");
    assert_eq!(ann.player_id(), ann_player);
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
    let (_, old_epoch) = holder(&mut redis.connection(), "pause").unwrap();
    let ann_token = ann.view.welcome.token.clone();

    a.signal("-STOP");
    let ann_saw = drain(&mut ann).await;
    let mut steps = vec![drain(&mut bob).await];
    // b takes the room over once a's lease runs out; Bob keeps his socket.
    let (_, kind) = next_update(&mut bob, &mut steps).await;
    assert_eq!(kind, UpdateKind::Full);
    let (owner, new_epoch) = holder(&mut redis.connection(), "pause").unwrap();
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
        saved(&mut redis.connection(), "pause")
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
        .set(room_key("lost"), saved_room("lost", "token-old", 600))
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
        saved(&mut redis.connection(), "lost").is_some_and(|e| e.epoch.is_some())
    })
    .await;
    let kept = saved(&mut redis.connection(), "lost").unwrap();
    assert!(
        kept.snapshot.step_count() >= 600,
        "the fresh world overwrote the saved one"
    );
    assert_eq!(a.role("lost").map(|r| r.0), Some("owner".into()));
}

#[tokio::test]
async fn when_redis_comes_back_after_a_long_outage_each_room_stays_with_its_owner() {
    let redis = RedisServer::start();
    // Each node reaches Redis through its own path, so one can be given it back first.
    let (to_a, to_b) = (Forwarder::start(redis.port), Forwarder::start(redis.port));
    let settings = [("LEASE_TTL_MS", "2000")];
    let a = Node::start(&to_a.url(), "node-a", &settings);
    let b = Node::start(&to_b.url(), "node-b", &settings);
    let mut ann = GameClient::join(&a.ws_url(), "outage", "Ann", "")
        .await
        .unwrap();
    let mut bob = GameClient::join(&b.ws_url(), "outage", "Bob", "")
        .await
        .unwrap();
    play_a_little(&mut ann, LIMIT).await;
    play_a_little(&mut bob, LIMIT).await;
    let before = holder(&mut redis.connection(), "outage").unwrap();

    // Every node loses Redis for longer than the lease (a failover).
    for path in [&to_a, &to_b] {
        path.point_to(common::free_port());
        path.cut();
    }
    wait_until("both nodes to see Redis gone", || {
        a.get("/health").0 == 503 && b.get("/health").0 == 503
    })
    .await;
    // The owner's own player plays on meanwhile.
    let at = ann.view.world.step;
    ann.pump_until(LIMIT, |v, _| v.world.step > at + 180)
        .await
        .expect("the room stood still without Redis");

    // The relaying node reaches Redis first and finds the lease run out; it
    // does not take the room from an owner that may only be cut off.
    to_b.point_to(redis.port);
    wait_until("Redis back for the relaying node", || {
        b.get("/health").0 == 200
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    // The owner comes back: it renews its lapsed lease, epoch unchanged.
    to_a.point_to(redis.port);
    wait_until("Redis back for the owner", || a.get("/health").0 == 200).await;
    play_a_little(&mut ann, LIMIT).await;
    play_a_little(&mut bob, LIMIT).await;
    assert_eq!(holder(&mut redis.connection(), "outage"), Some(before));
    assert_eq!(a.role("outage"), Some(("owner".into(), "node-a".into())));
    assert_eq!(b.role("outage").map(|r| r.0), Some("relay".into()));
    assert_eq!(a.metric("spaaace_lease_losses_total"), 0.0);
    assert_eq!(b.metric("spaaace_takeovers_total"), 0.0);
}
