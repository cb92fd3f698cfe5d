//! The environment's lock, so that two runs (two CI pipelines, a person and
//! a pipeline) never change one environment at once. It lives in the
//! account, not in a file: an SSM parameter `/{project}/{env}/lock` created
//! without overwrite (PutParameter refuses with `ParameterAlreadyExists`
//! while someone holds it), holding who holds it, since when and until
//! when. The holder renews it while it runs; a lock whose holder died
//! expires (at once when the holder ran on this machine and its process is
//! gone), and the next run takes it over.
//!
//! SSM has no conditional delete, so two runs taking over one expired lock
//! at the same moment could both delete it; each checks after writing that
//! the lock holds its own token, and the loser waits again.

use crate::engine::Ctx;
use crate::Error;
use aws_sdk_ssm::types::ParameterType;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;

const KIND: &str = "lock";
/// How long a lock lives without renewal.
pub const LEASE: Duration = Duration::from_secs(300);
/// How often a waiting run looks again.
const POLL: Duration = Duration::from_secs(2);

/// What the parameter holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// Who, for the message others see.
    pub holder: String,
    /// Unguessable, so only the holder renews or releases it.
    pub token: String,
    /// Unix seconds.
    pub since: u64,
    pub expires: u64,
    /// Where its process runs: host and PID namespace, and its PID.
    pub machine: String,
    pub pid: u32,
}

/// A held lock; `release` it when done.
pub struct Lock {
    name: String,
    me: Holder,
    /// Who took the lock over, once someone did.
    lost: watch::Receiver<Option<String>>,
    renewal: tokio::task::JoinHandle<()>,
}

pub fn parameter_name(ctx: &Ctx) -> String {
    format!("/{}/{}/lock", ctx.naming.project, ctx.naming.environment)
}

/// Who this run is: `SPAAACE_LOCK_HOLDER` (a CI job's name, say), else
/// user@host and the process id.
pub fn default_holder() -> String {
    if let Ok(h) = std::env::var("SPAAACE_LOCK_HOLDER") {
        if !h.trim().is_empty() {
            return h;
        }
    }
    let user = std::env::var("USER").unwrap_or_else(|_| "someone".into());
    format!("{user}@{} (pid {})", hostname(), std::process::id())
}

/// Takes the lock, waiting at most `timeout` for its holder to let go.
pub async fn acquire(ctx: &Ctx, holder: &str, timeout: Duration) -> Result<Lock, Error> {
    let name = parameter_name(ctx);
    let started = Instant::now();
    let mut me = new_holder(holder)?;
    let mut last_report: Option<(Instant, String)> = None;
    loop {
        let wrote = put(ctx, &name, &me, false).await?;
        let Some(other) = read(ctx, &name).await? else {
            // Not there (yet, or no longer): write again.
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        if other.token == me.token {
            return Ok(start_renewal(ctx, name, me));
        }
        if wrote {
            tracing::debug!("lost the race for the lock to {}", other.holder);
        }
        if let Some(why) = gone(&other) {
            tracing::warn!(
                "taking over the lock of environment {} from {}: {why}",
                ctx.naming.environment,
                other.holder
            );
            delete(ctx, &name).await?;
            me = new_holder(holder)?;
            continue;
        }
        let waited = started.elapsed();
        if waited >= timeout {
            return Err(Error::Locked {
                environment: ctx.naming.environment.clone(),
                holder: other.holder,
                since: timestamp(other.since),
                waited_secs: waited.as_secs(),
            });
        }
        // Said when the holder changes, and once a minute while it does not.
        if last_report
            .as_ref()
            .is_none_or(|(t, who)| *who != other.token || t.elapsed() >= Duration::from_secs(60))
        {
            tracing::info!(
                "waiting for the lock of environment {}: held by {} since {} (expires {} unless renewed)",
                ctx.naming.environment,
                other.holder,
                timestamp(other.since),
                timestamp(other.expires)
            );
            last_report = Some((Instant::now(), other.token.clone()));
        }
        tokio::time::sleep(
            POLL.min(timeout.saturating_sub(waited))
                .max(Duration::from_millis(50)),
        )
        .await;
        // A fresh lease for the next try.
        me = new_holder(holder)?;
    }
}

impl Lock {
    /// Resolves, with the new holder, when another run took the lock over
    /// (this one failed to renew it in time, in a network partition say):
    /// the run must then stop changing things.
    pub async fn lost(&self) -> String {
        let mut rx = self.lost.clone();
        let holder = match rx.wait_for(Option::is_some).await {
            Ok(holder) => holder.clone(),
            Err(_) => None,
        };
        match holder {
            Some(holder) => holder,
            // The renewal ended without losing the lock: never resolve.
            None => std::future::pending().await,
        }
    }

    pub fn holder(&self) -> &str {
        &self.me.holder
    }

    /// Gives the lock back (only if this run still holds it).
    pub async fn release(self, ctx: &Ctx) -> Result<(), Error> {
        self.renewal.abort();
        if read(ctx, &self.name)
            .await?
            .is_some_and(|h| h.token == self.me.token)
        {
            delete(ctx, &self.name).await?;
        }
        Ok(())
    }
}

/// Why a lock no longer has a live holder, if it has not.
fn gone(h: &Holder) -> Option<&'static str> {
    if h.expires <= now() {
        return Some("it expired");
    }
    if h.machine == machine() && !std::path::Path::new(&format!("/proc/{}", h.pid)).exists() {
        return Some("its process on this machine has ended");
    }
    None
}

fn new_holder(holder: &str) -> Result<Holder, Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::unexpected(KIND, holder, format!("no OS randomness: {e}")))?;
    let since = now();
    Ok(Holder {
        holder: holder.to_string(),
        token: bytes.iter().map(|b| format!("{b:02x}")).collect(),
        since,
        expires: since + LEASE.as_secs(),
        machine: machine(),
        pid: std::process::id(),
    })
}

/// Renews the lease while the run goes on; marks the lock lost when
/// another run holds it now.
fn start_renewal(ctx: &Ctx, name: String, me: Holder) -> Lock {
    let (tell, lost) = watch::channel(None);
    let (ctx2, name2, me2) = (ctx.clone(), name.clone(), me.clone());
    let renewal = tokio::spawn(async move {
        loop {
            tokio::time::sleep(LEASE / 5).await;
            match read(&ctx2, &name2).await {
                Ok(Some(h)) if h.token == me2.token => {
                    let renewed = Holder {
                        expires: now() + LEASE.as_secs(),
                        ..me2.clone()
                    };
                    if let Err(e) = put(&ctx2, &name2, &renewed, true).await {
                        tracing::warn!("renewing the lock: {e}");
                    }
                }
                Ok(other) => {
                    let holder = other.map_or_else(|| "no one".to_string(), |h| h.holder);
                    tell.send_replace(Some(holder));
                    return;
                }
                Err(e) => tracing::warn!("reading the lock: {e}"),
            }
        }
    });
    Lock {
        name,
        me,
        lost,
        renewal,
    }
}

/// Writes the lock; false when it exists and `overwrite` is off.
async fn put(ctx: &Ctx, name: &str, h: &Holder, overwrite: bool) -> Result<bool, Error> {
    let value =
        serde_json::to_string(h).map_err(|e| Error::unexpected(KIND, name, e.to_string()))?;
    let result = ctx
        .aws
        .ssm
        .put_parameter()
        .name(name)
        .description("spaaace-provisioner: the run changing this environment")
        .r#type(ParameterType::String)
        .value(value)
        .overwrite(overwrite)
        .send()
        .await
        .map_err(|e| Error::aws("writing", KIND, name, e));
    match result {
        Ok(_) => Ok(true),
        Err(e) if e.code() == Some("ParameterAlreadyExists") => Ok(false),
        Err(e) => Err(e),
    }
}

/// The lock's holder; a lock someone wrote by hand and that does not parse
/// counts as expired.
async fn read(ctx: &Ctx, name: &str) -> Result<Option<Holder>, Error> {
    let Some(p) = crate::aws::ssm::find_parameter(ctx, name, false).await? else {
        return Ok(None);
    };
    let text = p.value().unwrap_or_default();
    Ok(Some(serde_json::from_str(text).unwrap_or_else(|_| {
        Holder {
            holder: format!("an unreadable lock ({text:?})"),
            token: String::new(),
            since: 0,
            expires: 0,
            machine: String::new(),
            pid: 0,
        }
    })))
}

async fn delete(ctx: &Ctx, name: &str) -> Result<(), Error> {
    crate::retry::delete(ctx, KIND, name, || {
        ctx.aws.ssm.delete_parameter().name(name).send()
    })
    .await
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown-host".into())
}

/// The host and the PID namespace: a PID means the same process only there.
fn machine() -> String {
    let ns = std::fs::read_link("/proc/self/ns/pid")
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    format!("{} {ns}", hostname())
}

/// Unix seconds as `2026-05-01 12:00:00 UTC`.
pub fn timestamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_read_as_utc_dates() {
        assert_eq!(timestamp(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(timestamp(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(timestamp(1_777_637_045), "2026-05-01 12:04:05 UTC");
    }

    #[test]
    fn a_lock_is_gone_when_expired_or_its_local_process_ended() {
        let live = Holder {
            holder: "me".into(),
            token: "t".into(),
            since: now(),
            expires: now() + 60,
            machine: machine(),
            pid: std::process::id(),
        };
        assert_eq!(gone(&live), None);
        let expired = Holder {
            expires: now() - 1,
            ..live.clone()
        };
        assert_eq!(gone(&expired), Some("it expired"));
        let ended = Holder {
            pid: u32::MAX,
            ..live.clone()
        };
        assert!(gone(&ended).is_some());
        let elsewhere = Holder {
            machine: "another-host pid:[1]".into(),
            pid: u32::MAX,
            ..live
        };
        assert_eq!(
            gone(&elsewhere),
            None,
            "a remote holder lives until it expires"
        );
    }
}
