//! The per-connection input rate limit of docs/protocol.md: a bucket of 120
//! tokens refilled at 60 per second; inputs without a token are dropped, and a
//! connection that keeps sending at more than twice the allowed rate is closed.

use std::time::{Duration, Instant};

const INPUTS_PER_SECOND: f64 = 60.0;
const INPUT_BURST: f64 = 120.0;
/// More drops than this in a second means more than twice the allowed rate.
const DROPS_PER_SECOND_TOLERATED: u32 = 60;
/// That many such seconds in a row close the connection.
const HOT_SECONDS_TO_CLOSE: u32 = 2;
const WINDOW: Duration = Duration::from_secs(1);

#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    /// Dropped; `notify` at most once per second.
    Drop {
        notify: bool,
    },
    Close,
}

pub struct InputLimiter {
    tokens: f64,
    refilled_at: Instant,
    window_start: Instant,
    drops_in_window: u32,
    hot_windows: u32,
    notified_in_window: bool,
}

impl InputLimiter {
    pub fn new(now: Instant) -> InputLimiter {
        InputLimiter {
            tokens: INPUT_BURST,
            refilled_at: now,
            window_start: now,
            drops_in_window: 0,
            hot_windows: 0,
            notified_in_window: false,
        }
    }

    pub fn check(&mut self, now: Instant) -> Verdict {
        self.roll_window(now);
        let elapsed = now
            .saturating_duration_since(self.refilled_at)
            .as_secs_f64();
        self.tokens = (self.tokens + elapsed * INPUTS_PER_SECOND).min(INPUT_BURST);
        self.refilled_at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Verdict::Accept;
        }
        self.drops_in_window += 1;
        if self.drops_in_window > DROPS_PER_SECOND_TOLERATED
            && self.hot_windows + 1 >= HOT_SECONDS_TO_CLOSE
        {
            return Verdict::Close;
        }
        let notify = !self.notified_in_window;
        self.notified_in_window = true;
        Verdict::Drop { notify }
    }

    fn roll_window(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.window_start);
        if elapsed < WINDOW {
            return;
        }
        let hot = self.drops_in_window > DROPS_PER_SECOND_TOLERATED;
        // A quiet second in between breaks the streak.
        self.hot_windows = if hot && elapsed < 2 * WINDOW {
            self.hot_windows + 1
        } else {
            0
        };
        self.window_start = now;
        self.drops_in_window = 0;
        self.notified_in_window = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `rate` inputs per second for `seconds`, returning the verdicts.
    fn feed(limiter: &mut InputLimiter, start: Instant, rate: u32, seconds: u32) -> Vec<Verdict> {
        let step = Duration::from_secs(1) / rate;
        (0..rate * seconds)
            .map(|i| limiter.check(start + step * i))
            .collect()
    }

    #[test]
    fn steady_sixty_per_second_is_never_limited() {
        let start = Instant::now();
        let mut limiter = InputLimiter::new(start);
        assert!(feed(&mut limiter, start, 60, 10)
            .iter()
            .all(|v| *v == Verdict::Accept));
    }

    #[test]
    fn a_burst_of_120_passes_then_excess_drops_with_one_notice_per_second() {
        let start = Instant::now();
        let mut limiter = InputLimiter::new(start);
        let verdicts: Vec<Verdict> = (0..200).map(|_| limiter.check(start)).collect();
        assert_eq!(
            verdicts.iter().filter(|v| **v == Verdict::Accept).count(),
            120
        );
        assert_eq!(
            verdicts
                .iter()
                .filter(|v| **v == (Verdict::Drop { notify: true }))
                .count(),
            1
        );
        assert!(
            !verdicts.contains(&Verdict::Close),
            "one hot second is not sustained"
        );
    }

    #[test]
    fn under_twice_the_rate_is_tolerated_more_is_closed_within_two_seconds() {
        let start = Instant::now();
        let mut limiter = InputLimiter::new(start);
        assert!(!feed(&mut limiter, start, 115, 6).contains(&Verdict::Close));
        let mut limiter = InputLimiter::new(start);
        let verdicts = feed(&mut limiter, start, 250, 3);
        let first_close = verdicts
            .iter()
            .position(|v| *v == Verdict::Close)
            .expect("never closed");
        assert!(
            (250..500).contains(&first_close),
            "closed at input {first_close}"
        );
    }
}
