//! Playing like a person would, for tests: steer toward another ship and
//! fire, play a little and wait for the server to acknowledge it, watch the
//! world's step.
#![allow(dead_code)]

use std::time::Duration;

use gameserver::client::{GameClient, PlayerView};
use gameserver::protocol::ServerMessage;
use gameserver::sim::{Input, WORLD_SIZE};

pub const FIRE_THRUST: Input = Input {
    up: true,
    left: false,
    right: true,
    fire: true,
};

/// Shortest signed difference across the wrap.
pub fn wrap_delta(d: f64) -> f64 {
    (d + WORLD_SIZE / 2.0).rem_euclid(WORLD_SIZE) - WORLD_SIZE / 2.0
}

/// Steers like a bot toward `prey`'s ship and fires when aimed and near.
pub fn aim(view: &PlayerView, prey: u32) -> Input {
    let (Some(me), Some(target)) = (
        view.world.ships.get(&view.my_ship),
        view.world.ships.values().find(|s| s.player == prey),
    ) else {
        return Input::default();
    };
    let (dx, dy) = (wrap_delta(target.x - me.x), wrap_delta(target.y - me.y));
    let bearing = dy.atan2(dx).to_degrees();
    let off = (bearing - me.angle + 540.0).rem_euclid(360.0) - 180.0;
    let distance = dx.hypot(dy);
    let speed = me.vx.hypot(me.vy);
    Input {
        up: off.abs() < 8.0 && (distance > 150.0 || speed < 0.5),
        left: off < -2.0,
        right: off > 2.0,
        fire: off.abs() < 6.0 && distance < 280.0,
    }
}

/// Hunts until the hunter's score shows a kill.
pub async fn hunt(hunter: &mut GameClient, prey: u32, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    let mut tick = tokio::time::interval(Duration::from_millis(17));
    let me = hunter.player_id();
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => panic!("no kill within {limit:?}"),
            _ = tick.tick() => {
                let input = aim(&hunter.view, prey);
                hunter.send_input(input).await.unwrap();
            }
            m = hunter.pump() => {
                m.unwrap();
                if hunter.view.score_of_player(me).is_some_and(|r| r.kills >= 1) {
                    return;
                }
            }
        }
    }
}

/// Five inputs, then waits until an update acknowledges the last of them,
/// sending one more now and then as a held key would (an input lost on
/// the way, say while Redis fails over, is not waited for in vain).
pub async fn play_a_little(c: &mut GameClient, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    let mut last = 0;
    for _ in 0..5 {
        last = c.send_input(FIRE_THRUST).await.unwrap();
    }
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        assert!(!left.is_zero(), "inputs were never acknowledged");
        let acked = c
            .pump_until(left.min(Duration::from_millis(500)), |v, m| {
                matches!(m, ServerMessage::Update { .. }) && v.last_input_seq >= last
            })
            .await;
        match acked {
            Ok(_) => return,
            Err(gameserver::client::ClientError::Timeout(_)) => {
                last = c.send_input(FIRE_THRUST).await.unwrap();
            }
            Err(e) => panic!("while playing: {e}"),
        }
    }
}

/// The step of an update message.
pub fn update_step(m: &ServerMessage) -> Option<u32> {
    match m {
        ServerMessage::Update { body, .. } => Some(body.step),
        _ => None,
    }
}
