//! A relaying node and a room owner that starts listening late: a real
//! `gameserver` relays a join to an owner played by this test over the real
//! redis-server's pub/sub.

mod common;
#[path = "common/redis.rs"]
mod redis_server;

use std::time::{Duration, Instant};

use common::cluster::{wait_until, Node};
use gameserver::client::GameClient;
use gameserver::cluster::wire::{commands_channel, events_channel, FromOwner, ToOwner};
use gameserver::names::RoomId;
use gameserver::persist::{epoch_key, lease_key};
use redis::Commands;
use redis_server::RedisServer;

/// A relay sends an unanswered join again after this long on its own.
const JOIN_RESEND: Duration = Duration::from_secs(1);

/// A new owner subscribes to its room's commands only after taking the lease,
/// so a join sent in between is lost; the owner's first batch shows that it
/// listens now, and the relay sends the join again at once rather than a
/// heartbeat later.
#[tokio::test]
async fn a_join_lost_before_the_owner_listened_is_sent_again_at_its_first_batch() {
    let redis = RedisServer::start();
    let room = RoomId::parse("late").unwrap();
    let mut conn = redis.connection();
    let lease = lease_key(room.as_str());
    let _: () = redis::pipe()
        .hset(&lease, "node", "ghost")
        .hset(&lease, "epoch", 7)
        .pexpire(&lease, 60_000)
        .set(epoch_key(room.as_str()), 7)
        .query(&mut conn)
        .unwrap();
    let node = Node::start(&redis.url(), "relay", &[]);

    // The player's join reaches the relay, which publishes it to nobody.
    let url = node.ws_url();
    let waiting = tokio::spawn(async move { GameClient::join(&url, "late", "Ann", "").await });
    wait_until("the node relays the room", || {
        node.role("late").is_some_and(|(role, _)| role == "relay")
    })
    .await;

    let mut listener = redis.connection();
    let mut pubsub = listener.as_pubsub();
    pubsub.subscribe(commands_channel(&room)).unwrap();
    pubsub.set_read_timeout(Some(JOIN_RESEND * 3)).unwrap();
    let batch = FromOwner::Batch {
        epoch: 7,
        seq: 0,
        events: Vec::new(),
    };
    let _: i64 = conn
        .publish(events_channel(&room), batch.encode().as_ref())
        .unwrap();
    let spoke = Instant::now();

    let join = loop {
        let message = pubsub.get_message().expect("the relay sent nothing");
        let payload: Vec<u8> = message.get_payload().unwrap();
        if let Ok(command @ ToOwner::Join { .. }) = ToOwner::decode(&payload) {
            break command;
        }
    };
    let after = spoke.elapsed();
    assert!(
        after < JOIN_RESEND / 2,
        "the join came {after:?} after the owner's first batch: the heartbeat's resend, not the batch's"
    );
    let ToOwner::Join { name, rejoin, .. } = join else {
        unreachable!()
    };
    assert_eq!(name.as_deref(), Some("Ann"));
    assert_eq!(rejoin, None, "a first join, not a moved player");
    waiting.abort();
}
