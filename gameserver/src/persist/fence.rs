//! Room leases and fenced writes: the Lua scripts that decide which node owns
//! a room and whose snapshot lands (../shared/DESIGN.md, "Several nodes").
//!
//! Per room: `lease:game_room_{id}` is a hash `{node, epoch}` that expires
//! unless its owner renews it; `epoch:game_room_{id}` counts the epochs ever
//! granted, so each taking of the lease gets a higher one. A node "holds" a
//! room under epoch E when the lease names it with E, or when the lease ran
//! out (Redis unreachable, the node paused, or a failover lost it) and no
//! epoch above E was granted since: nobody took the room over, so the node
//! takes its lease back and goes on. Every snapshot write and delete checks
//! that in the same script, so a superseded node can never overwrite a newer
//! owner's world. The write also refreshes the counter's expiry, so the
//! counter lives exactly as long as the snapshot; a script's writes replicate
//! as one unit. Should the counter still be lost (evicted, or a failover that
//! dropped it), the envelope carries its epoch and the taker asks again with
//! that as a floor (`acquire`'s `floor`).

use std::sync::LazyLock;
use std::time::Duration;

use redis::{Pipeline, Script};

use super::keys::{epoch_key, lease_key, room_key, PRESENCE_CHANNEL_PREFIX, SNAPSHOT_TTL_SECS};
use super::presence::Presence;
use super::store::{is_no_script, RedisStore, StoreError};

/// Who writes and for how long its leases last.
#[derive(Clone, Debug)]
pub struct Fence {
    pub node: String,
    pub lease_ttl: Duration,
    /// The node's presence in Redis; None: its leases run out when it dies,
    /// and it takes no lease before it ran out.
    pub presence: Option<Presence>,
}

/// The longest a node waits, after its presence subscribed, before it
/// judges another node's presence; several reconnect attempts of a live node.
const PRESENCE_SETTLE: Duration = Duration::from_secs(5);

/// What came of asking for a room's lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Acquired {
    Won {
        epoch: u64,
    },
    /// Another node owns the room; its lease runs out in `expires_in` unless renewed.
    Held {
        node: String,
        epoch: u64,
        expires_in: Duration,
    },
    /// Asked `fresh_only` and a saved snapshot exists: a room started without
    /// it must not overwrite it.
    Saved,
}

/// One write of the snapshot writer's batch, under lease epoch `epoch`.
#[derive(Debug)]
pub enum Write<'a> {
    Save {
        room_id: &'a str,
        value: &'a [u8],
        epoch: u64,
    },
    /// The room is gone for good: its snapshot and its lease go.
    Delete { room_id: &'a str, epoch: u64 },
}

/// KEYS[1] lease, KEYS[2] counter; ARGV[1] node, ARGV[2] epoch, ARGV[3] lease
/// TTL (ms), ARGV[4] counter TTL (s). True when the caller holds the room,
/// renewing or taking back its lease.
macro_rules! holds_lua {
    () => {
        r"
local function holds()
  local lease = redis.call('HMGET', KEYS[1], 'node', 'epoch')
  if lease[1] then
    if lease[1] == ARGV[1] and tonumber(lease[2]) == tonumber(ARGV[2]) then
      redis.call('PEXPIRE', KEYS[1], ARGV[3])
      return true
    end
    return false
  end
  if tonumber(redis.call('GET', KEYS[2]) or '0') > tonumber(ARGV[2]) then
    return false
  end
  redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[4])
  redis.call('HSET', KEYS[1], 'node', ARGV[1], 'epoch', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return true
end
"
    };
}

/// KEYS[1] lease, KEYS[2] counter, KEYS[3] snapshot; ARGV[1] node, ARGV[2]
/// lease TTL (ms), ARGV[3] counter TTL (s), ARGV[4] floor, ARGV[5] fresh only,
/// ARGV[6] the presence channels' prefix ('' for a node that keeps none),
/// ARGV[7] '1' when the caller's own presence has been steady long enough to
/// judge another's.
/// Returns {1, node, epoch, ttl} when won, {0, holder, epoch, pttl} when held
/// by another node, {2, '', 0, 0} when fresh only and a snapshot exists;
/// {3, holder, epoch, ttl} when won from a holder whose presence is gone.
///
/// A lease marked `present` is taken before it runs out when its holder has
/// no presence subscription and the caller has one on this same server: a
/// server that just became primary has nobody's, so it judges nobody.
/// ElastiCache allows PUBSUB (its restricted commands are listed at
/// https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/ClientConfig.RestrictedCommands.html).
static ACQUIRE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local function present(node)
  return redis.call('PUBSUB', 'NUMSUB', ARGV[6] .. node)[2] > 0
end
local lease = redis.call('HMGET', KEYS[1], 'node', 'epoch', 'present')
local won = 1
if lease[1] and lease[1] ~= ARGV[1] then
  if ARGV[7] == '1' and lease[3] == '1' and present(ARGV[1]) and not present(lease[1]) then
    won = 3
  else
    return {0, lease[1], tonumber(lease[2]) or 0, redis.call('PTTL', KEYS[1])}
  end
end
if ARGV[5] == '1' and redis.call('EXISTS', KEYS[3]) == 1 then
  return {2, '', 0, 0}
end
if tonumber(ARGV[4]) > tonumber(redis.call('GET', KEYS[2]) or '0') then
  redis.call('SET', KEYS[2], ARGV[4])
end
local epoch = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'node', ARGV[1], 'epoch', epoch)
if ARGV[6] ~= '' then
  redis.call('HSET', KEYS[1], 'present', '1')
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {won, lease[1] or '', epoch, tonumber(ARGV[2])}
",
    )
});

static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        holds_lua!(),
        "if holds() then return 1 end return 0"
    ))
});

/// As `holds`, with KEYS[3] the snapshot and ARGV[5] its value.
static WRITE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        holds_lua!(),
        r"
if not holds() then return 0 end
redis.call('SET', KEYS[3], ARGV[5], 'EX', ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
"
    ))
});

/// As `holds`, with KEYS[3] the snapshot; the counter stays, so a later owner
/// still starts above every epoch granted so far.
static DELETE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        holds_lua!(),
        "if not holds() then return 0 end redis.call('DEL', KEYS[3], KEYS[1]) return 1"
    ))
});

/// KEYS[1] lease; ARGV[1] node, ARGV[2] epoch.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local lease = redis.call('HMGET', KEYS[1], 'node', 'epoch')
if lease[1] == ARGV[1] and tonumber(lease[2]) == tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
",
    )
});

impl Fence {
    /// How long this node's presence must have been subscribed before it may
    /// judge another's gone. After a failover every node subscribes again;
    /// the longest a live one takes is one reconnect, and waiting a whole
    /// lease is never slower than letting the lease run out.
    fn settle(&self) -> Duration {
        self.lease_ttl.min(PRESENCE_SETTLE)
    }

    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.lease_ttl.as_millis()).unwrap_or(u64::MAX)
    }

    /// EVALSHA of a `holds` script for `room` under `epoch`, with the snapshot key.
    fn holds_call(&self, pipe: &mut Pipeline, script: &Script, room: &str, epoch: u64) {
        pipe.cmd("EVALSHA")
            .arg(script.get_hash())
            .arg(3)
            .arg(lease_key(room))
            .arg(epoch_key(room))
            .arg(room_key(room))
            .arg(&self.node)
            .arg(epoch)
            .arg(self.ttl_ms())
            .arg(SNAPSHOT_TTL_SECS);
    }
}

impl RedisStore {
    /// Takes `room` unless another node holds it. `floor`: the epoch must
    /// exceed it (an epoch read from the room's snapshot). `fresh_only`: also
    /// refuse when a snapshot is saved (a room started without Redis asks so).
    pub async fn acquire(
        &self,
        fence: &Fence,
        room: &str,
        floor: u64,
        fresh_only: bool,
    ) -> Result<Acquired, StoreError> {
        let op = format!("taking the lease of room {room}");
        // A lease is marked present only while this node's presence is
        // subscribed: one taken before would look like a dead node's.
        let steady_for = fence.presence.as_ref().map(Presence::steady_for);
        let (presence_prefix, judges) = match steady_for {
            Some(steady) if steady > Duration::ZERO => {
                (PRESENCE_CHANNEL_PREFIX, steady >= fence.settle())
            }
            _ => ("", false),
        };
        let reply: (i64, String, u64, i64) = self
            .eval(&op, || {
                let mut pipe = redis::pipe();
                pipe.cmd("EVALSHA")
                    .arg(ACQUIRE.get_hash())
                    .arg(3)
                    .arg(lease_key(room))
                    .arg(epoch_key(room))
                    .arg(room_key(room))
                    .arg(&fence.node)
                    .arg(fence.ttl_ms())
                    .arg(SNAPSHOT_TTL_SECS)
                    .arg(floor)
                    .arg(u8::from(fresh_only))
                    .arg(presence_prefix)
                    .arg(u8::from(judges));
                pipe
            })
            .await?
            .pop()
            .ok_or_else(|| self.unexpected(&op, "no reply"))?;
        match reply {
            (1, _, epoch, _) => Ok(Acquired::Won { epoch }),
            (3, gone, epoch, _) => {
                tracing::info!(room, from = %gone, epoch, "took the room before its lease ran out: its holder's presence is gone");
                Ok(Acquired::Won { epoch })
            }
            (0, node, epoch, pttl) => Ok(Acquired::Held {
                node,
                epoch,
                expires_in: Duration::from_millis(u64::try_from(pttl).unwrap_or(0)),
            }),
            (2, ..) => Ok(Acquired::Saved),
            other => Err(self.unexpected(&op, format!("{other:?}"))),
        }
    }

    /// Who holds `room`'s lease, under which epoch and for how much longer,
    /// without taking it.
    pub async fn holder(&self, room: &str) -> Result<Option<(String, u64, Duration)>, StoreError> {
        let op = format!("reading the lease of room {room}");
        let key = lease_key(room);
        let ((node, epoch), pttl): ((Option<String>, Option<u64>), i64) = self
            .run(&op, |mut conn| async move {
                redis::pipe()
                    .cmd("HMGET")
                    .arg(&key)
                    .arg("node")
                    .arg("epoch")
                    .cmd("PTTL")
                    .arg(&key)
                    .query_async(&mut conn)
                    .await
            })
            .await?;
        let expires_in = Duration::from_millis(u64::try_from(pttl).unwrap_or(0));
        Ok(node
            .zip(epoch)
            .map(|(node, epoch)| (node, epoch, expires_in)))
    }

    /// Renews every lease in `leases` (room, epoch) in one round trip; false
    /// where the room is no longer this node's.
    pub async fn renew(
        &self,
        fence: &Fence,
        leases: &[(String, u64)],
    ) -> Result<Vec<bool>, StoreError> {
        let op = format!("renewing {} lease(s)", leases.len());
        self.eval(&op, || {
            let mut pipe = redis::pipe();
            for (room, epoch) in leases {
                fence.holds_call(&mut pipe, &RENEW, room, *epoch);
            }
            pipe
        })
        .await
        .map(|replies: Vec<i64>| replies.into_iter().map(|r| r == 1).collect())
    }

    /// Gives `room` up at once (drain), if it is still this node's.
    pub async fn release(&self, fence: &Fence, room: &str, epoch: u64) -> Result<bool, StoreError> {
        let op = format!("releasing the lease of room {room}");
        let replies: Vec<i64> = self
            .eval(&op, || {
                let mut pipe = redis::pipe();
                pipe.cmd("EVALSHA")
                    .arg(RELEASE.get_hash())
                    .arg(1)
                    .arg(lease_key(room))
                    .arg(&fence.node)
                    .arg(epoch);
                pipe
            })
            .await?;
        Ok(replies.first() == Some(&1))
    }

    /// Writes the batch in one round trip, each write only if this node still
    /// holds its room under its epoch: true where it landed, false where it
    /// was refused. A failed batch may simply be sent again.
    pub async fn write(&self, fence: &Fence, batch: &[Write<'_>]) -> Result<Vec<bool>, StoreError> {
        let op = format!("writing {} snapshot(s)", batch.len());
        self.eval(&op, || {
            let mut pipe = redis::pipe();
            for w in batch {
                match w {
                    Write::Save {
                        room_id,
                        value,
                        epoch,
                    } => {
                        fence.holds_call(&mut pipe, &WRITE, room_id, *epoch);
                        pipe.arg(*value);
                    }
                    Write::Delete { room_id, epoch } => {
                        fence.holds_call(&mut pipe, &DELETE, room_id, *epoch)
                    }
                }
            }
            pipe
        })
        .await
        .map(|replies: Vec<i64>| replies.into_iter().map(|r| r == 1).collect())
    }

    /// Runs a pipeline of EVALSHA calls; when Redis does not know the
    /// scripts (a restart, a failover), loads them and runs it once more.
    async fn eval<T: redis::FromRedisValue + Send + 'static>(
        &self,
        op: &str,
        build: impl Fn() -> Pipeline,
    ) -> Result<Vec<T>, StoreError> {
        let pipe = build();
        match self
            .run(
                op,
                |mut conn| async move { pipe.query_async(&mut conn).await },
            )
            .await
        {
            Err(e) if is_no_script(&e) => {
                self.load_scripts().await?;
                let pipe = build();
                self.run(
                    op,
                    |mut conn| async move { pipe.query_async(&mut conn).await },
                )
                .await
            }
            other => other,
        }
    }

    async fn load_scripts(&self) -> Result<(), StoreError> {
        self.run("loading the lease scripts", |mut conn| async move {
            for script in [&*ACQUIRE, &*RENEW, &*WRITE, &*DELETE, &*RELEASE] {
                script.load_async(&mut conn).await?;
            }
            Ok(())
        })
        .await
    }
}
