//! One room's life on this node, behind its queue: find out who owns it;
//! run it here under the lease (restored from its snapshot), or relay it to
//! its owner until that owner goes, then take it over with the players this
//! node holds; or, while Redis does not answer, run it provisionally.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::bus::Route;
use super::registry::{lock_role, Registry, SlotRole};
use super::relay::{send_away, Move, Owner, Relay, RelayEnd};
use super::wire::{commands_channel, events_channel, FromOwner};
use super::Cluster;
use crate::names::RoomId;
use crate::persist::{ClaimedRoom, Loaded, RestoredRoom, Taken};
use crate::room::{
    restored_sessions, Command, Ended, Host, JoinReply, Lease, LeaseView, RemoteEvent, Room,
    RoomContext, RoomHandle,
};

/// How a slot begins.
pub enum Start {
    /// Whoever owns the room: found out now.
    Fresh,
    /// Taken by this node at start.
    Restored(Box<ClaimedRoom>),
}

/// What the room runs from when this node owns it.
struct Owned {
    lease: watch::Receiver<Lease>,
    saved: Option<Box<RestoredRoom>>,
    /// A takeover: players and joins moved in from the relay, the step they
    /// last saw, and when the old owner last spoke.
    takeover: Option<(Vec<Move>, u64, Instant)>,
}

enum Next {
    Own(Owned),
    Relay { owner: Owner, expires_in: Duration },
}

pub async fn run(
    registry: Arc<Registry>,
    handle: RoomHandle,
    rx: mpsc::Receiver<Command>,
    role: Arc<Mutex<SlotRole>>,
    start: Start,
) {
    registry.metrics.rooms.inc();
    match registry.cluster.clone() {
        None => {
            *lock_role(&role) = SlotRole::Local;
            let room = new_room(&registry, &handle, None, LeaseView::unfenced(), rx);
            registry
                .lanes
                .run(room, &handle, registry.cancel.child_token())
                .await;
        }
        Some(cluster) => {
            let first = match start {
                Start::Restored(claimed) => Next::Own(Owned {
                    lease: cluster.keeper.hold(handle.id().clone(), claimed.epoch),
                    saved: Some(Box::new(claimed.room)),
                    takeover: None,
                }),
                Start::Fresh => resolve(&cluster, handle.id()).await,
            };
            clustered(&registry, &cluster, &handle, rx, role, first).await;
        }
    }
    registry.forget(&handle);
    registry.metrics.rooms.dec();
}

async fn clustered(
    registry: &Arc<Registry>,
    cluster: &Arc<Cluster>,
    handle: &RoomHandle,
    mut rx: mpsc::Receiver<Command>,
    role: Arc<Mutex<SlotRole>>,
    mut next: Next,
) {
    let cancel = registry.cancel.child_token();
    let id = handle.id();
    loop {
        match next {
            Next::Own(owned) => return own(registry, cluster, handle, rx, &role, owned).await,
            Next::Relay { owner, expires_in } => {
                let relay = Relay::start(
                    id.clone(),
                    cluster.clone(),
                    registry.clone(),
                    role.clone(),
                    owner,
                    expires_in,
                )
                .await;
                let end = relay.run(&mut rx, &cancel).await;
                cluster.bus.unsubscribe(&events_channel(id)).await;
                next = match end {
                    RelayEnd::Retired | RelayEnd::Stopped => return,
                    RelayEnd::TakeOver {
                        epoch,
                        loaded,
                        step,
                        moves,
                        last_heard,
                    } => Next::Own(Owned {
                        lease: cluster.keeper.hold(id.clone(), epoch),
                        saved: restored(loaded),
                        takeover: Some((moves, step, last_heard)),
                    }),
                };
            }
        }
    }
}

/// Who owns the room: this node now (with its snapshot), another node, or
/// nobody can tell (Redis does not answer: the room starts provisionally).
async fn resolve(cluster: &Cluster, id: &RoomId) -> Next {
    match cluster.take(id).await {
        Ok(Taken::Owned { epoch, loaded }) => Next::Own(Owned {
            lease: cluster.keeper.hold(id.clone(), epoch),
            saved: restored(loaded),
            takeover: None,
        }),
        Ok(Taken::Held {
            node,
            epoch,
            expires_in,
        }) => Next::Relay {
            owner: Owner { node, epoch },
            expires_in,
        },
        Err(e) => {
            tracing::warn!(room = %id, error = %e, "Redis did not answer: room starts without its lease, and yields if Redis turns out to hold it");
            Next::Own(Owned {
                lease: cluster.keeper.provisional(id.clone()),
                saved: None,
                takeover: None,
            })
        }
    }
}

fn restored(loaded: Loaded) -> Option<Box<RestoredRoom>> {
    match loaded {
        Loaded::Restored(room) => Some(room),
        Loaded::Nothing | Loaded::Refused(_) => None,
    }
}

/// Runs the room here until it retires, stops, or is taken over.
async fn own(
    registry: &Arc<Registry>,
    cluster: &Arc<Cluster>,
    handle: &RoomHandle,
    rx: mpsc::Receiver<Command>,
    role: &Mutex<SlotRole>,
    owned: Owned,
) {
    let id = handle.id().clone();
    *lock_role(role) = SlotRole::Owner(owned.lease.clone());
    cluster
        .bus
        .subscribe(commands_channel(&id), Route::Room(handle.clone()))
        .await;
    let view = LeaseView {
        status: owned.lease.clone(),
        pause_limit: cluster.fence.lease_ttl,
    };
    let mut room = new_room(registry, handle, Some(cluster.clone()), view, rx);
    if let Some(saved) = owned.saved {
        let sessions = restored_sessions(saved.players, Instant::now(), SystemTime::now());
        room = room.restored(saved.world, sessions);
    }
    if let Some((moves, step, last_heard)) = owned.takeover {
        room.catch_up(step);
        for m in moves {
            move_into(&mut room, m);
        }
        registry.metrics.takeovers.add(1);
        registry.metrics.takeover.record(last_heard.elapsed());
    }
    registry.metrics.rooms_owned.inc();
    let ended = registry
        .lanes
        .run(room, handle, registry.cancel.child_token())
        .await;
    registry.metrics.rooms_owned.dec();
    match ended {
        Ended::Retired | Ended::Lost => {
            let last = cluster.keeper.forget(&id);
            cluster.bus.unsubscribe(&commands_channel(&id)).await;
            if let (Ended::Retired, Some(Lease::Held { epoch, .. })) = (ended, last) {
                // Gone for good: its snapshot and lease go too.
                cluster.writer.remove(id.as_str(), epoch);
            }
        }
        // The drain writes the last snapshots, then releases every lease.
        Ended::Stopped => {}
    }
}

/// A player or join moved in from the relay: one the room cannot resume is
/// sent to reconnect.
fn move_into(room: &mut Room, m: Move) {
    match m.reply {
        Some(reply) => room.accept(Command::Join {
            joiner: m.joiner,
            reply: JoinReply::Local(reply),
        }),
        None => {
            let (reply, mut answer) = oneshot::channel();
            let joiner = m.joiner.clone();
            room.accept(Command::Join {
                joiner: m.joiner,
                reply: JoinReply::Local(reply),
            });
            if !matches!(answer.try_recv(), Ok(Ok(_))) {
                send_away(&joiner);
            }
        }
    }
}

fn new_room(
    registry: &Arc<Registry>,
    handle: &RoomHandle,
    cluster: Option<Arc<Cluster>>,
    lease: LeaseView,
    rx: mpsc::Receiver<Command>,
) -> Room {
    let host = SlotHost {
        registry: Arc::downgrade(registry),
        lease: lease.status.clone(),
        cluster,
        published: AtomicU64::new(0),
    };
    let context = RoomContext {
        metrics: registry.metrics.clone(),
        host: Arc::new(host),
        persistence: registry.persistence.clone(),
        lease,
    };
    let id = handle.id().clone();
    let seed = registry.seed_for(&id);
    Room::new(id, registry.config.clone(), seed, context, rx)
}

/// What a room of this node reaches: the registry, and the other nodes.
struct SlotHost {
    registry: Weak<Registry>,
    lease: watch::Receiver<Lease>,
    cluster: Option<Arc<Cluster>>,
    /// Batches published under the current epoch.
    published: AtomicU64,
}

impl Host for SlotHost {
    fn retire(&self, room: &RoomId, rx: &mut mpsc::Receiver<Command>) -> bool {
        self.registry
            .upgrade()
            .is_some_and(|registry| registry.retire(room, rx))
    }

    fn publish(&self, room: &RoomId, events: Vec<RemoteEvent>) {
        let (Some(cluster), Lease::Held { epoch, .. }) = (&self.cluster, *self.lease.borrow())
        else {
            // Without a lease no other node can find the room to relay it.
            return;
        };
        let seq = self.published.fetch_add(1, Ordering::Relaxed) + 1;
        let batch = FromOwner::Batch { epoch, seq, events };
        cluster
            .publisher
            .send(events_channel(room), batch.encode(), &cluster.metrics);
    }

    fn confirm_lease(&self, _room: &RoomId) {
        if let Some(cluster) = &self.cluster {
            cluster.keeper.confirm();
        }
    }
}
