//! The lease scripts' decisions against a real redis-server: who takes a
//! room, renewals, release, the fence on snapshot writes after a takeover,
//! epochs that stay above a lost counter, a lease that ran out taken back by
//! its holder, and a store that follows a demoted primary.

#[path = "common/redis.rs"]
mod redis_server;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use gameserver::persist::{
    epoch_key, lease_key, room_key, take, Acquired, Envelope, Fence, Loaded, RedisStore,
    StoreOptions, Taken, Write,
};
use gameserver::sim::{SimConfig, World};
use redis::Commands;
use redis_server::RedisServer;

const TTL: Duration = Duration::from_secs(30);

fn node(name: &str) -> Fence {
    Fence {
        node: name.into(),
        lease_ttl: TTL,
        presence: None,
    }
}

fn store(server: &RedisServer) -> RedisStore {
    RedisStore::open(&server.url(), StoreOptions::default()).unwrap()
}

async fn won(store: &RedisStore, fence: &Fence, room: &str) -> u64 {
    match store.acquire(fence, room, 0, false).await.unwrap() {
        Acquired::Won { epoch } => epoch,
        other => panic!("{} should have taken {room}: {other:?}", fence.node),
    }
}

fn holder(server: &RedisServer, room: &str) -> Option<(String, u64)> {
    let lease: BTreeMap<String, String> = server.connection().hgetall(lease_key(room)).unwrap();
    Some((
        lease.get("node")?.clone(),
        lease.get("epoch")?.parse().ok()?,
    ))
}

fn snapshot(room: &str, steps: u32) -> Vec<u8> {
    let mut world = World::new(SimConfig::default(), 3);
    for _ in 0..steps {
        world.step(&[]);
    }
    Envelope::capture(room, &world, BTreeMap::new(), SystemTime::now())
        .encode()
        .unwrap()
}

fn stored_step(server: &RedisServer, room: &str) -> Option<u64> {
    let value: Option<Vec<u8>> = server.connection().get(room_key(room)).unwrap();
    value.map(|v| Envelope::decode(room, &v).unwrap().snapshot.step_count())
}

#[tokio::test]
async fn one_node_takes_a_room_others_see_it_held_each_taking_a_higher_epoch() {
    let server = RedisServer::start();
    let store = store(&server);
    let (a, b) = (node("a"), node("b"));
    let first = won(&store, &a, "r").await;
    match store.acquire(&b, "r", 0, false).await.unwrap() {
        Acquired::Held {
            node,
            epoch,
            expires_in,
        } => {
            assert_eq!((node.as_str(), epoch), ("a", first));
            assert!(
                expires_in > Duration::ZERO && expires_in <= TTL,
                "{expires_in:?}"
            );
        }
        other => panic!("b took a held room: {other:?}"),
    }
    assert_eq!(holder(&server, "r"), Some(("a".into(), first)));
    let pttl: i64 = server.connection().pttl(lease_key("r")).unwrap();
    assert!(
        pttl > 0 && pttl <= TTL.as_millis() as i64,
        "lease expires: {pttl}"
    );

    // Renewals: the holder's count, the other node's do not.
    assert_eq!(
        store.renew(&a, &[("r".into(), first)]).await.unwrap(),
        [true]
    );
    assert_eq!(
        store.renew(&b, &[("r".into(), first)]).await.unwrap(),
        [false]
    );
    assert_eq!(
        store.renew(&a, &[("r".into(), first + 1)]).await.unwrap(),
        [false]
    );

    // Release: only by the holder under its epoch; then the next owner is higher.
    assert!(!store.release(&b, "r", first).await.unwrap());
    assert!(store.release(&a, "r", first).await.unwrap());
    assert_eq!(holder(&server, "r"), None);
    let second = won(&store, &b, "r").await;
    assert!(second > first, "{second} after {first}");
    // The old holder cannot renew its way back in.
    assert_eq!(
        store.renew(&a, &[("r".into(), first)]).await.unwrap(),
        [false]
    );
    assert_eq!(holder(&server, "r"), Some(("b".into(), second)));
}

#[tokio::test]
async fn after_a_takeover_the_old_owners_snapshot_write_is_refused() {
    let server = RedisServer::start();
    let store = store(&server);
    let (a, b) = (node("a"), node("b"));
    let old = won(&store, &a, "r").await;
    let (v10, v50, v11, vs) = (
        snapshot("r", 10),
        snapshot("r", 50),
        snapshot("r", 11),
        snapshot("s", 5),
    );
    let save = |epoch, value| Write::Save {
        room_id: "r",
        value,
        epoch,
    };
    assert_eq!(store.write(&a, &[save(old, &v10)]).await.unwrap(), [true]);
    assert_eq!(stored_step(&server, "r"), Some(10));

    // a's lease runs out (it paused); b takes the room and saves its world.
    let _: () = server.connection().del(lease_key("r")).unwrap();
    let new = won(&store, &b, "r").await;
    assert_eq!(store.write(&b, &[save(new, &v50)]).await.unwrap(), [true]);

    // a wakes up and writes its older world: refused, nothing changes.
    assert_eq!(store.write(&a, &[save(old, &v11)]).await.unwrap(), [false]);
    assert_eq!(stored_step(&server, "r"), Some(50));
    let delete = Write::Delete {
        room_id: "r",
        epoch: old,
    };
    assert_eq!(store.write(&a, &[delete]).await.unwrap(), [false]);
    assert_eq!(stored_step(&server, "r"), Some(50));
    assert_eq!(holder(&server, "r"), Some(("b".into(), new)));

    // Mixed in one batch, each write is judged on its own.
    let other = won(&store, &a, "s").await;
    let batch = [
        save(old, &v11),
        Write::Save {
            room_id: "s",
            value: &vs,
            epoch: other,
        },
    ];
    assert_eq!(store.write(&a, &batch).await.unwrap(), [false, true]);
}

#[tokio::test]
async fn a_lease_that_ran_out_with_nobody_taking_over_is_taken_back_by_its_holder() {
    let server = RedisServer::start();
    let store = store(&server);
    let a = node("a");
    let epoch = won(&store, &a, "r").await;
    // Redis was unreachable past the TTL, or a failover lost the lease.
    let _: () = server.connection().del(lease_key("r")).unwrap();
    assert_eq!(
        store.renew(&a, &[("r".into(), epoch)]).await.unwrap(),
        [true]
    );
    assert_eq!(holder(&server, "r"), Some(("a".into(), epoch)));

    // Even the counter lost (an empty Redis after a restart): still nobody
    // took it, so the snapshot write lands and the lease is back.
    let _: () = redis::cmd("FLUSHALL")
        .query(&mut server.connection())
        .unwrap();
    let value = snapshot("r", 20);
    let write = Write::Save {
        room_id: "r",
        value: &value,
        epoch,
    };
    assert_eq!(store.write(&a, &[write]).await.unwrap(), [true]);
    assert_eq!(holder(&server, "r"), Some(("a".into(), epoch)));
    let counter: u64 = server.connection().get(epoch_key("r")).unwrap();
    assert_eq!(counter, epoch);
}

#[tokio::test]
async fn a_new_owner_starts_above_the_epoch_of_the_snapshot_when_the_counter_was_lost() {
    let server = RedisServer::start();
    let store = store(&server);
    let (a, b) = (node("a"), node("b"));
    let mut epoch = 0;
    for _ in 0..5 {
        epoch = won(&store, &a, "r").await;
    }
    let mut world = World::new(SimConfig::default(), 3);
    world.step(&[]);
    let value = Envelope::capture("r", &world, BTreeMap::new(), SystemTime::now())
        .with_epoch(epoch)
        .encode()
        .unwrap();
    let write = Write::Save {
        room_id: "r",
        value: &value,
        epoch,
    };
    assert_eq!(store.write(&a, &[write]).await.unwrap(), [true]);
    // A failover lost the lease and the counter, the snapshot survived.
    let _: () = server
        .connection()
        .del(&[lease_key("r"), epoch_key("r")])
        .unwrap();

    let Taken::Owned { epoch: new, loaded } = take(&store, &b, "r", TTL, true).await.unwrap()
    else {
        panic!("b should own the room");
    };
    assert!(matches!(loaded, Loaded::Restored(_)));
    assert!(
        new > epoch,
        "new owner's epoch {new} must exceed the snapshot's {epoch}"
    );
    assert_eq!(holder(&server, "r"), Some(("b".into(), new)));
    // So the old owner can never take it back.
    assert_eq!(
        store.renew(&a, &[("r".into(), epoch)]).await.unwrap(),
        [false]
    );
}

#[tokio::test]
async fn a_room_started_without_redis_takes_its_lease_only_if_nothing_is_saved() {
    let server = RedisServer::start();
    let store = store(&server);
    let a = node("a");
    let _: () = server
        .connection()
        .set(room_key("saved"), snapshot("saved", 5))
        .unwrap();
    assert_eq!(
        store.acquire(&a, "saved", 0, true).await.unwrap(),
        Acquired::Saved
    );
    assert_eq!(
        holder(&server, "saved"),
        None,
        "a refused acquire takes nothing"
    );
    assert!(matches!(
        store.acquire(&a, "empty", 0, true).await.unwrap(),
        Acquired::Won { .. }
    ));
}

#[tokio::test]
async fn a_store_on_a_demoted_primary_reconnects_when_redis_says_readonly() {
    let primary = RedisServer::start();
    let port = primary.port.to_string();
    let replica = RedisServer::start_with(&["--replicaof", "127.0.0.1", &port]);
    let store = store(&replica);
    let mut failovers = store.failovers();
    let err = store
        .acquire(&node("a"), "r", 0, false)
        .await
        .expect_err("a replica refuses writes");
    assert!(err.to_string().contains("read only replica"), "{err}");
    tokio::time::timeout(Duration::from_secs(20), failovers.changed())
        .await
        .expect("the store replaced its connection")
        .unwrap();
    assert_eq!(*failovers.borrow(), 1);
    assert!(!store.check_primary().await.unwrap());
    let _: () = redis::cmd("REPLICAOF")
        .arg("NO")
        .arg("ONE")
        .query(&mut replica.connection())
        .unwrap();
    assert!(store.check_primary().await.unwrap());
    won(&store, &node("a"), "r").await;
}
