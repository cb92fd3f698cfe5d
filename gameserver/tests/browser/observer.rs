//! A player speaking the protocol from Rust, beside the page.

use crate::{ring_delta, LIMIT};
use futures_util::{SinkExt, StreamExt};
use gameserver::protocol::{ClientMessage, Join, MirrorShip, ServerMessage, WorldMirror};
use gameserver::sim::Input;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// A second player speaking the protocol directly: it keeps its own copy of the room
/// from the server's updates, independent of the page's JavaScript decoder, and can
/// hunt a ship down.
pub struct Observer {
    mirror: Arc<Mutex<WorldMirror>>,
    ship: Arc<AtomicU32>,
    out: mpsc::UnboundedSender<Vec<u8>>,
    tasks: [tokio::task::JoinHandle<()>; 2],
    seq: u32,
}

impl Observer {
    pub async fn join(url: &str, room: &str) -> Observer {
        Self::join_as(url, room, "Observer", "").await
    }

    pub async fn join_with_token(url: &str, room: &str, token: &str) -> Observer {
        Self::join_as(url, room, "Observer", token).await
    }

    pub async fn join_as(url: &str, room: &str, name: &str, token: &str) -> Observer {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .unwrap_or_else(|e| panic!("observer connecting to {url}: {e}"));
        let (mut tx, mut rx) = ws.split();
        let (out, mut outgoing) = mpsc::unbounded_channel::<Vec<u8>>();
        let writer = tokio::spawn(async move {
            while let Some(frame) = outgoing.recv().await {
                if tx.send(Message::binary(frame)).await.is_err() {
                    break;
                }
            }
        });
        let mirror = Arc::new(Mutex::new(WorldMirror::default()));
        let ship = Arc::new(AtomicU32::new(0));
        let (shared, own_ship) = (mirror.clone(), ship.clone());
        let reader = tokio::spawn(async move {
            while let Some(Ok(msg)) = rx.next().await {
                let Message::Binary(frame) = msg else {
                    continue;
                };
                match ServerMessage::decode(&frame) {
                    Ok(ServerMessage::Update { body, .. }) => {
                        if let Err(e) = shared.lock().expect("mirror lock").apply(&body) {
                            panic!("observer: server update does not fit the mirror: {e}");
                        }
                    }
                    Ok(ServerMessage::Welcome(w)) => own_ship.store(w.ship_id, Ordering::Relaxed),
                    Ok(ServerMessage::YourShip { ship_id }) => {
                        own_ship.store(ship_id, Ordering::Relaxed)
                    }
                    Ok(_) => {}
                    Err(e) => panic!("observer: undecodable server frame: {e}"),
                }
            }
        });
        let join = ClientMessage::Join(Join {
            room: room.into(),
            name: name.into(),
            token: token.into(),
        });
        out.send(join.encode()).expect("observer writer running");
        Observer {
            mirror,
            ship,
            out,
            tasks: [writer, reader],
            seq: 0,
        }
    }

    /// The ship this player flies now (0 before the server said).
    pub fn ship_id(&self) -> u32 {
        self.ship.load(Ordering::Relaxed)
    }

    pub fn assert_connected(&self, what: &str) {
        assert!(
            self.tasks.iter().all(|t| !t.is_finished()),
            "observer connection ended while waiting for {what}"
        );
    }

    /// Polls the mirror until `pred` holds for the ship `id` (bounded by LIMIT).
    pub async fn wait_ship(
        &self,
        what: &str,
        id: u32,
        pred: impl Fn(f64, f64) -> bool,
    ) -> (f64, f64) {
        let start = Instant::now();
        loop {
            if let Some(s) = self.mirror.lock().expect("mirror lock").ships.get(&id) {
                if pred(s.x, s.y) {
                    return (s.x, s.y);
                }
            }
            self.assert_connected(what);
            assert!(
                start.elapsed() < LIMIT,
                "timed out after {LIMIT:?} waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Flies at the ship `target` and fires until it is gone. Steers once per server
    /// update, from the positions the server confirmed, with the three inputs the
    /// update interval allows (60 per second).
    pub async fn hunt(&mut self, target: u32, limit: Duration) {
        let start = Instant::now();
        let mut last_step = u32::MAX;
        loop {
            let (me, them, step) = {
                let m = self.mirror.lock().expect("mirror lock");
                let me = m.ships.get(&self.ship.load(Ordering::Relaxed)).copied();
                (me, m.ships.get(&target).copied(), m.step)
            };
            if them.is_none() && step != 0 {
                return;
            }
            self.assert_connected("the hunt");
            assert!(
                start.elapsed() < limit,
                "the observer did not hit ship {target} within {limit:?}"
            );
            if let (Some(me), Some(them), true) = (me, them, step != last_step) {
                last_step = step;
                self.steer(&me, &them);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn steer(&mut self, me: &MirrorShip, them: &MirrorShip) {
        let (dx, dy) = (ring_delta(me.x, them.x), ring_delta(me.y, them.y));
        let dist = dx.hypot(dy);
        let off = (dy.atan2(dx).to_degrees() - me.angle + 540.0).rem_euclid(360.0) - 180.0;
        let turns = (off.abs() / 2.5).round().min(3.0) as usize;
        for i in 0..3 {
            let input = Input {
                left: i < turns && off < 0.0,
                right: i < turns && off > 0.0,
                up: off.abs() < 30.0 && dist > 220.0,
                fire: off.abs() < 4.0 && dist < 330.0,
            };
            if input != Input::default() {
                self.seq += 1;
                let msg = ClientMessage::Input {
                    seq: self.seq,
                    input,
                };
                self.out
                    .send(msg.encode())
                    .expect("observer writer running");
            }
        }
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
