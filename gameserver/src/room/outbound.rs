//! What a room tells its players after a step: updates (encoded once for
//! everyone; one publication for all players on other nodes), scores, kills,
//! each player's ship.

use bytes::Bytes;

use super::schedule::SCORE_INTERVAL_STEPS;
use super::session::Queued;
use super::task::Room;
use super::{Outgoing, RemoteEvent, RemoteUpdate};
use crate::protocol::{Constants, ScoreRow, ServerMessage};
use crate::sim::{self, Event};

impl Room {
    /// `speaking`: false while the room confirms its lease after a pause;
    /// kills are then not announced (the scores will tell).
    pub(super) fn handle_events(&mut self, speaking: bool) {
        let mut kills = Vec::new();
        for event in self.world.drain_events() {
            if matches!(
                event,
                Event::Hit { .. } | Event::ShipSpawned { .. } | Event::ShipRemoved { .. }
            ) {
                self.score_dirty = true;
            }
            if let Event::Hit {
                victim_ship,
                shooter_ship,
                ..
            } = event
            {
                kills.push((victim_ship, shooter_ship));
            }
        }
        if !kills.is_empty() {
            self.snapshot_soon();
        }
        if speaking {
            for (victim_ship, shooter_ship) in kills {
                self.tell_kill(victim_ship, shooter_ship);
            }
        }
    }

    /// Who destroyed whom, to everyone in the room: the scoreboard alone
    /// cannot say it when several kills land between two score messages.
    fn tell_kill(&mut self, victim_ship: u32, shooter_ship: u32) {
        let shooter_name = self
            .world
            .ship(shooter_ship)
            .map(|s| s.name.clone())
            .unwrap_or_default();
        let frame = ServerMessage::Killed {
            victim_ship,
            shooter_ship,
            shooter_name,
        }
        .encode();
        self.broadcast(Bytes::from(frame));
    }

    /// A frame to every connected player: each local socket, and one
    /// publication for all the relayed ones.
    fn broadcast(&mut self, frame: Bytes) {
        let mut relayed = false;
        for (_, session) in self.sessions.iter() {
            if session.remote_node().is_some() {
                relayed = true;
            } else {
                session.send(Outgoing::Frame(frame.clone()), &mut Vec::new());
            }
        }
        if relayed {
            self.remote.push(RemoteEvent::ToAll(frame));
        }
    }

    /// `your_ship` to each connected player whose ship appeared or was destroyed.
    pub(super) fn tell_ships(&mut self) {
        let world = &self.world;
        for (player, session) in self.sessions.iter_mut() {
            let ship = world.player(player).and_then(|p| p.ship).unwrap_or(0);
            if session.conn().is_some() && ship != session.told_ship {
                let frame = ServerMessage::YourShip { ship_id: ship }.encode();
                // Told only once it is queued; otherwise tried again next step.
                if session.send(Outgoing::Frame(Bytes::from(frame)), &mut self.remote) {
                    session.told_ship = ship;
                }
            }
        }
    }

    pub(super) fn send_score_if_due(&mut self) {
        let step = self.world.step_count();
        if !self.score_dirty || step < self.last_score_step + SCORE_INTERVAL_STEPS {
            return;
        }
        self.score_dirty = false;
        self.last_score_step = step;
        let frame = self.score_frame();
        self.broadcast(frame);
    }

    pub(super) fn score_frame(&self) -> Bytes {
        let rows = self
            .world
            .scoreboard()
            .into_iter()
            .map(|e| ScoreRow {
                ship_id: e.ship,
                player_id: e.player,
                kills: e.kills,
                deaths: e.deaths,
                name: e.name,
            })
            .collect();
        Bytes::from(ServerMessage::Score(rows).encode())
    }

    /// Encodes the delta once (it also moves the encoder's base forward), the
    /// full body at most once, and hands the shared bytes to every local
    /// player; the relayed ones get one publication with both bodies (the
    /// full one only if one of them needs it) and each one's part.
    pub(super) fn send_updates(&mut self) {
        let delta = self.encoder.delta(&self.world);
        let mut full: Option<Bytes> = None;
        let mut relayed = Vec::new();
        let (mut sent, mut dropped) = (0, 0);
        for (_, session) in self.sessions.iter_mut() {
            let Some(conn) = session.conn() else { continue };
            let (id, needs_full) = (conn.id, conn.needs_full);
            let body = if needs_full {
                full.get_or_insert_with(|| self.encoder.full(&self.world))
                    .clone()
            } else {
                delta.clone()
            };
            match session.send_update(body) {
                Queued::Sent => sent += 1,
                Queued::Dropped => dropped += 1,
                Queued::Remote => {
                    relayed.push(RemoteUpdate {
                        conn: id,
                        last_input_seq: session.last_input_seq,
                        full: needs_full,
                    });
                    if let super::session::Presence::Connected(c) = &mut session.presence {
                        c.needs_full = false;
                    }
                }
            }
        }
        if !relayed.is_empty() {
            let full = relayed
                .iter()
                .any(|p| p.full)
                .then(|| full.clone())
                .flatten();
            self.remote.push(RemoteEvent::Update {
                delta,
                full,
                players: relayed,
            });
        }
        self.metrics.updates_sent.add(sent);
        self.metrics.updates_dropped.add(dropped);
    }

    pub(super) fn constants(&self) -> Constants {
        Constants {
            world_width: sim::WORLD_SIZE as u16,
            world_height: sim::WORLD_SIZE as u16,
            steps_per_second: sim::STEPS_PER_SECOND as u16,
            updates_per_second: self.config.update_rate as u16,
            ship_max_speed: sim::SHIP_MAX_SPEED as f32,
            ship_accel: sim::SHIP_ACCEL as f32,
            turn_degrees: sim::TURN_DEGREES as f32,
            missile_speed: sim::MISSILE_SPEED as f32,
            missile_life_steps: sim::MISSILE_LIFE_STEPS as u16,
            fire_cooldown_steps: self.config.sim.fire_cooldown_steps.min(u32::from(u16::MAX))
                as u16,
            reconnect_grace_seconds: self
                .config
                .reconnect_grace
                .as_secs()
                .min(u64::from(u16::MAX)) as u16,
        }
    }
}
