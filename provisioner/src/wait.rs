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
}

impl Default for WaitPolicy {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(20 * 60),
            report_every: Duration::from_secs(30),
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
