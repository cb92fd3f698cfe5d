//! Persistence: room snapshots in Redis so a restarted server resumes every
//! room where it was (../shared/DESIGN.md, "Redis contract").
//!
//! - `envelope`: the versioned, seed-compatible JSON value of one room;
//! - `store`: the Redis connection (auto-reconnecting, every call bounded);
//! - `writer`: writes off the tick path, newest snapshot per room wins;
//! - `hydrate`: restores saved rooms at start, quarantining bad values;
//! - `health`: the seed's `/health` answer.

mod envelope;
mod health;
mod hydrate;
mod keys;
mod redact;
mod store;
mod tls;
mod token_hash;
mod writer;

pub use envelope::{
    millis_since_epoch, DecodeError, EncodeError, Envelope, PlayerRecord, ScoreRecord,
    FORMAT_VERSION,
};
pub use health::RedisHealth;
pub use hydrate::{
    hydrate, hydrate_with_retry, restore, Hydration, Refused, RestoredPlayer, RestoredRoom,
};
pub use keys::{quarantine_key, room_key, QUARANTINE_TTL_SECS, SNAPSHOT_TTL_SECS};
pub use redact::redact_url;
pub use store::{RedisStore, StoreError, StoreOptions, Write};
pub use tls::install_crypto_provider;
pub use token_hash::TokenHash;
pub use writer::{FlushError, SnapshotWriter, WriterOptions, WriterStats};

#[cfg(test)]
mod tests;
