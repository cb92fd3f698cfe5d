//! Persistence: room snapshots in Redis so a restarted server resumes every
//! room where it was (../shared/DESIGN.md, "Redis contract").
//!
//! - `envelope`: the versioned, seed-compatible JSON value of one room;
//! - `store`: the Redis connection (auto-reconnecting, following failovers,
//!   every call bounded);
//! - `fence`: room leases and fenced writes (Lua scripts);
//! - `presence`: a subscription that lasts exactly as long as the node;
//! - `writer`: writes off the tick path, newest snapshot per room wins;
//! - `hydrate`: takes a room and loads its snapshot, quarantining bad values;
//! - `health`: the seed's `/health` answer.

mod envelope;
mod fence;
mod health;
mod hydrate;
mod keys;
mod presence;
mod redact;
mod store;
mod tls;
mod writer;

pub use envelope::{
    millis_since_epoch, DecodeError, EncodeError, Envelope, PlayerRecord, ScoreRecord,
    FORMAT_VERSION,
};
pub use fence::{Acquired, Fence, Write};
pub use health::RedisHealth;
pub use hydrate::{
    claim_saved, claim_with_retry, load, restore, take, ClaimedRoom, Hydration, Loaded, Refused,
    RestoredPlayer, RestoredRoom, Taken,
};
pub use keys::{
    epoch_key, lease_key, presence_channel, quarantine_key, room_key, QUARANTINE_TTL_SECS,
    SNAPSHOT_TTL_SECS,
};
pub use presence::Presence;
pub use redact::redact_url;
pub use store::{RedisStore, RetryPause, StoreError, StoreOptions};
pub use tls::install_crypto_provider;
pub use writer::{FlushError, OnRefused, SnapshotWriter, WriterOptions, WriterStats};

#[cfg(test)]
mod tests;
