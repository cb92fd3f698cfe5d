//! The persist layer against a real redis-server: saving, scanning, hydrating,
//! quarantine, newest-wins while Redis is away, reconnect, /health's probe,
//! passwords in the URL. (Leases and fenced writes: tests/leases.rs.)

#[path = "common/redis.rs"]
mod redis_server;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use gameserver::persist::{
    claim_saved, quarantine_key, room_key, Acquired, Envelope, Fence, PlayerRecord, RedisHealth,
    RedisStore, SnapshotWriter, StoreOptions, WriterOptions,
};
use gameserver::sim::{Input, SimConfig, World};
use gameserver::token::TokenHash;
use redis::Commands;
use redis_server::RedisServer;

const FLUSH: Duration = Duration::from_secs(20);

fn store(server: &RedisServer) -> RedisStore {
    RedisStore::open(&server.url(), fast_options()).expect("open store")
}

/// Short timeouts so outage tests move along; correctness does not depend on them.
fn fast_options() -> StoreOptions {
    StoreOptions {
        op_timeout: Duration::from_millis(500),
        connect_timeout: Duration::from_millis(300),
        max_reconnect_delay: Duration::from_millis(200),
    }
}

fn fence() -> Fence {
    Fence {
        node: "test-node".into(),
        lease_ttl: Duration::from_secs(60),
        presence: None,
    }
}

/// A writer as the test's node, whose leases it takes with `lease`.
fn writer(store: RedisStore) -> SnapshotWriter {
    let options = WriterOptions {
        min_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
    };
    SnapshotWriter::spawn(store, fence(), options, std::sync::Arc::new(|_, _| {})).0
}

async fn lease(store: &RedisStore, room: &str) -> u64 {
    match store.acquire(&fence(), room, 0, false).await.unwrap() {
        Acquired::Won { epoch } => epoch,
        other => panic!("room {room} is the test's, got {other:?}"),
    }
}

/// A room in play: bots, one player with a ship, missiles in flight.
fn room_world(seed: u64, steps: u32) -> (World, BTreeMap<u32, PlayerRecord>) {
    let mut world = World::new(
        SimConfig {
            bots: 5,
            ..SimConfig::default()
        },
        seed,
    );
    let p = world.add_player(Some("Kim".into()));
    world.spawn_ship(p);
    let fire = Input {
        up: true,
        left: true,
        right: false,
        fire: true,
    };
    for _ in 0..steps {
        world.step(&[(p, fire)]);
    }
    world.drain_events();
    let record = PlayerRecord {
        token_hash: TokenHash::of(&format!("token-{seed}")),
        grace_deadline: None,
    };
    (world, BTreeMap::from([(p, record)]))
}

fn envelope(room: &str, seed: u64, steps: u32) -> Envelope {
    let (world, players) = room_world(seed, steps);
    Envelope::capture(room, &world, players, SystemTime::now())
}

fn json(world: &World) -> String {
    serde_json::to_string(world).unwrap()
}

fn stored_step(server: &RedisServer, room: &str) -> Option<u64> {
    let value: Option<Vec<u8>> = server.connection().get(room_key(room)).unwrap();
    value.map(|v| Envelope::decode(room, &v).unwrap().snapshot.step_count())
}

#[tokio::test]
async fn written_rooms_hydrate_exactly_with_the_seeds_key_and_expiry() {
    let server = RedisServer::start();
    let store = store(&server);
    let writer = writer(store.clone());
    let mut originals = Vec::new();
    for (i, room) in ["alpha", "beta", "gamma"].into_iter().enumerate() {
        let (world, players) = room_world(i as u64 + 1, 300 + 50 * i as u32);
        let epoch = lease(&store, room).await;
        writer
            .submit(Envelope::capture(room, &world, players, SystemTime::now()).with_epoch(epoch));
        originals.push((room, world));
    }
    writer.flush(FLUSH).await.expect("flush");

    let mut conn = server.connection();
    let ttl: i64 = conn.ttl(room_key("alpha")).unwrap();
    assert!((3500..=3600).contains(&ttl), "ttl {ttl}");

    let hydration = claim_saved(&store, &fence(), Duration::from_secs(30))
        .await
        .expect("hydrate");
    assert!(hydration.refused.is_empty());
    let ids: Vec<&str> = hydration
        .rooms
        .iter()
        .map(|r| r.room.room_id.as_str())
        .collect();
    assert_eq!(ids, ["alpha", "beta", "gamma"]);
    for (claimed, (name, mut world)) in hydration.rooms.into_iter().zip(originals) {
        let room = claimed.room;
        assert_eq!(room.room_id, name);
        assert_eq!(json(&room.world), json(&world));
        assert_eq!(room.players.len(), 1);
        // Both play on identically: the step counter, ids and rng came back too.
        let mut restored = room.world;
        for _ in 0..300 {
            world.step(&[]);
            restored.step(&[]);
        }
        assert_eq!(json(&restored), json(&world));
    }
}

#[tokio::test]
async fn a_bad_value_is_quarantined_and_the_other_rooms_hydrate() {
    let server = RedisServer::start();
    let store = store(&server);
    let mut conn = server.connection();
    let good = envelope("good", 3, 200).encode().unwrap();
    let mut future = serde_json::from_slice::<serde_json::Value>(&good).unwrap();
    future["version"] = 9.into();
    future["roomId"] = "future".into();
    let _: () = conn.set(room_key("good"), &good).unwrap();
    let _: () = conn
        .set(room_key("broken"), "{\"snapshot\": trunc")
        .unwrap();
    let _: () = conn
        .set(room_key("future"), serde_json::to_vec(&future).unwrap())
        .unwrap();

    let hydration = claim_saved(&store, &fence(), Duration::from_secs(30))
        .await
        .expect("hydrate");
    let ids: Vec<&str> = hydration
        .rooms
        .iter()
        .map(|r| r.room.room_id.as_str())
        .collect();
    assert_eq!(ids, ["good"]);
    let mut refused: Vec<(&str, &str)> = hydration
        .refused
        .iter()
        .map(|r| (r.room_id.as_str(), r.reason.as_str()))
        .collect();
    refused.sort();
    assert_eq!(refused[0].0, "broken");
    assert!(
        refused[0].1.contains("not a snapshot envelope"),
        "{}",
        refused[0].1
    );
    assert_eq!(
        refused[1],
        (
            "future",
            "unknown format version 9 (this server reads version 1)"
        )
    );

    for room in ["broken", "future"] {
        let exists: bool = conn.exists(room_key(room)).unwrap();
        assert!(!exists, "{room} should have left its room key");
        let kept: BTreeMap<String, Vec<u8>> = conn.hgetall(quarantine_key(room)).unwrap();
        assert!(kept.contains_key("quarantinedAt"));
        let reason = String::from_utf8(kept["reason"].clone()).unwrap();
        assert!(refused.iter().any(|(r, why)| *r == room && *why == reason));
        let ttl: i64 = conn.ttl(quarantine_key(room)).unwrap();
        assert!(ttl > 3600, "quarantine ttl {ttl}");
    }
    let kept: Vec<u8> = conn.hget(quarantine_key("broken"), "value").unwrap();
    assert_eq!(kept, b"{\"snapshot\": trunc");

    // A second start does not see the quarantined values as rooms.
    let again = claim_saved(&store, &fence(), Duration::from_secs(30))
        .await
        .expect("hydrate");
    assert_eq!(again.rooms.len(), 1);
    assert!(again.refused.is_empty());
}

#[tokio::test]
async fn a_stopped_redis_keeps_one_pending_snapshot_per_room_and_the_newest_lands() {
    let mut server = RedisServer::start();
    let store = store(&server);
    let writer = writer(store.clone());
    let (ea, eb) = (lease(&store, "a").await, lease(&store, "b").await);
    writer.submit(envelope("a", 1, 10).with_epoch(ea));
    writer.flush(FLUSH).await.expect("first flush");
    assert_eq!(stored_step(&server, "a"), Some(10));

    // The restarted Redis is empty, leases and epochs gone: the writer takes
    // its leases back, since nobody took the rooms meanwhile.
    server.stop();
    let (mut wa, pa) = room_world(1, 10);
    let (mut wb, pb) = room_world(2, 10);
    for _ in 0..300 {
        wa.step(&[]);
        wb.step(&[]);
        writer.submit(Envelope::capture("a", &wa, pa.clone(), SystemTime::now()).with_epoch(ea));
        writer.submit(Envelope::capture("b", &wb, pb.clone(), SystemTime::now()).with_epoch(eb));
        assert!(writer.backlog() <= 4, "backlog {}", writer.backlog());
    }
    assert!(writer.flush(Duration::from_millis(300)).await.is_err());
    assert_eq!(
        RedisHealth::probe(Some(&store), Duration::from_secs(2)).await,
        RedisHealth::Disconnected
    );

    server.restart();
    writer
        .flush(FLUSH)
        .await
        .expect("flush after Redis came back");
    assert_eq!(stored_step(&server, "a"), Some(wa.step_count()));
    assert_eq!(stored_step(&server, "b"), Some(wb.step_count()));
    let stats = writer.stats();
    let written = stats.written.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        written <= 1 + 2 * 2,
        "wrote {written} snapshots for 601 submitted"
    );
    assert!(stats.superseded.load(std::sync::atomic::Ordering::Relaxed) >= 596);
    assert_eq!(
        RedisHealth::probe(Some(&store), Duration::from_secs(2)).await,
        RedisHealth::Connected
    );

    // Later snapshots keep flowing on the reconnected connection.
    writer.submit(envelope("a", 1, 5).with_epoch(ea));
    writer.flush(FLUSH).await.expect("flush after reconnect");
    assert_eq!(stored_step(&server, "a"), Some(5));
}

#[tokio::test]
async fn a_slow_redis_never_builds_a_queue() {
    let server = RedisServer::start_with(&["--enable-debug-command", "local"]);
    let store = store(&server);
    let writer = writer(store.clone());
    let epoch = lease(&store, "slow").await;
    // Redis itself stalls (single-threaded, busy) while the room keeps submitting.
    let sleeper = {
        let mut conn = server.connection();
        std::thread::spawn(move || redis::cmd("DEBUG").arg("SLEEP").arg(1).exec(&mut conn))
    };
    let (mut world, players) = room_world(4, 1);
    let mut submitted = 0;
    while !sleeper.is_finished() || submitted < 100 {
        world.step(&[]);
        writer.submit(
            Envelope::capture("slow", &world, players.clone(), SystemTime::now()).with_epoch(epoch),
        );
        submitted += 1;
        assert!(writer.backlog() <= 2, "backlog {}", writer.backlog());
        tokio::task::yield_now().await;
    }
    sleeper.join().unwrap().expect("DEBUG SLEEP");
    writer.flush(FLUSH).await.expect("flush");
    assert_eq!(stored_step(&server, "slow"), Some(world.step_count()));
    let written = writer
        .stats()
        .written
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(written < submitted, "wrote {written} of {submitted}");
}

#[tokio::test]
async fn removing_a_room_deletes_its_key_after_its_last_save() {
    let server = RedisServer::start();
    let store = store(&server);
    let writer = writer(store.clone());
    let epoch = lease(&store, "gone").await;
    writer.submit(envelope("gone", 5, 5).with_epoch(epoch));
    writer.flush(FLUSH).await.unwrap();
    writer.submit(envelope("gone", 5, 6).with_epoch(epoch));
    writer.remove("gone", epoch);
    writer.flush(FLUSH).await.unwrap();
    let mut conn = server.connection();
    let exists: bool = conn.exists(room_key("gone")).unwrap();
    assert!(!exists);
    let leased: bool = conn.exists(gameserver::persist::lease_key("gone")).unwrap();
    assert!(!leased, "a room gone for good leaves no lease behind");
}

#[tokio::test]
async fn a_password_in_the_url_works_and_never_shows_in_errors() {
    let password = "p@ss:w/rd#1";
    let server = RedisServer::start_with(&["--requirepass", password]);
    let encoded = "p%40ss%3Aw%2Frd%231";
    let url = format!("redis://:{encoded}@127.0.0.1:{}", server.port);
    let good = RedisStore::open(&url, fast_options()).unwrap();
    good.ping().await.expect("ping with the right password");
    assert!(!good.target().contains(encoded) && !good.target().contains(password));
    assert!(!format!("{good:?}").contains(encoded));

    let wrong = RedisStore::open(
        &format!("redis://:wrong-{encoded}@127.0.0.1:{}", server.port),
        fast_options(),
    )
    .unwrap();
    let err = wrong
        .ping()
        .await
        .expect_err("a wrong password must fail")
        .to_string();
    assert!(!err.contains(encoded) && !err.contains(password), "{err}");
    assert!(err.contains("127.0.0.1"), "{err}");
}

#[tokio::test]
async fn a_password_apart_from_the_url_works_and_wins_over_the_urls() {
    let password = "00ff5a-token";
    let server = RedisServer::start_with(&["--requirepass", password]);
    let plain = format!("redis://127.0.0.1:{}", server.port);
    let with_stale = format!("redis://:stale@127.0.0.1:{}", server.port);
    for url in [&plain, &with_stale] {
        let store = RedisStore::open_with_password(url, Some(password), fast_options()).unwrap();
        store.ping().await.expect("ping with the separate password");
        assert!(!format!("{store:?}").contains(password));
    }
    let without = RedisStore::open_with_password(&plain, None, fast_options()).unwrap();
    without
        .ping()
        .await
        .expect_err("no password must be refused by a server that requires one");
}
