//! When a client was last heard from: the reader notes every frame, the
//! writer closes a connection silent for `IDLE_TIMEOUT` (so the reader
//! waits on its socket alone, with no timer of its own per frame).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// Nothing at all from the client (not even a pong to our pings) for this long ends it.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(35);

pub struct LastHeard {
    opened: Instant,
    /// Microseconds after `opened`.
    micros: AtomicU64,
}

impl LastHeard {
    pub fn new(opened: Instant) -> LastHeard {
        LastHeard {
            opened,
            micros: AtomicU64::new(0),
        }
    }

    pub fn heard(&self, at: Instant) {
        let micros = at.saturating_duration_since(self.opened).as_micros() as u64;
        self.micros.store(micros, Ordering::Relaxed);
    }

    /// When the connection falls idle unless the client speaks before.
    pub fn idle_at(&self) -> Instant {
        self.opened + Duration::from_micros(self.micros.load(Ordering::Relaxed)) + IDLE_TIMEOUT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_counts_from_the_last_frame() {
        let opened = Instant::now();
        let heard = LastHeard::new(opened);
        assert_eq!(heard.idle_at(), opened + IDLE_TIMEOUT);
        heard.heard(opened + Duration::from_secs(20));
        assert_eq!(heard.idle_at(), opened + Duration::from_secs(55));
    }
}
