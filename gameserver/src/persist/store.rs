//! The Redis side of persistence: one auto-reconnecting connection, every
//! command bounded by a timeout so no caller ever waits on an outage for long.

use std::future::Future;
use std::time::{Duration, SystemTime};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, IntoConnectionInfo, RedisError};

use super::envelope::millis_since_epoch;
use super::keys::{
    quarantine_key, room_id_of, room_key, QUARANTINE_TTL_SECS, ROOM_KEY_PATTERN, SNAPSHOT_TTL_SECS,
};
use super::redact::redact_url;
use super::tls::install_crypto_provider;

/// Keys per SCAN round and per MGET during hydration.
const BATCH: usize = 200;

#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Upper bound for any one call, reconnect waits included.
    pub op_timeout: Duration,
    /// Each connection attempt gives up after this.
    pub connect_timeout: Duration,
    /// The longest pause between reconnect attempts.
    pub max_reconnect_delay: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            op_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(1),
            max_reconnect_delay: Duration::from_secs(2),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid REDIS_URL {url}: {source}")]
    InvalidUrl { url: String, source: RedisError },
    #[error("redis at {target}: {op} failed: {source}")]
    Command {
        target: String,
        op: String,
        source: RedisError,
    },
    #[error("redis at {target}: {op} got no answer within {timeout:?}")]
    Timeout {
        target: String,
        op: String,
        timeout: Duration,
    },
}

/// One write of the snapshot writer's batch.
#[derive(Debug)]
pub enum Write<'a> {
    Save { room_id: &'a str, value: &'a [u8] },
    Delete { room_id: &'a str },
}

#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    /// The URL with its password hidden: the only form that reaches a log.
    target: String,
    options: StoreOptions,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Prepares the connection without waiting for it: a server that starts
    /// while Redis is down still starts, and connects once Redis is back.
    /// Call it inside a tokio runtime (the connection runs as a task).
    pub fn open(url: &str, options: StoreOptions) -> Result<RedisStore, StoreError> {
        Self::open_with_password(url, None, options)
    }

    /// As `open`, with the AUTH password given apart from the URL (as a
    /// platform secret arrives); it takes precedence over one in the URL.
    pub fn open_with_password(
        url: &str,
        password: Option<&str>,
        options: StoreOptions,
    ) -> Result<RedisStore, StoreError> {
        install_crypto_provider();
        let target = redact_url(url);
        let invalid = |source| StoreError::InvalidUrl {
            url: target.clone(),
            source,
        };
        let mut info = url.into_connection_info().map_err(invalid)?;
        if let Some(password) = password {
            let settings = info.redis_settings().clone().set_password(password);
            info = info.set_redis_settings(settings);
        }
        let client = Client::open(info).map_err(invalid)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.connect_timeout))
            .set_response_timeout(Some(options.op_timeout))
            .set_max_delay(options.max_reconnect_delay)
            .set_number_of_retries(2);
        let conn = ConnectionManager::new_lazy_with_config(client, config).map_err(invalid)?;
        Ok(RedisStore {
            conn,
            target,
            options,
        })
    }

    /// The URL with its password hidden.
    pub fn target(&self) -> &str {
        &self.target
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        self.bounded("PING", async move {
            redis::cmd("PING")
                .query_async::<String>(&mut conn)
                .await
                .map(drop)
        })
        .await
    }

    /// Writes the batch in one round trip. SET and DEL are idempotent, so the
    /// writer may simply send a failed batch again.
    pub async fn write(&self, batch: &[Write<'_>]) -> Result<(), StoreError> {
        let mut pipe = redis::pipe();
        for w in batch {
            match w {
                Write::Save { room_id, value } => pipe
                    .cmd("SET")
                    .arg(room_key(room_id))
                    .arg(*value)
                    .arg("EX")
                    .arg(SNAPSHOT_TTL_SECS)
                    .ignore(),
                Write::Delete { room_id } => pipe.cmd("DEL").arg(room_key(room_id)).ignore(),
            };
        }
        let mut conn = self.conn.clone();
        let op = format!("writing {} snapshot(s)", batch.len());
        self.bounded(&op, async move { pipe.query_async::<()>(&mut conn).await })
            .await
    }

    /// Ids of every room with a saved snapshot, sorted.
    pub async fn saved_room_ids(&self) -> Result<Vec<String>, StoreError> {
        let mut ids = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let mut conn = self.conn.clone();
            let (next, keys) = self
                .bounded("SCAN for saved rooms", async move {
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(ROOM_KEY_PATTERN)
                        .arg("COUNT")
                        .arg(BATCH)
                        .query_async::<(u64, Vec<Vec<u8>>)>(&mut conn)
                        .await
                })
                .await?;
            ids.extend(keys.iter().filter_map(|k| {
                let key = std::str::from_utf8(k).ok()?;
                room_id_of(key).map(str::to_string)
            }));
            if next == 0 {
                break;
            }
            cursor = next;
        }
        // SCAN may return a key more than once.
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// The stored values of these rooms, None where the key is gone (expired,
    /// or not a string).
    pub async fn load(&self, room_ids: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let mut values = Vec::with_capacity(room_ids.len());
        for chunk in room_ids.chunks(BATCH) {
            let keys: Vec<String> = chunk.iter().map(|id| room_key(id)).collect();
            let mut conn = self.conn.clone();
            let got = self
                .bounded("MGET of saved rooms", async move {
                    redis::cmd("MGET")
                        .arg(&keys)
                        .query_async::<Vec<Option<Vec<u8>>>>(&mut conn)
                        .await
                })
                .await?;
            values.extend(got);
        }
        Ok(values)
    }

    /// Moves a value hydration refused to `quarantine:game_room_{id}` (a hash
    /// of `value`, `reason`, `quarantinedAt`) and removes it from the room key,
    /// unless the room key was rewritten meanwhile. One atomic script.
    pub async fn quarantine(
        &self,
        room_id: &str,
        value: &[u8],
        reason: &str,
    ) -> Result<(), StoreError> {
        const SCRIPT: &str = r"
            redis.call('DEL', KEYS[2])
            redis.call('HSET', KEYS[2], 'value', ARGV[1], 'reason', ARGV[2], 'quarantinedAt', ARGV[3])
            redis.call('EXPIRE', KEYS[2], ARGV[4])
            local current = redis.pcall('GET', KEYS[1])
            if current == ARGV[1] then redis.call('DEL', KEYS[1]) end
            return 1";
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(SCRIPT)
            .arg(2)
            .arg(room_key(room_id))
            .arg(quarantine_key(room_id))
            .arg(value)
            .arg(reason)
            .arg(millis_since_epoch(SystemTime::now()))
            .arg(QUARANTINE_TTL_SECS);
        let mut conn = self.conn.clone();
        let op = format!("quarantining room {room_id}");
        self.bounded(&op, async move {
            cmd.query_async::<i64>(&mut conn).await.map(drop)
        })
        .await
    }

    async fn bounded<T>(
        &self,
        op: &str,
        call: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.options.op_timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(source)) => Err(StoreError::Command {
                target: self.target.clone(),
                op: op.to_string(),
                source,
            }),
            Err(_) => Err(StoreError::Timeout {
                target: self.target.clone(),
                op: op.to_string(),
                timeout: self.options.op_timeout,
            }),
        }
    }
}
