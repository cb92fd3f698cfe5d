//! Taking a room before its lease runs out, against a real redis-server: only
//! when the holder's presence subscription is gone, only by a node whose own
//! presence has been steady on the same server, and never a lease written by
//! a node that keeps no presence (or had none subscribed yet). The old
//! holder's late write stays fenced.

#[path = "common/redis.rs"]
mod redis_server;

use std::time::{Duration, SystemTime};

use gameserver::persist::{
    lease_key, presence_channel, Acquired, Envelope, Fence, Presence, RedisStore, StoreOptions,
    Write,
};
use gameserver::sim::{SimConfig, World};
use redis::Commands;
use redis_server::RedisServer;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Long enough that no lease in these tests runs out by itself.
const TTL: Duration = Duration::from_secs(60);
/// What `Fence` waits before its presence may judge another's (5 s).
const SETTLE: Duration = Duration::from_millis(5100);

fn store(server: &RedisServer) -> RedisStore {
    RedisStore::open(&server.url(), StoreOptions::default()).unwrap()
}

/// A node whose presence lives until its token is cancelled.
fn node(store: &RedisStore, name: &str) -> (Fence, CancellationToken) {
    let stop = CancellationToken::new();
    let presence = Presence::spawn(store.clone(), name.into(), stop.clone());
    let fence = Fence {
        node: name.into(),
        lease_ttl: TTL,
        presence: Some(presence),
    };
    (fence, stop)
}

fn subscribers(server: &RedisServer, node: &str) -> i64 {
    let (_, n): (String, i64) = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(presence_channel(node))
        .query(&mut server.connection())
        .unwrap();
    n
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn steady(fence: &Fence) {
    let presence = fence.presence.as_ref().unwrap();
    until("the presence subscribed", || {
        presence.steady_for() > Duration::ZERO
    })
    .await;
    while presence.steady_for() < SETTLE {
        tokio::time::sleep(SETTLE - presence.steady_for()).await;
    }
}

async fn acquire(store: &RedisStore, fence: &Fence, room: &str) -> Acquired {
    store.acquire(fence, room, 0, false).await.unwrap()
}

async fn won(store: &RedisStore, fence: &Fence, room: &str) -> u64 {
    match acquire(store, fence, room).await {
        Acquired::Won { epoch } => epoch,
        other => panic!("{} should have taken {room}: {other:?}", fence.node),
    }
}

fn held_by(acquired: &Acquired) -> Option<&str> {
    match acquired {
        Acquired::Held { node, .. } => Some(node),
        _ => None,
    }
}

fn snapshot(room: &str) -> Vec<u8> {
    let world = World::new(SimConfig::default(), 3);
    Envelope::capture(room, &world, Default::default(), SystemTime::now())
        .encode()
        .unwrap()
}

#[tokio::test]
async fn a_room_is_taken_early_only_from_a_holder_whose_presence_is_gone() {
    let server = RedisServer::start();
    let store = store(&server);
    let (a, a_stop) = node(&store, "a");
    let (b, _b) = node(&store, "b");
    let legacy = Fence {
        node: "legacy".into(),
        lease_ttl: TTL,
        presence: None,
    };
    steady(&a).await;
    steady(&b).await;
    let old = won(&store, &a, "r").await;
    won(&store, &legacy, "old-node-room").await;
    let marked: Option<String> = server.connection().hget(lease_key("r"), "present").unwrap();
    assert_eq!(marked.as_deref(), Some("1"));

    // A live holder keeps its room however steady the asker.
    assert_eq!(held_by(&acquire(&store, &b, "r").await), Some("a"));
    // A node that keeps no presence was never judged by one: its lease runs out.
    assert_eq!(subscribers(&server, "legacy"), 0);
    let legacy_room = acquire(&store, &b, "old-node-room").await;
    assert_eq!(held_by(&legacy_room), Some("legacy"));
    // Nor a lease taken before its node's presence subscribed.
    let early = Fence {
        node: "early".into(),
        lease_ttl: TTL,
        presence: Some(Presence::default()),
    };
    won(&store, &early, "early-room").await;
    let marked: Option<String> = server
        .connection()
        .hget(lease_key("early-room"), "present")
        .unwrap();
    assert_eq!(marked, None);
    let early_room = acquire(&store, &b, "early-room").await;
    assert_eq!(held_by(&early_room), Some("early"));

    // a dies: its presence goes with it, and b takes the room with a
    // higher epoch though the lease had most of a minute left.
    a_stop.cancel();
    until("a's presence went", || subscribers(&server, "a") == 0).await;
    let pttl: i64 = server.connection().pttl(lease_key("r")).unwrap();
    assert!(pttl > 30_000, "{pttl} ms left");
    let new = won(&store, &b, "r").await;
    assert!(new > old);

    // Should a still be alive somewhere, its write under the old epoch is refused.
    let value = snapshot("r");
    let late = Write::Save {
        room_id: "r",
        value: &value,
        epoch: old,
    };
    assert_eq!(store.write(&a, &[late]).await.unwrap(), [false]);
}

#[tokio::test]
async fn a_node_judges_nobody_until_its_own_presence_is_steady_on_the_same_server() {
    let server = RedisServer::start();
    let elsewhere = RedisServer::start();
    let store = store(&server);
    let (a, a_stop) = node(&store, "a");
    until("a subscribed", || subscribers(&server, "a") == 1).await;
    won(&store, &a, "r").await;
    a_stop.cancel();
    until("a's presence went", || subscribers(&server, "a") == 0).await;

    // Just subscribed, as every node is right after a failover: it waits.
    let (fresh, _fresh) = node(&store, "fresh");
    until("fresh subscribed", || subscribers(&server, "fresh") == 1).await;
    assert_eq!(held_by(&acquire(&store, &fresh, "r").await), Some("a"));

    // Steady, but on another server (a connection left on a demoted primary):
    // this server has no presence of it, so it cannot tell who is gone here.
    let (stale, _stale) = node(&self::store(&elsewhere), "stale");
    steady(&stale).await;
    assert_eq!(subscribers(&server, "stale"), 0);
    assert_eq!(held_by(&acquire(&store, &stale, "r").await), Some("a"));

    steady(&fresh).await;
    won(&store, &fresh, "r").await;
}
