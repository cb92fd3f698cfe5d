//! This node's rooms by id: the entry point of every join. A room id maps
//! to one queue (`RoomHandle`) whose task (`slot`) runs the room here, or
//! relays it to the node that owns it, or moves from one to the other; a
//! connection keeps its handle throughout.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::slot::{self, Start};
use super::Cluster;
use crate::metrics::Metrics;
use crate::names::RoomId;
use crate::persist::ClaimedRoom;
use crate::room::{
    Command, JoinError, JoinRequest, Joined, Joiner, Lanes, Lease, Peer, Persistence, RoomConfig,
    RoomHandle, TokenTexts, Tokens,
};
use crate::token::{self, TokenHash};

/// A join can meet a room in the instant it stops; it then tries a fresh one.
const JOIN_ATTEMPTS: usize = 3;

/// What this node does for a room, as the slot knows it.
pub(super) enum SlotRole {
    Starting,
    /// Runs it; whether under a lease, the lease says.
    Owner(watch::Receiver<Lease>),
    Relay {
        owner: String,
        epoch: u64,
    },
    Local,
}

/// What this node does for a room, as `/cluster` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum Role {
    /// Finding out who owns it.
    Starting,
    /// Runs it under a lease.
    Owner { epoch: u64 },
    /// Runs it without a lease: Redis did not answer when it started.
    Provisional,
    /// Relays it to the node that owns it (listed as the room's `owner`).
    Relay {
        #[serde(skip)]
        owner: String,
        epoch: u64,
    },
    /// Runs it without Redis.
    Local,
}

struct Slot {
    handle: RoomHandle,
    role: Arc<Mutex<SlotRole>>,
}

impl SlotRole {
    fn listed(&self) -> Role {
        match self {
            SlotRole::Starting => Role::Starting,
            SlotRole::Owner(lease) => match *lease.borrow() {
                Lease::Held { epoch, .. } => Role::Owner { epoch },
                Lease::Provisional => Role::Provisional,
                // Stopping: another node owns it now.
                Lease::Lost => Role::Starting,
                Lease::Unfenced => Role::Local,
            },
            SlotRole::Relay { owner, epoch } => Role::Relay {
                owner: owner.clone(),
                epoch: *epoch,
            },
            SlotRole::Local => Role::Local,
        }
    }
}

pub struct Registry {
    slots: Mutex<HashMap<RoomId, Slot>>,
    pub(super) config: RoomConfig,
    max_rooms: usize,
    pub(super) metrics: Arc<Metrics>,
    pub(super) cancel: CancellationToken,
    tracker: TaskTracker,
    /// None: Redis is disabled.
    pub(super) cluster: Option<Arc<Cluster>>,
    pub(super) persistence: Option<Persistence>,
    /// The timers the rooms run here step on.
    pub(super) lanes: Lanes,
    next_conn: AtomicU64,
}

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("saved room {room:?} was not restored: its id is not a valid room id")]
    InvalidId { room: String },
    #[error("saved room {room} was not restored: this server runs its maximum of {max} rooms")]
    ServerFull { room: RoomId, max: usize },
    #[error("saved room {0} was not restored: a room of that id already runs")]
    AlreadyRunning(RoomId),
}

impl Registry {
    /// Rooms without Redis: they stop on `cancel`; their tasks join `tracker`.
    pub fn new(
        config: RoomConfig,
        max_rooms: usize,
        metrics: Arc<Metrics>,
        cancel: CancellationToken,
        tracker: TaskTracker,
    ) -> Arc<Registry> {
        Self::build(config, max_rooms, metrics, cancel, tracker, None)
    }

    /// Rooms owned under leases, relayed, snapshotted through `cluster`
    /// every `persistence.interval`.
    pub fn clustered(
        cluster: Arc<Cluster>,
        persistence: Persistence,
        config: RoomConfig,
        max_rooms: usize,
        metrics: Arc<Metrics>,
        cancel: CancellationToken,
        tracker: TaskTracker,
    ) -> Arc<Registry> {
        let cluster = Some((cluster, persistence));
        Self::build(config, max_rooms, metrics, cancel, tracker, cluster)
    }

    fn build(
        config: RoomConfig,
        max_rooms: usize,
        metrics: Arc<Metrics>,
        cancel: CancellationToken,
        tracker: TaskTracker,
        cluster: Option<(Arc<Cluster>, Persistence)>,
    ) -> Arc<Registry> {
        let (cluster, persistence) = cluster.unzip();
        Arc::new(Registry {
            slots: Mutex::default(),
            config,
            max_rooms,
            metrics,
            cancel,
            tracker,
            cluster,
            persistence,
            lanes: Lanes::start(),
            next_conn: AtomicU64::new(random_u64()),
        })
    }

    /// Joins room `id`, wherever it runs.
    pub async fn join(
        self: &Arc<Self>,
        id: &RoomId,
        request: JoinRequest,
    ) -> Result<(RoomHandle, Joined), JoinError> {
        let (fresh_text, fresh) = token::generate().map_err(|e| JoinError::Unavailable {
            room: id.clone(),
            why: e.to_string(),
        })?;
        let joiner = Joiner {
            conn: self.next_conn.fetch_add(1, Ordering::Relaxed),
            name: request.name,
            tokens: Tokens {
                presented: request.token.as_deref().map(TokenHash::of),
                fresh,
                texts: Some(TokenTexts {
                    presented: request.token,
                    fresh: fresh_text,
                }),
            },
            peer: Peer::Local(request.outbox),
            rejoin: None,
        };
        for _ in 0..JOIN_ATTEMPTS {
            let handle = self.get_or_create(id, None)?;
            if let Ok(result) = handle.join(joiner.clone()).await {
                return result.map(|joined| (handle, joined));
            }
        }
        Err(JoinError::Unavailable {
            room: id.clone(),
            why: format!("it stopped during {JOIN_ATTEMPTS} join attempts"),
        })
    }

    /// Runs a room this node took at start, before any player can join it.
    pub fn restore(self: &Arc<Self>, claimed: ClaimedRoom) -> Result<(), RestoreError> {
        let id = RoomId::parse(&claimed.room.room_id).map_err(|_| RestoreError::InvalidId {
            room: claimed.room.room_id.clone(),
        })?;
        if self.lock().contains_key(&id) {
            return Err(RestoreError::AlreadyRunning(id));
        }
        self.get_or_create(&id, Some(Start::Restored(Box::new(claimed))))
            .map(drop)
            .map_err(|_| RestoreError::ServerFull {
                room: id,
                max: self.max_rooms,
            })
    }

    /// The lanes rooms run on here.
    pub fn lanes(&self) -> &Lanes {
        &self.lanes
    }

    /// Every room of this node and what it does for it, sorted by id.
    pub fn rooms(&self) -> Vec<(RoomId, Role)> {
        let mut rooms: Vec<(RoomId, Role)> = self
            .lock()
            .iter()
            .filter(|(_, slot)| !slot.handle.is_closed())
            .map(|(id, slot)| (id.clone(), lock_role(&slot.role).listed()))
            .collect();
        rooms.sort_by(|a, b| a.0.cmp(&b.0));
        rooms
    }

    /// The queues of this node's rooms (each answers `stats` itself, or,
    /// relayed, for this node's players of it).
    pub fn handles(&self) -> Vec<RoomHandle> {
        self.lock()
            .values()
            .map(|slot| slot.handle.clone())
            .filter(|handle| !handle.is_closed())
            .collect()
    }

    /// `/cluster`: this node's rooms, each with its owner.
    pub fn listing_json(&self, node: Option<&str>) -> String {
        #[derive(Serialize)]
        struct Listed {
            room: String,
            owner: Option<String>,
            #[serde(flatten)]
            role: Role,
        }
        #[derive(Serialize)]
        struct Listing<'a> {
            node: Option<&'a str>,
            rooms: Vec<Listed>,
        }
        let rooms = self
            .rooms()
            .into_iter()
            .map(|(id, role)| Listed {
                room: id.to_string(),
                owner: match &role {
                    Role::Owner { .. } | Role::Provisional | Role::Local => {
                        node.map(str::to_string)
                    }
                    Role::Relay { owner, .. } => Some(owner.clone()),
                    Role::Starting => None,
                },
                role,
            })
            .collect();
        serde_json::to_string(&Listing { node, rooms }).unwrap_or_else(|_| "{}".to_string())
    }

    /// `start`: a room claimed at start; None: whatever a join finds.
    fn get_or_create(
        self: &Arc<Self>,
        id: &RoomId,
        start: Option<Start>,
    ) -> Result<RoomHandle, JoinError> {
        let mut slots = self.lock();
        if let Some(slot) = slots.get(id).filter(|s| !s.handle.is_closed()) {
            return Ok(slot.handle.clone());
        }
        slots.remove(id);
        if slots.len() >= self.max_rooms {
            return Err(JoinError::ServerFull(self.max_rooms));
        }
        let (handle, rx) = RoomHandle::channel(id.clone());
        let role = Arc::new(Mutex::new(SlotRole::Starting));
        let task = slot::run(
            self.clone(),
            handle.clone(),
            rx,
            role.clone(),
            start.unwrap_or(Start::Fresh),
        );
        self.tracker.spawn(task);
        slots.insert(
            id.clone(),
            Slot {
                handle: handle.clone(),
                role,
            },
        );
        Ok(handle)
    }

    /// Called by an empty room or relay: it goes only if nothing waits in
    /// its queue, decided under the map lock so no join can find it
    /// afterwards. A command sent in between stays in the closed queue and
    /// is dropped with the room; its sender sees that and retries.
    pub(super) fn retire(&self, id: &RoomId, rx: &mut mpsc::Receiver<Command>) -> bool {
        let mut slots = self.lock();
        if !rx.is_empty() {
            return false;
        }
        slots.remove(id);
        rx.close();
        true
    }

    /// A slot that ended: its entry goes, if it is still its own.
    pub(super) fn forget(&self, handle: &RoomHandle) {
        let mut slots = self.lock();
        if slots
            .get(handle.id())
            .is_some_and(|s| s.handle.same_queue(handle))
        {
            slots.remove(handle.id());
        }
    }

    pub(super) fn seed_for(&self, id: &RoomId) -> u64 {
        match self.config.seed {
            // FNV-1a over the id: stable across runs and platforms.
            Some(seed) => id
                .as_str()
                .bytes()
                .fold(seed ^ 0xcbf2_9ce4_8422_2325, |h, b| {
                    (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
                }),
            None => random_u64(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<RoomId, Slot>> {
        // No code panics while holding this lock; recover the map if one ever did.
        self.slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub(super) fn lock_role(role: &Mutex<SlotRole>) -> MutexGuard<'_, SlotRole> {
    role.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    // The OS RNG failing leaves a fixed value: rooms still play, only less varied.
    if let Err(e) = getrandom::fill(&mut bytes) {
        tracing::warn!(error = %e, "no OS randomness for a room seed or connection ids");
    }
    u64::from_le_bytes(bytes)
}
