//! A room and its lease, in-process on tokio's paused clock: a room that
//! wakes from a pause past its lease sends nothing until Redis confirms the
//! room is still its own, then goes on; a room whose lease is lost stops and
//! sends its players to reconnect; a relayed player's updates go out as one
//! publication per step whatever their number.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gameserver::metrics::Metrics;
use gameserver::names::RoomId;
use gameserver::protocol::close;
use gameserver::room::{
    Command, Ended, Host, Joiner, Lease, LeaseView, NodeName, Outbox, Outgoing, Peer, RemoteEvent,
    Room, RoomConfig, RoomContext, RoomHandle, TokenTexts, Tokens, OUTBOX_CAPACITY,
};
use gameserver::sim::SimConfig;
use gameserver::token::TokenHash;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const PAUSE_LIMIT: Duration = Duration::from_secs(3);
const STEP: Duration = Duration::from_micros(16_667);

#[derive(Default)]
struct TestHost {
    confirms: AtomicUsize,
    published: Mutex<Vec<Vec<RemoteEvent>>>,
}

impl Host for TestHost {
    fn retire(&self, _: &RoomId, _: &mut mpsc::Receiver<Command>) -> bool {
        false
    }

    fn publish(&self, _: &RoomId, events: Vec<RemoteEvent>) {
        self.published.lock().unwrap().push(events);
    }

    fn confirm_lease(&self, _: &RoomId) {
        self.confirms.fetch_add(1, Ordering::Relaxed);
    }
}

struct Fixture {
    handle: RoomHandle,
    host: Arc<TestHost>,
    lease: watch::Sender<Lease>,
    ended: tokio::task::JoinHandle<Ended>,
}

fn start_room() -> Fixture {
    let (lease, status) = watch::channel(Lease::Held {
        epoch: 7,
        confirmed: Instant::now(),
    });
    let host = Arc::new(TestHost::default());
    let config = RoomConfig {
        sim: SimConfig {
            bots: 2,
            ..SimConfig::default()
        },
        update_rate: 20,
        max_players: 8,
        reconnect_grace: Duration::from_secs(30),
        seed: Some(1),
    };
    let context = RoomContext {
        metrics: Arc::new(Metrics::default()),
        host: host.clone(),
        persistence: None,
        lease: LeaseView {
            status,
            pause_limit: PAUSE_LIMIT,
        },
    };
    let id = RoomId::parse("held").unwrap();
    let (handle, rx) = RoomHandle::channel(id.clone());
    let room = Room::new(id, config, 1, context, rx);
    let ended = tokio::spawn(room.run(CancellationToken::new()));
    Fixture {
        handle,
        host,
        lease,
        ended,
    }
}

fn joiner(conn: u64, peer: Peer) -> Joiner {
    let token = format!("token-{conn}");
    Joiner {
        conn,
        name: None,
        tokens: Tokens {
            presented: None,
            fresh: TokenHash::of(&token),
            texts: Some(TokenTexts {
                presented: None,
                fresh: token,
            }),
        },
        peer,
        rejoin: None,
    }
}

/// Steps of simulated time, letting the room run each.
async fn run_for(steps: u32) {
    for _ in 0..steps {
        tokio::time::advance(STEP).await;
        tokio::task::yield_now().await;
    }
}

fn updates(rx: &mut mpsc::Receiver<Outgoing>) -> Vec<Outgoing> {
    let mut got = Vec::new();
    while let Ok(message) = rx.try_recv() {
        if matches!(message, Outgoing::Update { .. } | Outgoing::Close { .. }) {
            got.push(message);
        }
    }
    got
}

#[tokio::test(start_paused = true)]
async fn after_a_pause_past_its_lease_a_room_sends_nothing_until_the_lease_is_confirmed() {
    let f = start_room();
    let (tx, mut rx) = Outbox::channel(OUTBOX_CAPACITY);
    f.handle
        .join(joiner(1, Peer::Local(tx)))
        .await
        .unwrap()
        .unwrap();
    run_for(30).await;
    assert!(
        !updates(&mut rx).is_empty(),
        "updates flow before the pause"
    );

    // The process stood still (SIGSTOP) longer than the lease.
    tokio::time::advance(PAUSE_LIMIT * 2).await;
    run_for(60).await;
    assert!(
        updates(&mut rx).is_empty(),
        "an update went out before the lease was confirmed"
    );
    assert!(
        f.host.confirms.load(Ordering::Relaxed) >= 1,
        "no confirmation asked"
    );

    // A renewal sent before the pause ended does not count.
    f.lease.send_replace(Lease::Held {
        epoch: 7,
        confirmed: Instant::now() - PAUSE_LIMIT * 3,
    });
    run_for(30).await;
    assert!(
        updates(&mut rx).is_empty(),
        "an old renewal released the room"
    );

    f.lease.send_replace(Lease::Held {
        epoch: 7,
        confirmed: Instant::now(),
    });
    run_for(30).await;
    assert!(
        updates(&mut rx)
            .iter()
            .any(|m| matches!(m, Outgoing::Update { .. })),
        "updates resume once confirmed"
    );

    // Superseded: the room stops at once and sends its player to reconnect.
    f.lease.send_replace(Lease::Lost);
    run_for(2).await;
    assert_eq!(f.ended.await.unwrap(), Ended::Lost);
    let closes: Vec<u16> = updates(&mut rx)
        .iter()
        .filter_map(|m| match m {
            Outgoing::Close { code, .. } => Some(*code),
            _ => None,
        })
        .collect();
    assert_eq!(closes, vec![close::SERVER_RESTARTING]);
}

#[tokio::test(start_paused = true)]
async fn relayed_players_share_one_publication_per_update() {
    let f = start_room();
    let node = NodeName::from("other-node");
    for conn in 10..15 {
        let command = Command::Join {
            joiner: joiner(conn, Peer::Remote(node.clone())),
            reply: gameserver::room::JoinReply::Remote,
        };
        f.handle.try_send(command).unwrap();
    }
    run_for(60).await;
    let published = f.host.published.lock().unwrap().clone();
    let joined = published
        .iter()
        .flatten()
        .filter(|e| matches!(e, RemoteEvent::Joined { result: Ok(_), .. }))
        .count();
    assert_eq!(joined, 5);
    let update_events: Vec<&RemoteEvent> = published
        .iter()
        .flatten()
        .filter(|e| matches!(e, RemoteEvent::Update { .. }))
        .collect();
    assert!(update_events.len() >= 10, "{} updates", update_events.len());
    for batch in &published {
        let per_step = batch
            .iter()
            .filter(|e| matches!(e, RemoteEvent::Update { .. }))
            .count();
        assert!(
            per_step <= 1,
            "one update publication per step, got {per_step}"
        );
    }
    let RemoteEvent::Update { full, players, .. } = update_events.last().unwrap() else {
        unreachable!()
    };
    assert_eq!(
        players.len(),
        5,
        "every relayed player in the one publication"
    );
    assert!(full.is_none(), "a full body only when someone needs one");
    let RemoteEvent::Update { full, players, .. } = update_events[0] else {
        unreachable!()
    };
    assert!(
        full.is_some() && players.iter().all(|p| p.full),
        "joiners get a full body first"
    );
}

#[tokio::test(start_paused = true)]
async fn a_relayed_join_heard_twice_makes_one_player_and_the_same_answer() {
    let f = start_room();
    let node = NodeName::from("other-node");
    for _ in 0..2 {
        let command = Command::Join {
            joiner: joiner(42, Peer::Remote(node.clone())),
            reply: gameserver::room::JoinReply::Remote,
        };
        f.handle.try_send(command).unwrap();
        run_for(3).await;
    }
    let answers: Vec<(u32, bool)> = f
        .host
        .published
        .lock()
        .unwrap()
        .iter()
        .flatten()
        .filter_map(|e| match e {
            RemoteEvent::Joined { result: Ok(j), .. } => Some((j.player, j.resumed)),
            _ => None,
        })
        .collect();
    assert_eq!(answers.len(), 2);
    assert_eq!(answers[0], answers[1], "the same player, told the same");
    assert!(
        !answers[0].1,
        "a new player, whose welcome carries the fresh token"
    );
    let stats = f.handle.stats().await.unwrap();
    assert_eq!(stats.players, 1);
}
