//! One room's task: a fixed 60 Hz loop that drains commands, steps the world
//! (each phase timed), and sends updates encoded once for everyone. It stops
//! when it empties, when the server stops, or at once when another node took
//! its world over.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::host::{Host, Lease, LeaseView};
use super::session::{Presence, Sessions};
use super::snapshot::{Persistence, SnapshotClock};
use super::{Command, JoinReply, NodeName, Outgoing, RemoteEvent, RoomConfig, RoomStats};
use crate::metrics::{Metrics, Phase};
use crate::names::RoomId;
use crate::protocol::{close, UpdateEncoder};
use crate::sim::{self, Input, PlayerId, World};

pub(super) const STEP_PERIOD: Duration =
    Duration::from_nanos(1_000_000_000 / sim::STEPS_PER_SECOND as u64);
/// An empty room lingers this long before it stops, so a quick rejoin finds it.
const EMPTY_LINGER: Duration = Duration::from_secs(2);
/// Why a room closes its sockets when another node took its world over.
pub const MOVED: &str = "room moved to another server";
/// A takeover steps its restored world on at most this far (10 s) to reach
/// the step its players last saw.
const MAX_CATCH_UP_STEPS: u64 = 600;

/// What a room needs besides its world: where it reports, where its
/// snapshots go, whether it owns its world.
pub struct RoomContext {
    pub metrics: Arc<Metrics>,
    pub host: Arc<dyn Host>,
    /// None when Redis is disabled.
    pub persistence: Option<Persistence>,
    pub lease: LeaseView,
}

/// Why a room's task ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// Empty for good: it left the node's rooms.
    Retired,
    /// The server is stopping; its final snapshot is with the writer.
    Stopped,
    /// Another node owns the world now; its players were sent to reconnect.
    Lost,
}

pub struct Room {
    pub(super) id: RoomId,
    pub(super) config: RoomConfig,
    pub(super) world: World,
    pub(super) encoder: UpdateEncoder,
    pub(super) sessions: Sessions,
    inputs: Vec<(PlayerId, Input)>,
    pub(super) score_dirty: bool,
    pub(super) last_score_step: u64,
    empty_since: Option<Instant>,
    /// None when Redis is disabled.
    snapshots: Option<SnapshotClock>,
    lease: LeaseView,
    /// The newest epoch the room held its lease under.
    last_epoch: Option<u64>,
    /// Set when the room woke from a pause: nothing goes out until Redis
    /// confirms, for a request sent after this, that the room is still ours.
    held_since: Option<Instant>,
    /// When it last stepped (or started).
    last_real: Instant,
    /// What goes to players on other nodes at the end of this step.
    pub(super) remote: Vec<RemoteEvent>,
    /// When each relaying node last said which connections it holds.
    pub(super) present: HashMap<NodeName, Instant>,
    pub(super) metrics: Arc<Metrics>,
    host: Arc<dyn Host>,
    rx: mpsc::Receiver<Command>,
}

impl Room {
    pub fn new(
        id: RoomId,
        config: RoomConfig,
        seed: u64,
        context: RoomContext,
        rx: mpsc::Receiver<Command>,
    ) -> Room {
        let RoomContext {
            metrics,
            host,
            persistence,
            lease,
        } = context;
        Room {
            snapshots: persistence.map(|p| SnapshotClock::new(p, Instant::now())),
            world: World::new(config.sim.clone(), seed),
            id,
            config,
            encoder: UpdateEncoder::new(),
            sessions: Sessions::default(),
            inputs: Vec::new(),
            score_dirty: true,
            last_score_step: 0,
            empty_since: Some(Instant::now()),
            last_epoch: lease.epoch(),
            lease,
            held_since: None,
            last_real: Instant::now(),
            remote: Vec::new(),
            present: HashMap::new(),
            metrics,
            host,
            rx,
        }
    }

    /// Continues a hydrated room: its world and its players, all waiting for
    /// their tokens within their grace period.
    pub fn restored(mut self, world: World, sessions: Sessions) -> Room {
        self.metrics.players.add(sessions.len() as u64);
        self.world = world;
        self.sessions = sessions;
        self
    }

    /// Steps a restored world on, without inputs, up to `step` (at most
    /// MAX_CATCH_UP_STEPS): players moved here by a takeover saw the old
    /// owner's world up to there, and the game must not go back for them.
    pub fn catch_up(&mut self, step: u64) {
        let target = step.min(self.world.step_count() + MAX_CATCH_UP_STEPS);
        while self.world.step_count() < target {
            self.world.step(&[]);
        }
        self.world.drain_events();
        self.score_dirty = true;
        self.snapshot_soon();
    }

    /// Takes a command before the loop runs (joins moved here by a takeover).
    pub fn accept(&mut self, command: Command) {
        self.handle(command, Instant::now());
    }

    /// Runs alone on its own timer until it ends; rooms of a server run on
    /// `Lanes`, which step many rooms on one timer.
    pub async fn run(mut self, cancel: CancellationToken) -> Ended {
        self.started();
        let mut interval = tokio::time::interval(STEP_PERIOD);
        // A late tick is skipped, never burst: the game slows rather than jumps.
        interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut last_tick: Option<Instant> = None;
        let ended = loop {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => break Ended::Stopped,
                at = interval.tick() => {
                    if let Some(prev) = last_tick {
                        let missed = (at - prev).as_nanos() / STEP_PERIOD.as_nanos();
                        self.skipped(missed.saturating_sub(1) as u64);
                    }
                    last_tick = Some(at);
                }
            }
            if let Some(ended) = self.on_tick(Instant::now()) {
                break ended;
            }
        };
        self.finish(ended);
        ended
    }

    pub(super) fn started(&mut self) {
        tracing::info!(room = %self.id, bots = self.config.sim.bots, step = self.world.step_count(), "room started");
        self.last_real = Instant::now();
    }

    /// Ticks of its clock that came too late and were skipped.
    pub(super) fn skipped(&self, ticks: u64) {
        self.metrics.ticks_skipped.add(ticks);
    }

    /// One tick of its clock: a step, unless the room ends here.
    pub(super) fn on_tick(&mut self, now: Instant) -> Option<Ended> {
        if now.duration_since(self.last_real) > self.lease.pause_limit {
            self.woke_from_pause(now, now.duration_since(self.last_real));
        }
        self.last_real = now;
        if self.lease.get() == Lease::Lost {
            return Some(Ended::Lost);
        }
        self.tick(now);
        if self.should_retire() && self.host.retire(&self.id, &mut self.rx) {
            return Some(Ended::Retired);
        }
        None
    }

    pub(super) fn finish(&mut self, ended: Ended) {
        match ended {
            Ended::Stopped => {
                // The next owner resumes from this.
                let epoch = self.lease.epoch();
                if let Some(snapshots) = self.snapshots.as_mut() {
                    snapshots.take(
                        self.id.as_str(),
                        &self.world,
                        &self.sessions,
                        Instant::now(),
                        epoch,
                    );
                }
            }
            Ended::Lost => {
                tracing::warn!(room = %self.id, "room taken over by another node: stopped, its players sent to reconnect");
                let goodbye = Outgoing::Close {
                    code: close::SERVER_RESTARTING,
                    reason: MOVED,
                };
                for (_, session) in self.sessions.iter() {
                    if session.remote_node().is_none() {
                        session.send(goodbye.clone(), &mut Vec::new());
                    }
                }
            }
            Ended::Retired => {}
        }
        self.metrics.players.sub(self.sessions.len() as u64);
        self.metrics
            .players_relayed_in
            .sub(self.sessions.remote() as u64);
        tracing::info!(room = %self.id, step = self.world.step_count(), ?ended, "room stopped");
    }

    /// A gap past the lease: another node may have taken the room meanwhile.
    /// Send nothing until Redis says it is still ours, and write a snapshot
    /// at once: it lands if so, and the fence refuses it if not.
    fn woke_from_pause(&mut self, now: Instant, gap: Duration) {
        if self.lease.get() == Lease::Unfenced {
            return;
        }
        tracing::warn!(room = %self.id, gap_ms = gap.as_millis() as u64, "room woke from a pause past its lease: confirming it is still this node's before sending more");
        self.held_since = Some(now);
        self.host.confirm_lease(&self.id);
        // Under the epoch it last held, even if it already heard it lost the
        // room: the fence, not this node, decides.
        let epoch = self.lease.epoch().or(self.last_epoch);
        if let Some(snapshots) = self.snapshots.as_mut() {
            snapshots.take(self.id.as_str(), &self.world, &self.sessions, now, epoch);
        }
    }

    fn should_retire(&mut self) -> bool {
        if !self.sessions.is_empty() {
            self.empty_since = None;
            return false;
        }
        let since = *self.empty_since.get_or_insert_with(Instant::now);
        since.elapsed() >= EMPTY_LINGER
    }

    /// One step, then what players must hear about it.
    pub(crate) fn tick(&mut self, now: Instant) {
        let t0 = std::time::Instant::now();
        self.drain_commands(now);
        let metrics = &self.metrics;
        let mut lap = t0;
        self.world.step_observed(&self.inputs, |phase| {
            let t = std::time::Instant::now();
            metrics.phase(Phase::from(phase)).record(t - lap);
            lap = t;
        });
        self.inputs.clear();
        if let Some(since) = self.held_since {
            if self.lease.confirmed_since(since) {
                tracing::info!(room = %self.id, "lease confirmed after the pause: room goes on");
                self.held_since = None;
            }
        }
        let speaking = self.held_since.is_none();
        let update_due = speaking
            && super::schedule::update_due(self.world.step_count(), self.config.update_rate);
        if update_due {
            self.sessions.hold_local(true);
        }
        self.handle_events(speaking);
        self.expire_grace(now);
        if self
            .world
            .step_count()
            .is_multiple_of(u64::from(sim::STEPS_PER_SECOND))
        {
            self.drop_silent_nodes(now);
        }
        if speaking {
            self.tell_ships();
            self.send_score_if_due();
        }
        if update_due {
            self.send_updates();
            self.sessions.hold_local(false);
        }
        self.flush_remote();
        let t6 = self.lap(Phase::Encode, lap);
        let epoch = self.lease.epoch();
        self.last_epoch = epoch.or(self.last_epoch);
        if let Some(snapshots) = self.snapshots.as_mut() {
            snapshots.tick(self.id.as_str(), &self.world, &self.sessions, now, epoch);
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

    fn drain_commands(&mut self, now: Instant) {
        while let Ok(command) = self.rx.try_recv() {
            self.handle(command, now);
        }
    }

    fn handle(&mut self, command: Command, now: Instant) {
        match command {
            Command::Join { joiner, reply } => {
                let conn = joiner.conn;
                let result = self.join(joiner, now);
                match reply {
                    JoinReply::Local(reply) => {
                        let _ = reply.send(result);
                    }
                    JoinReply::Remote => self.remote.push(RemoteEvent::Joined { conn, result }),
                }
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
            Command::Leave { player, conn } => self.leave(player, conn, now),
            Command::NeedFull { conns } => self.needs_full(&conns),
            Command::Present { node, conns } => self.present(node, &conns, now),
            Command::Stats { reply } => {
                let _ = reply.send(self.stats());
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

    pub(super) fn snapshot_soon(&mut self) {
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

    /// Sends what this step produced for other nodes, in one publication.
    fn flush_remote(&mut self) {
        if !self.remote.is_empty() {
            let events = std::mem::take(&mut self.remote);
            self.host.publish(&self.id, events);
        }
    }

    pub(super) fn away_until(&self, now: Instant) -> Presence {
        Presence::Away {
            until: now + self.config.reconnect_grace,
        }
    }
}
