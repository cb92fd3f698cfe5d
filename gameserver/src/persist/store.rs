//! The Redis side of persistence: one auto-reconnecting connection, every
//! command bounded by a timeout so no caller ever waits on an outage for long.
//!
//! Failover: ElastiCache moves its primary endpoint's DNS name, and a
//! connection opened before the move may stay on the demoted node, which
//! answers writes with `READONLY`. redis-rs's `ConnectionManager` reconnects
//! (resolving the name again) only when the connection drops, not on
//! `READONLY` (it classes it "refresh slots and retry", a cluster concern), so
//! the store replaces its connection itself on that reply, and says so to
//! whoever listens (`failovers`: the pub/sub bus reconnects too).

use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::io::tcp::socket2::TcpKeepalive;
use redis::io::tcp::TcpSettings;
use redis::{Client, ErrorKind, IntoConnectionInfo, RedisError, ServerErrorKind};
use tokio::sync::watch;

use super::envelope::millis_since_epoch;
use super::keys::{quarantine_key, room_id_of, room_key, QUARANTINE_TTL_SECS, ROOM_KEY_PATTERN};
use super::redact::redact_url;
use super::tls::install_crypto_provider;

/// Keys per SCAN round and per MGET during hydration.
const BATCH: usize = 200;

/// The wait before a dedicated connection (pub/sub, presence) is tried again
/// after an attempt failed: 100 ms, doubling up to 2 s.
#[derive(Clone, Copy, Debug)]
pub struct RetryPause(Duration);

impl Default for RetryPause {
    fn default() -> Self {
        RetryPause(Duration::from_millis(100))
    }
}

impl RetryPause {
    /// This wait; the next one is twice as long.
    pub fn after_failure(&mut self) -> Duration {
        let wait = self.0;
        self.0 = (wait * 2).min(Duration::from_secs(2));
        wait
    }

    /// A connection was made: the next failure waits the shortest again.
    pub fn reset(&mut self) {
        *self = RetryPause::default();
    }
}

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
    #[error("redis at {target}: {op} got an answer of the wrong shape: {detail}")]
    Unexpected {
        target: String,
        op: String,
        detail: String,
    },
}

/// The connection in use and how many times it was replaced after a failover.
struct Current {
    generation: u64,
    conn: ConnectionManager,
}

#[derive(Clone)]
pub struct RedisStore {
    client: Client,
    config: ConnectionManagerConfig,
    current: Arc<RwLock<Current>>,
    failovers: Arc<watch::Sender<u64>>,
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
        info = info.set_tcp_settings(tcp_settings());
        let client = Client::open(info).map_err(invalid)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.connect_timeout))
            .set_response_timeout(Some(options.op_timeout))
            .set_max_delay(options.max_reconnect_delay)
            .set_number_of_retries(2);
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), config.clone())
            .map_err(invalid)?;
        Ok(RedisStore {
            client,
            config,
            current: Arc::new(RwLock::new(Current {
                generation: 0,
                conn,
            })),
            failovers: Arc::new(watch::channel(0).0),
            target,
            options,
        })
    }

    /// The URL with its password hidden.
    pub fn target(&self) -> &str {
        &self.target
    }

    pub fn options(&self) -> &StoreOptions {
        &self.options
    }

    /// Changes each time the store replaced its connection after a failover.
    pub fn failovers(&self) -> watch::Receiver<u64> {
        self.failovers.subscribe()
    }

    /// A new dedicated connection for SUBSCRIBE, to whatever the URL's name
    /// resolves to now.
    pub async fn pubsub(&self) -> Result<redis::aio::PubSub, StoreError> {
        let client = self.client.clone();
        self.bounded("opening a pub/sub connection", async move {
            client.get_async_pubsub().await
        })
        .await
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.run("PING", |mut conn| async move {
            redis::cmd("PING")
                .query_async::<String>(&mut conn)
                .await
                .map(drop)
        })
        .await
    }

    /// Whether the connection reaches the primary. A replica (a demoted
    /// primary after a failover) makes the store reconnect.
    /// ElastiCache allows ROLE (its restricted commands are listed at
    /// https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/ClientConfig.RestrictedCommands.html).
    pub async fn check_primary(&self) -> Result<bool, StoreError> {
        let (generation, mut conn) = self.conn();
        let role = self
            .bounded("ROLE", async move {
                redis::cmd("ROLE")
                    .query_async::<redis::Value>(&mut conn)
                    .await
            })
            .await?;
        let primary = match role {
            redis::Value::Array(items) => matches!(
                items.first(),
                Some(redis::Value::BulkString(b)) if b.as_slice() == b"master"
            ),
            _ => false,
        };
        if !primary {
            self.follow_failover(generation, "it is not the primary (ROLE)");
        }
        Ok(primary)
    }

    /// Publishes each payload to its channel, in order, in one round trip.
    pub async fn publish(&self, messages: &[(String, bytes::Bytes)]) -> Result<(), StoreError> {
        let mut pipe = redis::pipe();
        for (channel, payload) in messages {
            pipe.cmd("PUBLISH")
                .arg(channel)
                .arg(payload.as_ref())
                .ignore();
        }
        self.run("PUBLISH", |mut conn| async move {
            pipe.query_async::<()>(&mut conn).await
        })
        .await
    }

    /// Ids of every room with a saved snapshot, sorted.
    pub async fn saved_room_ids(&self) -> Result<Vec<String>, StoreError> {
        let mut ids = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, keys) = self
                .run("SCAN for saved rooms", |mut conn| async move {
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
            let got = self
                .run("MGET of saved rooms", |mut conn| async move {
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
        let op = format!("quarantining room {room_id}");
        self.run(&op, |mut conn| async move {
            cmd.query_async::<i64>(&mut conn).await.map(drop)
        })
        .await
    }

    /// Runs `call` on the current connection within the op timeout; a
    /// `READONLY` answer replaces the connection before the error returns.
    pub(super) async fn run<T, F, Fut>(&self, op: &str, call: F) -> Result<T, StoreError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        let (generation, conn) = self.conn();
        let result = self.bounded(op, call(conn)).await;
        if let Err(StoreError::Command { source, .. }) = &result {
            if is_read_only(source) {
                self.follow_failover(generation, "it answered READONLY (a demoted primary)");
            }
        }
        result
    }

    pub fn unexpected(&self, op: &str, detail: impl Into<String>) -> StoreError {
        StoreError::Unexpected {
            target: self.target.clone(),
            op: op.to_string(),
            detail: detail.into(),
        }
    }

    fn conn(&self) -> (u64, ConnectionManager) {
        // Nothing panics while holding this lock; recover it if anything ever did.
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        (current.generation, current.conn.clone())
    }

    /// Replaces the connection (the next command connects and resolves the
    /// name again), once per failover however many commands noticed it.
    fn follow_failover(&self, seen: u64, why: &str) {
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        if current.generation != seen {
            return;
        }
        match ConnectionManager::new_lazy_with_config(self.client.clone(), self.config.clone()) {
            Ok(conn) => {
                current.conn = conn;
                current.generation += 1;
                let generation = current.generation;
                drop(current);
                tracing::warn!(redis = %self.target, why, "Redis failover: reconnecting to the primary");
                self.failovers.send_replace(generation);
            }
            Err(e) => {
                tracing::error!(redis = %self.target, error = %e, "Redis failover: cannot reconnect")
            }
        }
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

/// No Nagle delay (relayed updates are small and latency counts), and a
/// peer that stops answering (a zone lost, packets dropped) ends the
/// connection within seconds, so it reconnects, instead of hanging for
/// the kernel's default of minutes.
fn tcp_settings() -> TcpSettings {
    let keepalive = TcpKeepalive::new()
        .with_time(Duration::from_secs(5))
        .with_interval(Duration::from_secs(2))
        .with_retries(3);
    TcpSettings::default()
        .set_nodelay(true)
        .set_keepalive(keepalive)
        .set_user_timeout(Duration::from_secs(10))
}

fn is_read_only(e: &RedisError) -> bool {
    e.kind() == ErrorKind::Server(ServerErrorKind::ReadOnly)
}

/// A script Redis does not know (EVALSHA after a restart or failover).
pub(super) fn is_no_script(e: &StoreError) -> bool {
    matches!(e, StoreError::Command { source, .. }
        if source.kind() == ErrorKind::Server(ServerErrorKind::NoScript))
}
