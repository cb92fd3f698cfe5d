//! Rooms in-process, through the registry: the update body is encoded once
//! and shared, and a slow player's dropped updates are followed by a full one.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gameserver::cluster::Registry;
use gameserver::metrics::Metrics;
use gameserver::names::RoomId;
use gameserver::protocol::{kind, ServerMessage, UpdateBody, UpdateKind, WorldMirror};
use gameserver::room::{
    JoinRequest, Outbox, Outgoing, RoomConfig, CONTROL_RESERVE, OUTBOX_CAPACITY,
};
use gameserver::sim::SimConfig;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

const LIMIT: Duration = Duration::from_secs(20);

fn registry(bots: u32) -> (Arc<Registry>, Arc<Metrics>, CancellationToken) {
    let metrics = Arc::new(Metrics::default());
    let cancel = CancellationToken::new();
    let config = RoomConfig {
        sim: SimConfig {
            bots,
            ..SimConfig::default()
        },
        update_rate: 20,
        max_players: 8,
        reconnect_grace: Duration::from_secs(30),
        seed: Some(5),
    };
    let registry = Registry::new(
        config,
        4,
        metrics.clone(),
        cancel.clone(),
        TaskTracker::new(),
    );
    (registry, metrics, cancel)
}

fn request(outbox: Outbox) -> JoinRequest {
    JoinRequest {
        name: None,
        token: None,
        outbox,
    }
}

async fn next_update(rx: &mut mpsc::Receiver<Outgoing>) -> (u32, Bytes) {
    loop {
        match tokio::time::timeout(LIMIT, rx.recv())
            .await
            .expect("no update in time")
        {
            Some(Outgoing::Update { body, .. }) => {
                return (u32::from_le_bytes(body[..4].try_into().unwrap()), body)
            }
            Some(_) => {}
            None => panic!("room closed the outbox"),
        }
    }
}

fn decode_body(body: &Bytes) -> UpdateBody {
    let frame = [&[kind::UPDATE, 0, 0, 0, 0][..], body].concat();
    match ServerMessage::decode(&frame).unwrap() {
        ServerMessage::Update { body, .. } => body,
        other => panic!("not an update: {other:?}"),
    }
}

#[tokio::test]
async fn every_player_gets_the_same_encoded_body() {
    let (registry, _, cancel) = registry(10);
    let room = RoomId::parse("shared").unwrap();
    let (tx_a, mut rx_a) = Outbox::channel(OUTBOX_CAPACITY);
    let (tx_b, mut rx_b) = Outbox::channel(OUTBOX_CAPACITY);
    registry.join(&room, request(tx_a)).await.unwrap();
    registry.join(&room, request(tx_b)).await.unwrap();
    // Skip the joiners' full updates; then compare a few ticks of deltas.
    let (mut step_a, mut body_a) = next_update(&mut rx_a).await;
    let (mut step_b, mut body_b) = next_update(&mut rx_b).await;
    let mut compared = 0;
    while compared < 5 {
        if step_a < step_b {
            (step_a, body_a) = next_update(&mut rx_a).await;
        } else if step_b < step_a {
            (step_b, body_b) = next_update(&mut rx_b).await;
        } else {
            if decode_body(&body_a).kind == UpdateKind::Delta {
                assert_eq!(
                    body_a.as_ptr(),
                    body_b.as_ptr(),
                    "step {step_a}: two encodings of one update"
                );
                compared += 1;
            }
            (step_a, body_a) = next_update(&mut rx_a).await;
        }
    }
    cancel.cancel();
}

#[tokio::test]
async fn a_slow_player_loses_updates_then_gets_a_full_one() {
    let (registry, metrics, cancel) = registry(20);
    let room = RoomId::parse("slow").unwrap();
    // Room for 4 updates above the control reserve, and nobody reading.
    let (tx, mut rx) = Outbox::channel(CONTROL_RESERVE + 4);
    registry.join(&room, request(tx)).await.unwrap();
    let deadline = tokio::time::Instant::now() + LIMIT;
    while metrics.updates_dropped.get() < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no update was ever dropped"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Now read everything: the mirror must accept it all, a full update must
    // follow the gap, and after that deltas apply again.
    let mut mirror = WorldMirror::default();
    let mut kinds = Vec::new();
    while kinds.len() < 8 {
        let (_, body) = next_update(&mut rx).await;
        let body = decode_body(&body);
        mirror
            .apply(&body)
            .unwrap_or_else(|e| panic!("after {kinds:?}: {e}"));
        kinds.push(body.kind);
    }
    let fulls: Vec<usize> = kinds
        .iter()
        .enumerate()
        .filter(|(_, k)| **k == UpdateKind::Full)
        .map(|(i, _)| i)
        .collect();
    assert!(
        fulls.len() >= 2,
        "the join's full update and one after the drops: {kinds:?}"
    );
    assert_eq!(
        kinds.last(),
        Some(&UpdateKind::Delta),
        "deltas resume: {kinds:?}"
    );
    cancel.cancel();
}
