//! A relaying node and a room owner that starts listening late: a real
//! `gameserver` relays a join to an owner played by this test over the real
//! redis-server's pub/sub. A join is sent again until answered, unless its
//! client gave up on it; a connection moved by a takeover that arrives after
//! its player reconnected does not replace the reconnect.

mod common;
#[path = "common/redis.rs"]
mod redis_server;

use std::time::Duration;

use common::cluster::Node;
use gameserver::client::GameClient;
use gameserver::cluster::wire::{commands_channel, events_channel, FromOwner, ToOwner};
use gameserver::names::RoomId;
use gameserver::persist::{epoch_key, lease_key};
use gameserver::protocol::ServerMessage;
use gameserver::room::{NodeName, RemoteEvent};
use gameserver::token::TokenHash;
use redis::Commands;
use redis_server::RedisServer;

/// Longer than any wait for a message of the relay's.
const READ_LIMIT: Duration = Duration::from_secs(10);
/// The epoch of the owner this test plays.
const GHOST_EPOCH: u64 = 7;

/// The room's lease names "ghost", an owner only this test speaks for.
fn ghost_owns(redis: &RedisServer, room: &RoomId) {
    let lease = lease_key(room.as_str());
    let _: () = redis::pipe()
        .hset(&lease, "node", "ghost")
        .hset(&lease, "epoch", GHOST_EPOCH)
        .pexpire(&lease, 60_000)
        .set(epoch_key(room.as_str()), GHOST_EPOCH)
        .query(&mut redis.connection())
        .unwrap();
}

/// What relays send the room's owner, heard as the owner hears it.
fn owner_inbox<'a>(conn: &'a mut redis::Connection, room: &RoomId) -> redis::PubSub<'a> {
    let mut pubsub = conn.as_pubsub();
    pubsub.subscribe(commands_channel(room)).unwrap();
    pubsub.set_read_timeout(Some(READ_LIMIT)).unwrap();
    pubsub
}

fn next_command(pubsub: &mut redis::PubSub) -> ToOwner {
    let message = pubsub.get_message().expect("the relay sent nothing");
    let payload: Vec<u8> = message.get_payload().unwrap();
    ToOwner::decode(&payload).unwrap()
}

/// The ghost's first batch, then one after a gap. The relay handles them in
/// order: whatever the first makes it send is published before the
/// `NeedFull` the gap makes it send. Returns what came before that.
fn ghost_speaks(redis: &RedisServer, room: &RoomId, pubsub: &mut redis::PubSub) -> Vec<ToOwner> {
    for seq in [0, 2] {
        let batch = FromOwner::Batch {
            epoch: GHOST_EPOCH,
            seq,
            events: Vec::new(),
        };
        let _: i64 = redis
            .connection()
            .publish(events_channel(room), batch.encode().as_ref())
            .unwrap();
    }
    let mut before = Vec::new();
    loop {
        match next_command(pubsub) {
            ToOwner::NeedFull { .. } => return before,
            command => before.push(command),
        }
    }
}

/// A new owner subscribes to its room's commands only after taking the lease,
/// so a join sent in between is lost; the owner's first batch shows that it
/// listens now, and the relay sends the join again at once rather than a
/// heartbeat later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_lost_before_the_owner_listened_is_sent_again_at_its_first_batch() {
    let redis = RedisServer::start();
    let room = RoomId::parse("late").unwrap();
    ghost_owns(&redis, &room);
    let node = Node::start(&redis.url(), "relay", &[]);
    let mut listener = redis.connection();
    let mut inbox = owner_inbox(&mut listener, &room);

    // The player's join reaches the relay, which publishes it to nobody.
    let url = node.ws_url();
    let waiting = tokio::spawn(async move { GameClient::join(&url, "late", "Ann", "").await });
    while !matches!(next_command(&mut inbox), ToOwner::Join { .. }) {}

    let answered_first_batch = ghost_speaks(&redis, &room, &mut inbox);
    let joins: Vec<_> = answered_first_batch
        .into_iter()
        .filter_map(|command| match command {
            ToOwner::Join { name, rejoin, .. } => Some((name, rejoin)),
            _ => None,
        })
        .collect();
    assert_eq!(
        joins,
        [(Some("Ann".to_string()), None)],
        "Ann's first join, sent again at the owner's first batch"
    );
    waiting.abort();
}

/// A client that gives up on a reconnect and makes another: the first join,
/// still unanswered, must not reach the owner after the second and replace
/// it (the player would be closed with 4006 right after resuming).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_whose_client_left_is_not_sent_again() {
    let redis = RedisServer::start();
    let room = RoomId::parse("gone").unwrap();
    ghost_owns(&redis, &room);
    let node = Node::start(&redis.url(), "relay", &[]);
    let mut listener = redis.connection();
    let mut inbox = owner_inbox(&mut listener, &room);

    let url = node.ws_url();
    let waiting = tokio::spawn(async move { GameClient::join(&url, "gone", "Ann", "").await });
    while !matches!(next_command(&mut inbox), ToOwner::Join { .. }) {}
    // The client gives up: its socket closes. The node reads the end of the
    // socket at its next poll, long before this wait is over.
    waiting.abort();
    let _ = waiting.await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The owner's first batch would send every unanswered join again.
    let answered_first_batch = ghost_speaks(&redis, &room, &mut inbox);
    assert!(
        !answered_first_batch
            .iter()
            .any(|command| matches!(command, ToOwner::Join { .. })),
        "the abandoned join was sent again: {answered_first_batch:?}"
    );
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
    pubsub.set_read_timeout(Some(READ_LIMIT)).unwrap();

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
        .pump_until(READ_LIMIT, |v, _| v.world.step > start + 30)
        .await;
    assert!(
        m.is_ok_and(|m| !matches!(m, ServerMessage::Error { .. })),
        "Ann lost her connection"
    );
}
