//! A relaying node and a room owner that starts listening late: a real
//! `gameserver` relays a join to an owner played by this test over the real
//! redis-server's pub/sub. A join is sent again until answered, unless its
//! client gave up on it; a connection moved by a takeover that arrives after
//! its player reconnected does not replace the reconnect.

mod common;
#[path = "common/redis.rs"]
mod redis_server;

use std::time::{Duration, Instant};

use common::cluster::{wait_until, Node};
use gameserver::client::GameClient;
use gameserver::cluster::wire::{commands_channel, events_channel, FromOwner, ToOwner};
use gameserver::names::RoomId;
use gameserver::persist::{epoch_key, lease_key};
use gameserver::protocol::ServerMessage;
use gameserver::room::{NodeName, RemoteEvent};
use gameserver::token::TokenHash;
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

/// A client that gives up on a reconnect and makes another: the first join,
/// still unanswered, must not reach the owner after the second and replace
/// it (the player would be closed with 4006 right after resuming).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_whose_client_left_is_not_sent_again() {
    let redis = RedisServer::start();
    let room = RoomId::parse("gone").unwrap();
    let mut conn = redis.connection();
    let lease = lease_key(room.as_str());
    let _: () = redis::pipe()
        .hset(&lease, "node", "ghost")
        .hset(&lease, "epoch", 3)
        .pexpire(&lease, 60_000)
        .set(epoch_key(room.as_str()), 3)
        .query(&mut conn)
        .unwrap();
    let node = Node::start(&redis.url(), "relay", &[]);
    let mut listener = redis.connection();
    let mut pubsub = listener.as_pubsub();
    pubsub.subscribe(commands_channel(&room)).unwrap();
    pubsub.set_read_timeout(Some(JOIN_RESEND * 5)).unwrap();
    let joins = |pubsub: &mut redis::PubSub| -> bool {
        let Ok(message) = pubsub.get_message() else {
            return false;
        };
        let payload: Vec<u8> = message.get_payload().unwrap();
        matches!(ToOwner::decode(&payload), Ok(ToOwner::Join { .. }))
    };

    let url = node.ws_url();
    let waiting = tokio::spawn(async move { GameClient::join(&url, "gone", "Ann", "").await });
    while !joins(&mut pubsub) {}
    // The client gives up: its socket closes.
    waiting.abort();
    let _ = waiting.await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The owner speaks, then two heartbeats pass: nothing is sent again.
    let batch = FromOwner::Batch {
        epoch: 3,
        seq: 0,
        events: Vec::new(),
    };
    let _: i64 = conn
        .publish(events_channel(&room), batch.encode().as_ref())
        .unwrap();
    pubsub
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let quiet_until = Instant::now() + JOIN_RESEND * 5 / 2;
    while Instant::now() < quiet_until {
        assert!(!joins(&mut pubsub), "the abandoned join was sent again");
    }
}

/// A relaying node moved Ann's old connection to the room's new owner, but
/// the message was held up (a Redis failover) and arrives after Ann came
/// back on a connection of her own: the owner refuses the move, and Ann
/// plays on rather than being closed with 4006.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_connection_arriving_after_its_player_reconnected_is_refused() {
    let redis = RedisServer::start();
    let room = RoomId::parse("late-move").unwrap();
    let node = Node::start(&redis.url(), "owner", &[]);
    let mut ann = GameClient::join(&node.ws_url(), "late-move", "Ann", "")
        .await
        .unwrap();
    let token = ann.view.welcome.token.clone();
    let mut listener = redis.connection();
    let mut pubsub = listener.as_pubsub();
    pubsub.subscribe(events_channel(&room)).unwrap();
    pubsub.set_read_timeout(Some(JOIN_RESEND * 5)).unwrap();

    let stale_conn = 77;
    let moved = ToOwner::Join {
        node: NodeName::from("ghost"),
        conn: stale_conn,
        name: None,
        presented: Some(TokenHash::of(&token)),
        fresh: TokenHash::of("unused"),
        rejoin: Some(0),
    };
    let _: i64 = redis
        .connection()
        .publish(commands_channel(&room), moved.encode().as_ref())
        .unwrap();
    let answer = loop {
        let message = pubsub.get_message().expect("the owner never answered");
        let payload: Vec<u8> = message.get_payload().unwrap();
        let Ok(FromOwner::Batch { events, .. }) = FromOwner::decode(&payload, &room) else {
            continue;
        };
        let joined = events.into_iter().find_map(|e| match e {
            RemoteEvent::Joined { conn, result } if conn == stale_conn => Some(result),
            _ => None,
        });
        if let Some(result) = joined {
            break result;
        }
    };
    assert!(answer.is_err(), "the late move took Ann over: {answer:?}");

    // Ann's connection stays hers: updates go on, no close.
    let start = ann.view.world.step;
    let m = ann
        .pump_until(Duration::from_secs(10), |v, _| v.world.step > start + 30)
        .await;
    assert!(
        m.is_ok_and(|m| !matches!(m, ServerMessage::Error { .. })),
        "Ann lost her connection"
    );
}
