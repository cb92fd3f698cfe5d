//! Hydration: the node that takes a room's lease loads its snapshot, checks
//! it, and gets a world ready to run; at start, a node takes every saved room
//! whose lease nobody holds. A value it cannot resume goes to quarantine and
//! that room starts fresh; the others are unaffected.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::envelope::Envelope;
use super::fence::{Acquired, Fence};
use super::keys::quarantine_key;
use super::store::{RedisStore, StoreError};
use crate::sim::{PlayerId, World};
use crate::token::TokenHash;

#[derive(Debug)]
pub struct RestoredRoom {
    pub room_id: String,
    pub saved_at: SystemTime,
    pub world: World,
    /// Every player left in `world`, each with its reconnect grace deadline.
    pub players: Vec<RestoredPlayer>,
    /// The lease epoch the snapshot was written under, if it says.
    pub epoch: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct RestoredPlayer {
    pub id: PlayerId,
    pub token_hash: TokenHash,
    pub grace_deadline: SystemTime,
}

#[derive(Debug)]
pub struct Refused {
    pub room_id: String,
    pub reason: String,
}

/// A room this node took at start: its snapshot and the lease epoch it runs under.
#[derive(Debug)]
pub struct ClaimedRoom {
    pub room: RestoredRoom,
    pub epoch: u64,
}

#[derive(Debug, Default)]
pub struct Hydration {
    /// Sorted by room id.
    pub rooms: Vec<ClaimedRoom>,
    pub refused: Vec<Refused>,
}

/// What came of taking one room.
#[derive(Debug)]
pub enum Taken {
    /// This node owns the room under `epoch`, with what its key held.
    Owned { epoch: u64, loaded: Loaded },
    /// Another node owns it; its lease runs out in `expires_in` unless renewed.
    Held {
        node: String,
        epoch: u64,
        expires_in: Duration,
    },
}

/// What a room's key held.
#[derive(Debug)]
pub enum Loaded {
    Nothing,
    Restored(Box<RestoredRoom>),
    Refused(Refused),
}

/// Turns a checked envelope into a runnable room as of `now`. Players that
/// were connected get a full grace period from now (their sockets died with
/// the old process); players whose grace ran out while no server ran are
/// removed, as they would have been.
pub fn restore(envelope: Envelope, grace: Duration, now: SystemTime) -> RestoredRoom {
    let saved_at = envelope.taken_at();
    let epoch = envelope.epoch;
    let mut world = envelope.snapshot;
    let mut players = Vec::with_capacity(envelope.players.len());
    for (id, record) in envelope.players {
        let deadline = record
            .grace_deadline
            .map_or(now + grace, |ms| UNIX_EPOCH + Duration::from_millis(ms));
        if deadline <= now {
            world.remove_player(id);
        } else {
            players.push(RestoredPlayer {
                id,
                token_hash: record.token_hash,
                grace_deadline: deadline,
            });
        }
    }
    // Nobody saw the removals above happen: there is nothing to announce.
    world.drain_events();
    RestoredRoom {
        room_id: envelope.room_id,
        saved_at,
        world,
        players,
        epoch,
    }
}

/// Takes room `room_id` for this node unless another node holds it, and
/// (with `hydrate`) loads its snapshot. The epoch ends up above the one in
/// the snapshot too, in case a failover lost the counter.
pub async fn take(
    store: &RedisStore,
    fence: &Fence,
    room_id: &str,
    grace: Duration,
    hydrate: bool,
) -> Result<Taken, StoreError> {
    let epoch = match store.acquire(fence, room_id, 0, false).await? {
        Acquired::Won { epoch } => epoch,
        Acquired::Held {
            node,
            epoch,
            expires_in,
        } => {
            return Ok(Taken::Held {
                node,
                epoch,
                expires_in,
            })
        }
        Acquired::Saved => unreachable_saved(store, room_id)?,
    };
    if !hydrate {
        let loaded = Loaded::Nothing;
        return Ok(Taken::Owned { epoch, loaded });
    }
    let loaded = load(store, room_id, grace).await?;
    let floor = match &loaded {
        Loaded::Restored(room) => room.epoch.unwrap_or(0),
        Loaded::Nothing | Loaded::Refused(_) => 0,
    };
    if floor < epoch {
        return Ok(Taken::Owned { epoch, loaded });
    }
    tracing::warn!(room = %room_id, epoch, floor, "[HYDRATION] the snapshot of room {room_id} is newer than the epoch counter (lost in a failover?): taking a higher epoch");
    match store.acquire(fence, room_id, floor, false).await? {
        Acquired::Won { epoch } => Ok(Taken::Owned { epoch, loaded }),
        Acquired::Held {
            node,
            epoch,
            expires_in,
        } => Ok(Taken::Held {
            node,
            epoch,
            expires_in,
        }),
        Acquired::Saved => unreachable_saved(store, room_id),
    }
}

/// `acquire` answers `Saved` only when asked `fresh_only`, which `take` never does.
fn unreachable_saved<T>(store: &RedisStore, room_id: &str) -> Result<T, StoreError> {
    Err(store.unexpected(
        &format!("taking the lease of room {room_id}"),
        "answered 'saved' to a plain acquire",
    ))
}

/// Reads and checks the snapshot of one room, quarantining a bad one.
pub async fn load(
    store: &RedisStore,
    room_id: &str,
    grace: Duration,
) -> Result<Loaded, StoreError> {
    let value = store.load(&[room_id.to_string()]).await?.pop().flatten();
    let Some(value) = value else {
        tracing::info!(room = %room_id, "[HYDRATION] no saved state for room {room_id}, starting fresh");
        return Ok(Loaded::Nothing);
    };
    match Envelope::decode(room_id, &value) {
        Ok(envelope) => {
            let room = restore(envelope, grace, SystemTime::now());
            let when = humantime::format_rfc3339_millis(room.saved_at);
            tracing::info!(room = %room.room_id, step = room.world.step_count(), "[HYDRATION] restored room {} from {when}", room.room_id);
            Ok(Loaded::Restored(Box::new(room)))
        }
        Err(e) => {
            let reason = e.to_string();
            refuse(store, room_id, &value, &reason).await;
            Ok(Loaded::Refused(Refused {
                room_id: room_id.to_string(),
                reason,
            }))
        }
    }
}

/// Takes every saved room whose lease nobody holds. Fails only if Redis
/// does not answer.
pub async fn claim_saved(
    store: &RedisStore,
    fence: &Fence,
    grace: Duration,
) -> Result<Hydration, StoreError> {
    let mut hydration = Hydration::default();
    for room_id in store.saved_room_ids().await? {
        match take(store, fence, &room_id, grace, true).await? {
            Taken::Owned {
                epoch,
                loaded: Loaded::Restored(room),
            } => hydration.rooms.push(ClaimedRoom { room: *room, epoch }),
            Taken::Owned { epoch, loaded } => {
                // Refused or gone meanwhile: nothing to run until someone joins it.
                if let Loaded::Refused(refused) = loaded {
                    hydration.refused.push(refused);
                }
                store.release(fence, &room_id, epoch).await?;
            }
            Taken::Held { node, .. } => {
                tracing::info!(room = %room_id, owner = %node, "[HYDRATION] room {room_id} runs on node {node}");
            }
        }
    }
    if hydration.rooms.is_empty() {
        tracing::info!("[HYDRATION] no saved room to restore; starting fresh");
    }
    Ok(hydration)
}

async fn refuse(store: &RedisStore, room_id: &str, value: &[u8], reason: &str) {
    let kept = quarantine_key(room_id);
    match store.quarantine(room_id, value, reason).await {
        Ok(()) => tracing::error!(
            room = %room_id,
            reason = %reason,
            "[HYDRATION] snapshot of room {room_id} refused: {reason}; the room starts fresh, the value is kept under {kept}"
        ),
        Err(e) => tracing::error!(
            room = %room_id,
            reason = %reason,
            error = %e,
            "[HYDRATION] snapshot of room {room_id} refused: {reason}; the room starts fresh, and the value could not be quarantined"
        ),
    }
}

/// Claims, retrying while Redis does not answer, for at most `give_up_after`;
/// then starts without saved rooms (logged): they are taken on demand when
/// players join, so a Redis outage cannot keep the game down.
pub async fn claim_with_retry(
    store: &RedisStore,
    fence: &Fence,
    grace: Duration,
    give_up_after: Duration,
) -> Hydration {
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(100);
    loop {
        match claim_saved(store, fence, grace).await {
            Ok(hydration) => return hydration,
            Err(e) if started.elapsed() + pause >= give_up_after => {
                tracing::error!(error = %e, "[HYDRATION] Redis did not answer within {give_up_after:?}; starting without saved rooms (they are taken as players join)");
                return Hydration::default();
            }
            Err(e) => {
                tracing::warn!(error = %e, "[HYDRATION] Redis not answering yet; retrying in {pause:?}");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
        }
    }
}
