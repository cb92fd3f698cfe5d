//! Waiting for a condition with a generous deadline: the machine may be
//! busy, so nothing here assumes how long anything takes.

use std::time::Duration;

use tokio::time::Instant;

use crate::error::LabError;

/// Polls `check` until it says yes; errors in between count as "not yet".
pub async fn wait_for<F, Fut>(what: &str, limit: Duration, mut check: F) -> Result<(), LabError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool, LabError>>,
{
    let deadline = Instant::now() + limit;
    let mut last = None;
    while Instant::now() < deadline {
        match check().await {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if let Some(e) = last {
        tracing::warn!(error = %e, "{what}: last error while waiting");
    }
    Err(LabError::Timeout {
        what: what.into(),
        seconds: limit.as_secs(),
    })
}
