//! Polling until a resource reaches a state, with progress and elapsed time
//! on stderr (through `tracing`) while it takes long.

use crate::Error;
use std::future::Future;
use std::time::{Duration, Instant};

/// How long and how often to poll.
#[derive(Debug, Clone, Copy)]
pub struct WaitPolicy {
    pub interval: Duration,
    pub timeout: Duration,
    /// Progress is logged at most this often.
    pub report_every: Duration,
    /// How long AWS may take to show a change everywhere (eventual
    /// consistency): a new resource answering NotFound, a new role not yet
    /// usable, a read that does not show an update yet.
    pub settle: Duration,
}

impl Default for WaitPolicy {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(20 * 60),
            report_every: Duration::from_secs(30),
            settle: Duration::from_secs(120),
        }
    }
}

impl WaitPolicy {
    /// The policy for waiting out eventual consistency: polls more often,
    /// gives up after `settle`.
    pub fn settling(&self) -> WaitPolicy {
        WaitPolicy {
            interval: self.interval.min(Duration::from_secs(2)),
            timeout: self.settle,
            ..*self
        }
    }
}

/// What one poll saw.
pub enum Poll {
    Done,
    /// Not there yet; the current state, for progress and timeouts.
    Pending(String),
}

/// Polls `check` until it reports `Done`, logging progress with the elapsed
/// time, or fails with a timeout naming the resource and its last state.
pub async fn until<F, Fut>(
    policy: &WaitPolicy,
    kind: &'static str,
    name: &str,
    target: &'static str,
    mut check: F,
) -> Result<(), Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll, Error>>,
{
    let start = Instant::now();
    let mut last_report = start;
    loop {
        let state = match check().await? {
            Poll::Done => {
                if start.elapsed() >= policy.interval {
                    tracing::info!(
                        "{kind} {name} is {target} after {:.0}s",
                        start.elapsed().as_secs_f64()
                    );
                }
                return Ok(());
            }
            Poll::Pending(state) => state,
        };
        if start.elapsed() >= policy.timeout {
            return Err(Error::WaitTimeout {
                kind,
                name: name.to_string(),
                target,
                waited_secs: start.elapsed().as_secs(),
                last: state,
            });
        }
        if last_report.elapsed() >= policy.report_every || last_report == start {
            tracing::info!(
                "waiting for {kind} {name} to be {target}: {state} ({:.0}s)",
                start.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(policy.interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn quick(timeout_ms: u64) -> WaitPolicy {
        WaitPolicy {
            interval: Duration::from_millis(1),
            timeout: Duration::from_millis(timeout_ms),
            report_every: Duration::from_millis(1),
            settle: Duration::from_millis(timeout_ms),
        }
    }

    #[tokio::test]
    async fn polls_until_done() {
        let polls = AtomicU32::new(0);
        until(&quick(60_000), "nat-gateway", "n", "available", || async {
            let n = polls.fetch_add(1, Ordering::SeqCst);
            Ok(if n < 2 {
                Poll::Pending("pending".into())
            } else {
                Poll::Done
            })
        })
        .await
        .unwrap();
        assert_eq!(polls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_timeout_names_the_resource_and_its_last_state() {
        let err = until(
            &quick(0),
            "nat-gateway",
            "spaaace-dev-nat-a",
            "available",
            || async { Ok(Poll::Pending("pending".into())) },
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("nat-gateway spaaace-dev-nat-a") && err.contains("last state: pending"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn an_error_while_polling_stops_the_wait() {
        let err = until(&quick(60_000), "vpc", "v", "available", || async {
            Err::<Poll, _>(Error::unexpected("vpc", "v", "gone"))
        })
        .await
        .unwrap_err();
        assert_eq!(err.to_string(), "vpc v: gone");
    }
}
