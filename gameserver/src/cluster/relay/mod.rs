//! A room owned by another node, as this node serves its local sockets: it
//! takes their commands like a room would and forwards them to the owner,
//! and fans the owner's events out to them (one publication per room and
//! step, whatever the number of players). It watches the owner through the
//! lease: when the lease runs out (or the owner says it leaves) it takes the
//! room over; when another node took it, it moves its players there. Either
//! way their sockets stay open: a short pause, then a full update.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

mod events;
mod joins;

use joins::{moved, Pending, JOIN_RESEND};

use super::bus::{RelayInput, Route, RELAY_INBOX};
use super::registry::{lock_role, SlotRole};
use super::wire::{commands_channel, events_channel, FromOwner, ToOwner};
use super::{Cluster, Registry};
use crate::names::RoomId;
use crate::persist::{Loaded, StoreError, Taken};
use crate::protocol::close;
use crate::room::{
    Command, ConnId, JoinError, Joined, Joiner, Outbox, Outgoing, Peer, RoomStats,
    PRESENCE_INTERVAL,
};
use crate::sim::PlayerId;

/// A player the owner leaves out of its updates this long is joined again.
pub(super) const MISSING_LIMIT: Duration = Duration::from_secs(1);
/// An empty relay lingers this long before it stops.
const EMPTY_LINGER: Duration = Duration::from_secs(2);
/// An owner sends its relayed players an update several times a second;
/// this long without a word, they join again.
const OWNER_SILENCE: Duration = PRESENCE_INTERVAL.saturating_mul(3);
/// An owner sends its relayed players' updates many times a second; this
/// long without a word, the lease is looked at once (the room of an owner
/// that crashed is taken as soon as its presence is gone).
const OWNER_QUIET: Duration = Duration::from_millis(250);
/// After the owner's lease runs out, look again this much later.
const EXPIRY_MARGIN: Duration = Duration::from_millis(10);

/// The node and epoch whose events this relay follows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub node: String,
    pub epoch: u64,
}

pub(super) struct Relayed {
    player: PlayerId,
    joiner: Joiner,
    /// The highest input seq forwarded: carried across a takeover.
    last_seq: u32,
    waiting_full: bool,
    missing_since: Option<Instant>,
}

/// A join to hand to the room this node now runs.
pub struct Move {
    pub joiner: Joiner,
    pub reply: Option<oneshot::Sender<Result<Joined, JoinError>>>,
}

pub enum RelayEnd {
    Retired,
    Stopped,
    /// This node took the room over: run it from `loaded`, catch it up to
    /// `step`, and move these players and joins into it.
    TakeOver {
        epoch: u64,
        loaded: Loaded,
        step: u64,
        moves: Vec<Move>,
        last_heard: Instant,
    },
}

pub struct Relay {
    room: RoomId,
    cluster: Arc<Cluster>,
    registry: Arc<Registry>,
    /// What `/cluster` says of this room on this node.
    role: Arc<Mutex<SlotRole>>,
    owner: Owner,
    inbox: mpsc::Receiver<RelayInput>,
    players: HashMap<ConnId, Relayed>,
    pending: HashMap<ConnId, Pending>,
    /// Batch counter of the current owner's events.
    last_seq: Option<u64>,
    last_heard: Instant,
    /// The newest step its players saw.
    last_step: u64,
    poll_at: Instant,
    /// The owner said the lease changed (released, or a newer owner spoke)
    /// since the last look began: look again at once, whatever that look says.
    urged: bool,
    /// The lease was looked at since the owner last spoke.
    quiet_looked: bool,
    /// Redis did not answer the last look at the lease: the next one only
    /// reads it, so an owner that was cut off too takes its lapsed lease
    /// back (unchanged epoch) before this node would take the room from it.
    after_outage: bool,
    empty_since: Option<Instant>,
    counted: u64,
}

impl Relay {
    /// Listens to the owner's events before anything is sent to it.
    pub async fn start(
        room: RoomId,
        cluster: Arc<Cluster>,
        registry: Arc<Registry>,
        role: Arc<Mutex<SlotRole>>,
        owner: Owner,
        expires_in: Duration,
    ) -> Relay {
        let (tx, inbox) = mpsc::channel(RELAY_INBOX);
        let route = Route::Relay {
            room: room.clone(),
            inbox: tx,
        };
        cluster.bus.subscribe(events_channel(&room), route).await;
        tracing::info!(room = %room, owner = %owner.node, epoch = owner.epoch, "relaying room owned by another node");
        let now = Instant::now();
        let relay = Relay {
            poll_at: next_poll(now, expires_in, cluster.fence.lease_ttl),
            urged: false,
            quiet_looked: false,
            after_outage: false,
            room,
            cluster,
            registry,
            role,
            owner,
            inbox,
            players: HashMap::new(),
            pending: HashMap::new(),
            last_seq: None,
            last_heard: now,
            last_step: 0,
            empty_since: None,
            counted: 0,
        };
        relay.show_owner();
        relay
    }

    fn show_owner(&self) {
        *lock_role(&self.role) = SlotRole::Relay {
            owner: self.owner.node.clone(),
            epoch: self.owner.epoch,
        };
    }

    pub async fn run(
        mut self,
        rx: &mut mpsc::Receiver<Command>,
        cancel: &CancellationToken,
    ) -> RelayEnd {
        let mut beat = tokio::time::interval(PRESENCE_INTERVAL);
        let mut last_beat = Instant::now();
        // The lease is looked at on its own task: the owner's updates keep
        // flowing to the players meanwhile.
        let mut polling: Option<JoinHandle<Result<Look, StoreError>>> = None;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return self.stop(),
                command = rx.recv() => match command {
                    Some(command) => self.on_command(command),
                    None => return self.stop(),
                },
                Some(input) = self.inbox.recv() => self.on_input(input),
                _ = tokio::time::sleep_until(self.last_heard + OWNER_QUIET), if self.awaits_owner() => {
                    self.quiet_looked = true;
                    self.urge_poll();
                }
                _ = tokio::time::sleep_until(self.poll_at), if polling.is_none() => {
                    let (cluster, room) = (self.cluster.clone(), self.room.clone());
                    self.urged = false;
                    polling = Some(tokio::spawn(look(cluster, room, self.after_outage)));
                }
                taken = async { polling.as_mut().expect("guarded by is_some").await },
                    if polling.is_some() =>
                {
                    polling = None;
                    let taken = taken.unwrap_or_else(|e| {
                        let store = &self.cluster.store;
                        Err(store.unexpected("looking at the lease", e.to_string()))
                    });
                    if let Some((epoch, loaded)) = self.polled(taken) {
                        return self.take_over(epoch, loaded);
                    }
                }
                _ = beat.tick() => {
                    let now = Instant::now();
                    let paused = now.duration_since(last_beat) > self.cluster.fence.lease_ttl;
                    let unheard = now.duration_since(self.last_heard) > OWNER_SILENCE;
                    if paused || (unheard && !self.players.is_empty()) {
                        // The owner may have let our players go (it heard
                        // nothing from this node, or sends them nothing).
                        self.last_heard = now;
                        self.move_players();
                    }
                    last_beat = now;
                    self.beat(now);
                    if self.idle(now) && self.registry.retire(&self.room, rx) {
                        self.recount();
                        return RelayEnd::Retired;
                    }
                }
            }
            self.recount();
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Join { joiner, reply } => {
                let reply = match reply {
                    crate::room::JoinReply::Local(reply) => Some(reply),
                    crate::room::JoinReply::Remote => None,
                };
                self.ask_to_join(joiner, reply);
            }
            Command::Input {
                player,
                conn,
                seq,
                input,
            } => {
                if let Some(p) = self.players.get_mut(&conn).filter(|p| p.player == player) {
                    p.last_seq = p.last_seq.max(seq);
                    self.send(ToOwner::Input {
                        conn,
                        player,
                        seq,
                        input,
                    });
                }
            }
            Command::Restart { player, conn } => {
                if self.players.get(&conn).is_some_and(|p| p.player == player) {
                    self.send(ToOwner::Restart { conn, player });
                }
            }
            Command::Leave { player, conn } => {
                self.pending.remove(&conn);
                if self.players.remove(&conn).is_some() {
                    self.send(ToOwner::Leave { conn, player });
                }
            }
            Command::Stats { reply } => {
                let _ = reply.send(RoomStats {
                    step: self.last_step,
                    ships: 0,
                    missiles: 0,
                    players: self.players.len(),
                    connected: self.players.len(),
                });
            }
            // Only rooms take these, from other nodes.
            Command::NeedFull { .. } | Command::Present { .. } => {}
        }
    }

    fn on_input(&mut self, input: RelayInput) {
        match input {
            RelayInput::Resync => {
                // Messages may have been lost both ways, and the owner may
                // have let its players go while this node was silent: they
                // join again (the same connections, so nothing is replaced).
                self.move_players();
            }
            RelayInput::Owner(FromOwner::Released { epoch }) => {
                if epoch == self.owner.epoch {
                    tracing::info!(room = %self.room, owner = %self.owner.node, "owner released the room: taking it over");
                    self.urge_poll();
                }
            }
            RelayInput::Owner(FromOwner::Batch { epoch, seq, events }) => {
                if epoch != self.owner.epoch {
                    // A stale owner's late word, or a newer owner not found yet.
                    if epoch > self.owner.epoch {
                        self.urge_poll();
                    }
                    return;
                }
                let now = Instant::now();
                self.last_heard = now;
                self.quiet_looked = false;
                if self.last_seq.is_some_and(|last| seq != last + 1) {
                    let conns: Vec<ConnId> = self.players.keys().copied().collect();
                    self.send(ToOwner::NeedFull { conns });
                }
                if self.last_seq.is_none() {
                    // An owner speaks only once it listens: joins sent to a
                    // new owner before it subscribed went nowhere.
                    self.resend_joins(now, Duration::ZERO);
                }
                self.last_seq = Some(seq);
                for event in events {
                    self.on_event(event);
                }
            }
        }
    }

    /// A look at the lease came back; one more follows at once when the
    /// owner urged it meanwhile.
    fn polled(&mut self, looked: Result<Look, StoreError>) -> Option<(u64, Loaded)> {
        let taken = self.follow(looked);
        if self.urged {
            self.poll_at = Instant::now();
        }
        taken
    }

    /// Players wait for an owner that went quiet, and nobody looked yet.
    fn awaits_owner(&self) -> bool {
        let waiting = !self.players.is_empty() || !self.pending.is_empty();
        waiting && !self.quiet_looked
    }

    /// Looks at the lease again now (a look under way is followed by another).
    fn urge_poll(&mut self) {
        self.urged = true;
        self.poll_at = Instant::now();
    }

    /// What the lease said: the room was free and is this node's now
    /// (Some), or another node holds it (followed if it is a new one).
    fn follow(&mut self, looked: Result<Look, StoreError>) -> Option<(u64, Loaded)> {
        let now = Instant::now();
        let renewal = self.cluster.fence.lease_ttl / 3;
        self.after_outage = looked.is_err();
        match looked {
            Err(e) => {
                tracing::debug!(room = %self.room, error = %e, "lease check failed");
                self.poll_at = now + renewal;
                None
            }
            Ok(Look::Free) => {
                // Its owner may have been cut off too: it renews as soon as it
                // reaches Redis, and gets this long to do so.
                self.poll_at = now + 2 * self.cluster.fence.lease_ttl;
                None
            }
            Ok(Look::Taken(Taken::Owned { epoch, loaded })) => Some((epoch, loaded)),
            Ok(Look::Taken(Taken::Held {
                node,
                epoch,
                expires_in,
            })) => {
                let owner = Owner { node, epoch };
                if owner != self.owner {
                    tracing::info!(room = %self.room, owner = %owner.node, epoch, "room has a new owner: moving its players there");
                    self.owner = owner;
                    self.show_owner();
                    self.last_seq = None;
                    self.move_players();
                }
                self.poll_at = next_poll(now, expires_in, self.cluster.fence.lease_ttl);
                None
            }
        }
    }

    fn take_over(mut self, epoch: u64, loaded: Loaded) -> RelayEnd {
        self.forget_abandoned();
        tracing::info!(room = %self.room, from = %self.owner.node, epoch, players = self.players.len(), "taking the room over");
        let mut moves: Vec<Move> = self
            .players
            .drain()
            .map(|(_, p)| Move {
                joiner: moved(p.joiner, p.last_seq),
                reply: None,
            })
            .collect();
        moves.extend(self.pending.drain().map(|(_, p)| Move {
            joiner: p.joiner,
            reply: p.reply,
        }));
        // The room counts them as its own from here.
        self.recount();
        RelayEnd::TakeOver {
            epoch,
            loaded,
            step: self.last_step,
            moves,
            last_heard: self.last_heard,
        }
    }

    /// The heartbeat: the owner hears which sockets are here; joins are sent
    /// again, or refused when they waited too long.
    fn beat(&mut self, now: Instant) {
        let mut conns: Vec<ConnId> = self.players.keys().copied().collect();
        conns.extend(
            self.pending
                .values()
                .filter(|p| p.joiner.rejoin.is_some())
                .map(|p| p.joiner.conn),
        );
        if !conns.is_empty() {
            self.send(ToOwner::Present {
                node: self.cluster.node.clone(),
                conns,
            });
        }
        self.resend_joins(now, JOIN_RESEND);
        self.refuse_late(now);
    }

    fn idle(&mut self, now: Instant) -> bool {
        if !self.players.is_empty() || !self.pending.is_empty() {
            self.empty_since = None;
            return false;
        }
        now.duration_since(*self.empty_since.get_or_insert(now)) >= EMPTY_LINGER
    }

    /// The server stops: the owner hears its players left (they reconnect
    /// elsewhere with their tokens); their sockets close with 4000.
    fn stop(mut self) -> RelayEnd {
        let players: Vec<(ConnId, PlayerId)> =
            self.players.iter().map(|(c, p)| (*c, p.player)).collect();
        for (conn, player) in players {
            self.send(ToOwner::Leave { conn, player });
        }
        self.players.clear();
        self.pending.clear();
        self.recount();
        RelayEnd::Stopped
    }

    pub(super) fn send(&self, message: ToOwner) {
        let channel = commands_channel(&self.room);
        self.cluster
            .publisher
            .send(channel, message.encode(), &self.cluster.metrics);
    }

    /// Keeps `players_relayed_out` at the sockets this relay serves.
    fn recount(&mut self) {
        let now = (self.players.len()
            + self
                .pending
                .values()
                .filter(|p| p.joiner.rejoin.is_some())
                .count()) as u64;
        let gauge = &self.cluster.metrics.players_relayed_out;
        if now > self.counted {
            gauge.add(now - self.counted);
        } else {
            gauge.sub(self.counted - now);
        }
        self.counted = now;
    }
}

/// What a look at the lease found.
enum Look {
    Taken(Taken),
    /// Only read: nobody holds it.
    Free,
}

/// Takes the room if its lease is free, or (`read_only`) only reads who holds it.
async fn look(cluster: Arc<Cluster>, room: RoomId, read_only: bool) -> Result<Look, StoreError> {
    if !read_only {
        return cluster.take(&room).await.map(Look::Taken);
    }
    Ok(match cluster.store.holder(room.as_str()).await? {
        Some((node, epoch, expires_in)) => Look::Taken(Taken::Held {
            node,
            epoch,
            expires_in,
        }),
        None => Look::Free,
    })
}

fn next_poll(now: Instant, expires_in: Duration, ttl: Duration) -> Instant {
    now + (expires_in + EXPIRY_MARGIN).min(ttl / 3)
}

/// The socket of a join (a relay only ever holds joins of its own sockets).
pub(super) fn outbox(joiner: &Joiner) -> Option<&Outbox> {
    match &joiner.peer {
        Peer::Local(outbox) => Some(outbox),
        Peer::Remote(_) => None,
    }
}

/// Its room moved and it could not follow: the client reconnects.
pub fn send_away(joiner: &Joiner) {
    if let Some(out) = outbox(joiner) {
        let _ = out.try_send(Outgoing::Close {
            code: close::SERVER_RESTARTING,
            reason: crate::room::MOVED,
        });
    }
}
