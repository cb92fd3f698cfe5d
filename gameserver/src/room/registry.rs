//! Finds a room by id, creating it on first join within the room limit, and
//! lets a room that emptied take itself out without racing a new join.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::task::Room;
use super::{Command, JoinError, JoinRequest, Joined, RoomConfig, RoomHandle, ROOM_QUEUE_CAPACITY};
use crate::metrics::Metrics;
use crate::names::RoomId;

/// A join can meet a room in the instant it stops; it then tries a fresh one.
const JOIN_ATTEMPTS: usize = 3;

pub struct Registry {
    rooms: Mutex<HashMap<RoomId, RoomHandle>>,
    config: RoomConfig,
    max_rooms: usize,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
    tracker: TaskTracker,
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
        Arc::new(Registry {
            rooms: Mutex::default(),
            config,
            max_rooms,
            metrics,
            cancel,
            tracker,
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
        let (tx, rx) = mpsc::channel(ROOM_QUEUE_CAPACITY);
        let handle = RoomHandle { id: id.clone(), tx };
        let room = Room::new(
            id.clone(),
            self.config.clone(),
            self.seed_for(id),
            self.metrics.clone(),
            self.clone(),
            rx,
        );
        self.tracker.spawn(room.run(self.cancel.child_token()));
        rooms.insert(id.clone(), handle.clone());
        self.metrics.rooms.inc();
        Ok(handle)
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
