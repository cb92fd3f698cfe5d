//! Finds a room by id, creating it on first join within the room limit, and
//! lets a room that emptied take itself out without racing a new join.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::snapshot::{restored_sessions, Persistence};
use super::task::Room;
use super::{Command, JoinError, JoinRequest, Joined, RoomConfig, RoomHandle, ROOM_QUEUE_CAPACITY};
use crate::metrics::Metrics;
use crate::names::RoomId;
use crate::persist::RestoredRoom;

/// A join can meet a room in the instant it stops; it then tries a fresh one.
const JOIN_ATTEMPTS: usize = 3;

pub struct Registry {
    rooms: Mutex<HashMap<RoomId, RoomHandle>>,
    config: RoomConfig,
    max_rooms: usize,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
    tracker: TaskTracker,
    persistence: Option<Persistence>,
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
    /// Rooms stop on `cancel`; their tasks join `tracker`.
    pub fn new(
        config: RoomConfig,
        max_rooms: usize,
        metrics: Arc<Metrics>,
        cancel: CancellationToken,
        tracker: TaskTracker,
    ) -> Arc<Registry> {
        Self::with_persistence(config, max_rooms, metrics, cancel, tracker, None)
    }

    /// As `new`, with every room snapshotting through `persistence`.
    pub fn with_persistence(
        config: RoomConfig,
        max_rooms: usize,
        metrics: Arc<Metrics>,
        cancel: CancellationToken,
        tracker: TaskTracker,
        persistence: Option<Persistence>,
    ) -> Arc<Registry> {
        Arc::new(Registry {
            rooms: Mutex::default(),
            config,
            max_rooms,
            metrics,
            cancel,
            tracker,
            persistence,
        })
    }

    /// Joins room `id`, creating it if it does not run yet.
    pub async fn join(
        self: &Arc<Self>,
        id: &RoomId,
        request: JoinRequest,
    ) -> Result<(RoomHandle, Joined), JoinError> {
        for _ in 0..JOIN_ATTEMPTS {
            let handle = self.get_or_create(id)?;
            let (reply, answer) = oneshot::channel();
            let command = Command::Join {
                request: request.clone(),
                reply,
            };
            if handle.tx.send(command).await.is_err() {
                continue;
            }
            if let Ok(result) = answer.await {
                return result.map(|joined| (handle, joined));
            }
        }
        Err(JoinError::Unavailable {
            room: id.clone(),
            why: format!("it stopped during {JOIN_ATTEMPTS} join attempts"),
        })
    }

    fn get_or_create(self: &Arc<Self>, id: &RoomId) -> Result<RoomHandle, JoinError> {
        let mut rooms = self.lock();
        if let Some(handle) = rooms.get(id).filter(|h| !h.tx.is_closed()) {
            return Ok(handle.clone());
        }
        rooms.remove(id);
        if rooms.len() >= self.max_rooms {
            return Err(JoinError::ServerFull(self.max_rooms));
        }
        let (room, handle) = self.new_room(id);
        self.start(&mut rooms, room, handle.clone());
        Ok(handle)
    }

    /// The rooms running in this process now.
    pub fn rooms(&self) -> Vec<RoomHandle> {
        let rooms = self.lock();
        rooms
            .values()
            .filter(|h| !h.tx.is_closed())
            .cloned()
            .collect()
    }

    /// Runs a room hydrated from its snapshot, before any player can join it.
    pub fn restore(self: &Arc<Self>, saved: RestoredRoom) -> Result<(), RestoreError> {
        let id = RoomId::parse(&saved.room_id).map_err(|_| RestoreError::InvalidId {
            room: saved.room_id.clone(),
        })?;
        let mut rooms = self.lock();
        if rooms.contains_key(&id) {
            return Err(RestoreError::AlreadyRunning(id));
        }
        if rooms.len() >= self.max_rooms {
            return Err(RestoreError::ServerFull {
                room: id,
                max: self.max_rooms,
            });
        }
        let sessions = restored_sessions(
            saved.players,
            tokio::time::Instant::now(),
            SystemTime::now(),
        );
        let (room, handle) = self.new_room(&id);
        self.start(&mut rooms, room.restored(saved.world, sessions), handle);
        Ok(())
    }

    fn new_room(self: &Arc<Self>, id: &RoomId) -> (Room, RoomHandle) {
        let (tx, rx) = mpsc::channel(ROOM_QUEUE_CAPACITY);
        let handle = RoomHandle { id: id.clone(), tx };
        let room = Room::new(
            id.clone(),
            self.config.clone(),
            self.seed_for(id),
            self.metrics.clone(),
            self.clone(),
            rx,
            self.persistence.clone(),
        );
        (room, handle)
    }

    fn start(&self, rooms: &mut HashMap<RoomId, RoomHandle>, room: Room, handle: RoomHandle) {
        self.tracker.spawn(room.run(self.cancel.child_token()));
        rooms.insert(handle.id.clone(), handle);
        self.metrics.rooms.inc();
    }

    /// Called by an empty room: it goes only if nothing waits in its queue,
    /// decided under the map lock so no join can find it afterwards. A command
    /// sent in between stays in the closed queue and is dropped with the room;
    /// its sender sees that and retries.
    pub(crate) fn retire(&self, id: &RoomId, rx: &mut mpsc::Receiver<Command>) -> bool {
        let mut rooms = self.lock();
        if !rx.is_empty() {
            return false;
        }
        rooms.remove(id);
        rx.close();
        self.metrics.rooms.dec();
        true
    }

    fn seed_for(&self, id: &RoomId) -> u64 {
        match self.config.seed {
            // FNV-1a over the id: stable across runs and platforms.
            Some(seed) => id
                .as_str()
                .bytes()
                .fold(seed ^ 0xcbf2_9ce4_8422_2325, |h, b| {
                    (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
                }),
            None => {
                let mut bytes = [0u8; 8];
                // The OS RNG failing leaves a fixed seed: rooms still play, only less varied.
                if let Err(e) = getrandom::fill(&mut bytes) {
                    tracing::warn!(room = %id, error = %e, "no OS randomness for the room seed");
                }
                u64::from_le_bytes(bytes)
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<RoomId, RoomHandle>> {
        // No code panics while holding this lock; recover the map if one ever did.
        self.rooms
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
