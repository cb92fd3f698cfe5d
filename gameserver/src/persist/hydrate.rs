//! Hydration: before a starting server accepts players, it finds every saved
//! room, checks it, and hands back worlds ready to run. A value it cannot
//! resume goes to quarantine and that room starts fresh; the others are
//! unaffected.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::envelope::Envelope;
use super::keys::quarantine_key;
use super::store::{RedisStore, StoreError};
use super::token_hash::TokenHash;
use crate::sim::{PlayerId, World};

#[derive(Debug)]
pub struct RestoredRoom {
    pub room_id: String,
    pub saved_at: SystemTime,
    pub world: World,
    /// Every player left in `world`, each with its reconnect grace deadline.
    pub players: Vec<RestoredPlayer>,
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

#[derive(Debug, Default)]
pub struct Hydration {
    /// Sorted by room id.
    pub rooms: Vec<RestoredRoom>,
    pub refused: Vec<Refused>,
}

/// Turns a checked envelope into a runnable room as of `now`. Players that
/// were connected get a full grace period from now (their sockets died with
/// the old process); players whose grace ran out while no server ran are
/// removed, as they would have been.
pub fn restore(envelope: Envelope, grace: Duration, now: SystemTime) -> RestoredRoom {
    let saved_at = envelope.taken_at();
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
    }
}

/// Reads every saved room once. Fails only if Redis does not answer.
pub async fn hydrate(store: &RedisStore, grace: Duration) -> Result<Hydration, StoreError> {
    let ids = store.saved_room_ids().await?;
    let values = store.load(&ids).await?;
    let now = SystemTime::now();
    let mut hydration = Hydration::default();
    for (room_id, value) in ids.into_iter().zip(values) {
        let Some(value) = value else {
            tracing::warn!(room = %room_id, "[HYDRATION] snapshot of room {room_id} vanished before it was read (expired?)");
            continue;
        };
        match Envelope::decode(&room_id, &value) {
            Ok(envelope) => {
                let room = restore(envelope, grace, now);
                let when = humantime::format_rfc3339_millis(room.saved_at);
                tracing::info!(room = %room.room_id, "[HYDRATION] restored room {} from {when}", room.room_id);
                hydration.rooms.push(room);
            }
            Err(e) => {
                let reason = e.to_string();
                refuse(store, &room_id, &value, &reason).await;
                hydration.refused.push(Refused { room_id, reason });
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

/// Hydrates, retrying while Redis does not answer, for at most `give_up_after`;
/// then starts fresh (logged), so a Redis outage cannot keep the game down.
pub async fn hydrate_with_retry(
    store: &RedisStore,
    grace: Duration,
    give_up_after: Duration,
) -> Hydration {
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(100);
    loop {
        match hydrate(store, grace).await {
            Ok(hydration) => return hydration,
            Err(e) if started.elapsed() + pause >= give_up_after => {
                tracing::error!(error = %e, "[HYDRATION] Redis did not answer within {give_up_after:?}; starting fresh");
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
