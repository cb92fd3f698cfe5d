//! The snapshot envelope: the JSON value stored under `game_room_{roomId}`.
//! Its top level keeps the seed's fields (`snapshot`, `timestamp`,
//! `scoreData`, `players`) and adds a format `version` and the `roomId`.
//! `snapshot` is the whole sim World, which alone is restored; `scoreData` is
//! derived from it for tools that read the seed's format. `epoch` is the
//! fencing epoch of the lease it was written under (absent in snapshots from
//! before leases, which still load): a new owner starts above it even when a
//! Redis failover lost the epoch counter.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::sim::{ObjectId, PlayerId, World};
use crate::token::TokenHash;

/// The format this server writes and the only one it restores.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    pub version: u32,
    pub room_id: String,
    /// When the room took this snapshot, in milliseconds since the Unix epoch
    /// (the seed's `Date.now()`).
    pub timestamp: u64,
    pub snapshot: World,
    /// The seed's score map, keyed by ship id.
    pub score_data: BTreeMap<ObjectId, ScoreRecord>,
    /// Every player of the world, connected or within its grace period.
    pub players: BTreeMap<PlayerId, PlayerRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreRecord {
    pub kills: u32,
    pub name: String,
    pub player: PlayerId,
    pub deaths: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlayerRecord {
    pub token_hash: TokenHash,
    /// Milliseconds since the Unix epoch after which the player's ship and
    /// score go; None while the player was connected. A restarted server
    /// gives players that were connected a fresh grace period.
    pub grace_deadline: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("not a snapshot envelope: {0}")]
    Malformed(String),
    #[error("unknown format version {found} (this server reads version {FORMAT_VERSION})")]
    UnknownVersion { found: String },
    #[error("the envelope names room {found:?}, not the room of its key")]
    RoomMismatch { found: String },
    #[error("inconsistent snapshot: {0}")]
    Inconsistent(String),
}

#[derive(Debug, thiserror::Error)]
#[error("could not encode the snapshot of room {room_id}: {source}")]
pub struct EncodeError {
    room_id: String,
    source: serde_json::Error,
}

impl Envelope {
    /// Everything a room must hand over to be resumed exactly: a copy of its
    /// world and each player's token hash and grace deadline.
    pub fn capture(
        room_id: &str,
        world: &World,
        players: BTreeMap<PlayerId, PlayerRecord>,
        at: SystemTime,
    ) -> Envelope {
        let score_data = world
            .scoreboard()
            .into_iter()
            .map(|e| {
                let record = ScoreRecord {
                    kills: e.kills,
                    name: e.name,
                    player: e.player,
                    deaths: e.deaths,
                };
                (e.ship, record)
            })
            .collect();
        Envelope {
            version: FORMAT_VERSION,
            room_id: room_id.to_string(),
            timestamp: millis_since_epoch(at),
            snapshot: world.clone(),
            score_data,
            players,
            epoch: None,
        }
    }

    /// Marks the snapshot as written under lease epoch `epoch`.
    pub fn with_epoch(mut self, epoch: u64) -> Envelope {
        self.epoch = Some(epoch);
        self
    }

    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        serde_json::to_vec(self).map_err(|source| EncodeError {
            room_id: self.room_id.clone(),
            source,
        })
    }

    /// Reads the value stored for `room_id` and checks it can be resumed.
    pub fn decode(room_id: &str, bytes: &[u8]) -> Result<Envelope, DecodeError> {
        let envelope: Envelope = match serde_json::from_slice(bytes) {
            Ok(envelope) => envelope,
            Err(e) => {
                return Err(version_error(bytes).unwrap_or(DecodeError::Malformed(e.to_string())))
            }
        };
        if envelope.version != FORMAT_VERSION {
            return Err(DecodeError::UnknownVersion {
                found: envelope.version.to_string(),
            });
        }
        if envelope.room_id != room_id {
            return Err(DecodeError::RoomMismatch {
                found: envelope.room_id,
            });
        }
        envelope
            .snapshot
            .check_invariants()
            .map_err(|e| DecodeError::Inconsistent(e.to_string()))?;
        check_players_match(&envelope)?;
        Ok(envelope)
    }

    pub fn taken_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.timestamp)
    }
}

pub fn millis_since_epoch(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A value that failed to parse as version 1 may be a newer (or older) format
/// that parses fine by its own rules: say so rather than "corrupt".
fn version_error(bytes: &[u8]) -> Option<DecodeError> {
    #[derive(Deserialize)]
    struct Probe {
        version: serde_json::Value,
    }
    let probe: Probe = serde_json::from_slice(bytes).ok()?;
    match probe.version {
        serde_json::Value::Number(n) if n.as_u64() == Some(u64::from(FORMAT_VERSION)) => None,
        other => Some(DecodeError::UnknownVersion {
            found: other.to_string(),
        }),
    }
}

/// Resuming needs a token hash for every player of the world, and a record
/// without a player could never be used.
fn check_players_match(envelope: &Envelope) -> Result<(), DecodeError> {
    let world_ids = envelope.snapshot.players().iter().map(|p| p.id);
    if world_ids.ne(envelope.players.keys().copied()) {
        return Err(DecodeError::Inconsistent(
            "the players listed with tokens are not the players of the world".to_string(),
        ));
    }
    Ok(())
}
