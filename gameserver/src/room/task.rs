//! One room's task: a fixed 60 Hz loop that drains commands, steps the world
//! phase by phase (each timed), and sends updates encoded once for everyone.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::registry::Registry;
use super::schedule::{update_due, SCORE_INTERVAL_STEPS};
use super::session::{Conn, Queued, Session, Sessions};
use super::snapshot::{Persistence, SnapshotClock};
use super::{Command, JoinError, JoinRequest, Joined, Outgoing, RoomConfig, RoomStats};
use crate::metrics::{Metrics, Phase};
use crate::names::RoomId;
use crate::protocol::{close, Constants, ScoreRow, ServerMessage, UpdateEncoder, Welcome};
use crate::sim::{self, Event, Input, PlayerId, World};
use crate::token;

const STEP_PERIOD: Duration = Duration::from_nanos(1_000_000_000 / sim::STEPS_PER_SECOND as u64);
/// An empty room lingers this long before it stops, so a quick rejoin finds it.
const EMPTY_LINGER: Duration = Duration::from_secs(2);

pub(crate) struct Room {
    id: RoomId,
    config: RoomConfig,
    world: World,
    encoder: UpdateEncoder,
    sessions: Sessions,
    inputs: Vec<(PlayerId, Input)>,
    next_conn: u64,
    score_dirty: bool,
    last_score_step: u64,
    empty_since: Option<Instant>,
    /// None when Redis is disabled.
    snapshots: Option<SnapshotClock>,
    metrics: Arc<Metrics>,
    registry: Arc<Registry>,
    rx: mpsc::Receiver<Command>,
}

impl Room {
    pub(crate) fn new(
        id: RoomId,
        config: RoomConfig,
        seed: u64,
        metrics: Arc<Metrics>,
        registry: Arc<Registry>,
        rx: mpsc::Receiver<Command>,
        persistence: Option<Persistence>,
    ) -> Room {
        Room {
            snapshots: persistence.map(|p| SnapshotClock::new(p, Instant::now())),
            world: World::new(config.sim.clone(), seed),
            id,
            config,
            encoder: UpdateEncoder::new(),
            sessions: Sessions::default(),
            inputs: Vec::new(),
            next_conn: 1,
            score_dirty: true,
            last_score_step: 0,
            empty_since: Some(Instant::now()),
            metrics,
            registry,
            rx,
        }
    }

    /// Continues a hydrated room: its world and its players, all waiting for
    /// their tokens within their grace period.
    pub(crate) fn restored(mut self, world: World, sessions: Sessions) -> Room {
        self.metrics.players.add(sessions.len() as u64);
        self.world = world;
        self.sessions = sessions;
        self
    }

    pub(crate) async fn run(mut self, cancel: CancellationToken) {
        tracing::info!(room = %self.id, bots = self.config.sim.bots, "room started");
        let mut interval = tokio::time::interval(STEP_PERIOD);
        // A late tick is skipped, never burst: the game slows rather than jumps.
        interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut last_tick: Option<Instant> = None;
        let retired = loop {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => break false,
                at = interval.tick() => {
                    if let Some(prev) = last_tick {
                        let missed = (at - prev).as_nanos() / STEP_PERIOD.as_nanos();
                        self.metrics.ticks_skipped.add(missed.saturating_sub(1) as u64);
                    }
                    last_tick = Some(at);
                }
            }
            self.tick(Instant::now());
            if self.should_retire() && self.registry.retire(&self.id, &mut self.rx) {
                break true;
            }
        };
        if let Some(snapshots) = self.snapshots.as_mut() {
            if retired {
                snapshots.forget(self.id.as_str());
            } else {
                // The server is stopping: the next process resumes from this.
                snapshots.take(
                    self.id.as_str(),
                    &self.world,
                    &mut self.sessions,
                    Instant::now(),
                );
            }
        }
        self.metrics.players.sub(self.sessions.len() as u64);
        tracing::info!(room = %self.id, step = self.world.step_count(), "room stopped");
    }

    fn should_retire(&mut self) -> bool {
        if !self.sessions.is_empty() {
            self.empty_since = None;
            return false;
        }
        let since = *self.empty_since.get_or_insert_with(Instant::now);
        since.elapsed() >= EMPTY_LINGER
    }

    /// One step of the rules' order, then what players must hear about it.
    pub(crate) fn tick(&mut self, now: Instant) {
        let t0 = std::time::Instant::now();
        self.drain_commands();
        for (player, input) in self.inputs.drain(..) {
            self.world.apply_input(player, input);
        }
        let t1 = self.lap(Phase::Inputs, t0);
        self.world.begin_step();
        self.world.steer_bots();
        let t2 = self.lap(Phase::Bots, t1);
        self.world.move_objects();
        let t3 = self.lap(Phase::Physics, t2);
        self.world.resolve_collisions();
        let t4 = self.lap(Phase::Collisions, t3);
        self.world.run_timers();
        let t5 = self.lap(Phase::Timers, t4);
        self.handle_events();
        self.expire_grace(now);
        self.tell_ships();
        self.send_score_if_due();
        if update_due(self.world.step_count(), self.config.update_rate) {
            self.send_updates();
        }
        let t6 = self.lap(Phase::Encode, t5);
        if let Some(snapshots) = self.snapshots.as_mut() {
            snapshots.tick(self.id.as_str(), &self.world, &mut self.sessions, now);
            self.lap(Phase::Snapshot, t6);
        }
        self.metrics.step.record(t0.elapsed());
        self.metrics.steps.add(1);
    }

    fn lap(&self, phase: Phase, since: std::time::Instant) -> std::time::Instant {
        let now = std::time::Instant::now();
        self.metrics.phase(phase).record(now - since);
        now
    }

    fn drain_commands(&mut self) {
        while let Ok(command) = self.rx.try_recv() {
            match command {
                Command::Join { request, reply } => {
                    let _ = reply.send(self.join(request));
                }
                Command::Input {
                    player,
                    conn,
                    seq,
                    input,
                } => {
                    if let Some(session) = self.sessions.current(player, conn) {
                        // Applied in this very step, before the next update is sent.
                        session.last_input_seq = seq;
                        self.inputs.push((player, input));
                    }
                }
                Command::Restart { player, conn } => {
                    if self.sessions.current(player, conn).is_some() {
                        self.world.spawn_ship(player);
                    }
                }
                Command::Leave { player, conn } => self.leave(player, conn),
                Command::Stats { reply } => {
                    let _ = reply.send(self.stats());
                }
            }
        }
    }

    fn stats(&self) -> RoomStats {
        RoomStats {
            step: self.world.step_count(),
            ships: self.world.ships().len(),
            missiles: self.world.missiles().len(),
            players: self.sessions.len(),
            connected: self.sessions.connected(),
        }
    }

    fn join(&mut self, request: JoinRequest) -> Result<Joined, JoinError> {
        let JoinRequest {
            name,
            token,
            outbox,
        } = request;
        let known = token
            .as_deref()
            .and_then(|t| self.sessions.player_with_token(&token::hash(t)));
        let conn = Conn {
            id: self.next_conn,
            outbox,
            needs_full: true,
        };
        self.next_conn += 1;
        let (player, token, resumed) = match (known, token) {
            (Some(player), Some(token)) => {
                self.replace_connection(player);
                (player, token, true)
            }
            _ => {
                if self.sessions.len() >= self.config.max_players {
                    return Err(JoinError::RoomFull(self.id.clone()));
                }
                let (token, token_hash) =
                    token::generate().map_err(|e| JoinError::Unavailable {
                        room: self.id.clone(),
                        why: e.to_string(),
                    })?;
                let player = self.world.add_player(name.map(|n| n.into_string()));
                self.world.spawn_ship(player);
                let session = Session {
                    token_hash,
                    conn: None,
                    expires_at: None,
                    last_input_seq: 0,
                    told_ship: 0,
                };
                self.sessions.insert(player, session);
                self.metrics.players.inc();
                self.score_dirty = true;
                self.snapshot_soon();
                (player, token, false)
            }
        };
        let ship = self.world.player(player).and_then(|p| p.ship).unwrap_or(0);
        let welcome = ServerMessage::Welcome(Welcome {
            player_id: player,
            ship_id: ship,
            token,
            resumed,
            step: self.world.step_count() as u32,
            constants: self.constants(),
        });
        let score = self.score_frame();
        let Some(session) = self.sessions.get_mut(player) else {
            return Err(JoinError::Unavailable {
                room: self.id.clone(),
                why: "player vanished".into(),
            });
        };
        session.expires_at = None;
        session.told_ship = ship;
        let joined = Joined {
            player,
            conn: conn.id,
            resumed,
        };
        session.conn = Some(conn);
        // A fresh queue: both fit.
        session.send(Outgoing::Frame(Bytes::from(welcome.encode())));
        session.send(Outgoing::Frame(score));
        tracing::info!(room = %self.id, player, resumed, "player joined");
        Ok(joined)
    }

    /// A reconnect with the token of a player still connected wins: the older socket is closed.
    fn replace_connection(&mut self, player: PlayerId) {
        if let Some(session) = self.sessions.get_mut(player) {
            if session.conn.is_some() {
                session.send(Outgoing::Close {
                    code: close::REPLACED,
                    reason: "replaced by a newer connection",
                });
                session.conn = None;
            }
        }
    }

    fn leave(&mut self, player: PlayerId, conn: u64) {
        let grace = self.config.reconnect_grace;
        if let Some(session) = self.sessions.current(player, conn) {
            session.conn = None;
            session.expires_at = Some(Instant::now() + grace);
            tracing::info!(room = %self.id, player, grace_secs = grace.as_secs(), "player disconnected");
            self.snapshot_soon();
        }
    }

    fn snapshot_soon(&mut self) {
        if let Some(snapshots) = self.snapshots.as_mut() {
            snapshots.mark_due();
        }
    }

    fn expire_grace(&mut self, now: Instant) {
        for player in self.sessions.expire(now) {
            self.world.remove_player(player);
            self.metrics.players.dec();
            self.score_dirty = true;
            self.snapshot_soon();
            tracing::info!(room = %self.id, player, "reconnect grace over: player removed");
        }
    }

    fn handle_events(&mut self) {
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
        for (victim_ship, shooter_ship) in kills {
            self.tell_kill(victim_ship, shooter_ship);
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
        let frame = Bytes::from(
            ServerMessage::Killed {
                victim_ship,
                shooter_ship,
                shooter_name,
            }
            .encode(),
        );
        for (_, session) in self.sessions.iter_mut() {
            session.send(Outgoing::Frame(frame.clone()));
        }
    }

    /// `your_ship` to each connected player whose ship appeared or was destroyed.
    fn tell_ships(&mut self) {
        let world = &self.world;
        for (player, session) in self.sessions.iter_mut() {
            let ship = world.player(player).and_then(|p| p.ship).unwrap_or(0);
            if session.conn.is_some() && ship != session.told_ship {
                let frame = ServerMessage::YourShip { ship_id: ship }.encode();
                // Told only once it is queued; otherwise tried again next step.
                if session.send(Outgoing::Frame(Bytes::from(frame))) {
                    session.told_ship = ship;
                }
            }
        }
    }

    fn send_score_if_due(&mut self) {
        let step = self.world.step_count();
        if !self.score_dirty || step < self.last_score_step + SCORE_INTERVAL_STEPS {
            return;
        }
        self.score_dirty = false;
        self.last_score_step = step;
        let frame = self.score_frame();
        for (_, session) in self.sessions.iter_mut() {
            session.send(Outgoing::Frame(frame.clone()));
        }
    }

    fn score_frame(&self) -> Bytes {
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
    /// full body at most once, and hands the shared bytes to every player.
    fn send_updates(&mut self) {
        let delta = self.encoder.delta(&self.world);
        let mut full: Option<Bytes> = None;
        let (mut sent, mut dropped) = (0, 0);
        for (_, session) in self.sessions.iter_mut() {
            let Some(conn) = &session.conn else { continue };
            let body = if conn.needs_full {
                full.get_or_insert_with(|| self.encoder.full(&self.world))
                    .clone()
            } else {
                delta.clone()
            };
            match session.send_update(body) {
                Queued::Sent => sent += 1,
                Queued::Dropped => dropped += 1,
            }
        }
        self.metrics.updates_sent.add(sent);
        self.metrics.updates_dropped.add(dropped);
    }

    fn constants(&self) -> Constants {
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
