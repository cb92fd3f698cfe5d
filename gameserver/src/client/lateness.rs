//! How late updates reach a player, measured against the room's schedule.
//!
//! A room steps 60 times a second, so the update of step `s` is due at
//! `t0 + s / 60 s`, and its offset is arrival − `s / 60 s`. A player cannot
//! see `t0`: it takes as on time the fastest update of the second that
//! begins with each one, so lateness = an update's offset − the smallest
//! offset among the updates that arrived within the next second, itself
//! included. That counts everything that held an update up: a late timer,
//! the step, the queues, the socket, and the player's own wake-up (on a
//! machine that also runs the players, that last part is theirs). A
//! skipped tick moves every later step a period behind the schedule for
//! good; the second that follows then holds no earlier update, so it is not
//! counted here (the server counts skipped ticks).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::sim::STEPS_PER_SECOND;

/// How far ahead the on-time update is looked for.
const BASELINE_WINDOW_US: i64 = 1_000_000;

/// One player's arrivals.
pub struct Lateness {
    origin: Instant,
    /// (step, microseconds of arrival − schedule relative to the first one).
    arrivals: Vec<(u32, i32)>,
    first: Option<i64>,
}

impl Lateness {
    /// `origin`: any instant before the first arrival, the same for the whole run.
    pub fn new(origin: Instant) -> Lateness {
        Lateness {
            origin,
            arrivals: Vec::new(),
            first: None,
        }
    }

    pub fn arrived(&mut self, step: u32, at: Instant) {
        let since = at.saturating_duration_since(self.origin).as_micros() as i64;
        let offset = since - due_us(step);
        let first = *self.first.get_or_insert(offset);
        let relative = (offset - first).clamp(i64::from(i32::MIN), i64::from(i32::MAX));
        self.arrivals.push((step, relative as i32));
    }

    /// Adds each update's lateness to `into`.
    pub fn record_into(&self, into: &mut LatenessHistogram) {
        // The minimum over each update's next second, walking backwards with
        // a deque of candidates: from front to back, later arrivals with
        // smaller offsets.
        let arrival = |(step, offset): (u32, i32)| due_us(step) + i64::from(offset);
        let mut window: VecDeque<(u32, i32)> = VecDeque::new();
        for &update in self.arrivals.iter().rev() {
            while window.front().is_some_and(|&(_, o)| o >= update.1) {
                window.pop_front();
            }
            window.push_front(update);
            while window
                .back()
                .is_some_and(|&later| arrival(later) > arrival(update) + BASELINE_WINDOW_US)
            {
                window.pop_back();
            }
            let baseline = window.back().map_or(update.1, |&(_, o)| o);
            into.record((i64::from(update.1) - i64::from(baseline)) as u64);
        }
    }
}

/// When the update of `step` is due, in microseconds after the room's start.
fn due_us(step: u32) -> i64 {
    i64::from(step) * 1_000_000 / i64::from(STEPS_PER_SECOND)
}

/// Lateness in buckets of `BUCKET_US`, mergeable across players and processes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Sparse", into = "Sparse")]
pub struct LatenessHistogram {
    counts: Vec<u64>,
    /// Beyond the last bucket.
    over: u64,
    max_us: u64,
}

/// Bucket width: finer than any figure worth reporting.
pub const BUCKET_US: u64 = 10;
/// Buckets up to 100 ms; anything later is counted in `over`.
const BUCKETS: usize = 10_000;

impl Default for LatenessHistogram {
    fn default() -> Self {
        LatenessHistogram {
            counts: vec![0; BUCKETS],
            over: 0,
            max_us: 0,
        }
    }
}

impl LatenessHistogram {
    pub fn record(&mut self, us: u64) {
        match self.counts.get_mut((us / BUCKET_US) as usize) {
            Some(count) => *count += 1,
            None => self.over += 1,
        }
        self.max_us = self.max_us.max(us);
    }

    pub fn merge(&mut self, other: &LatenessHistogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.over += other.over;
        self.max_us = self.max_us.max(other.max_us);
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum::<u64>() + self.over
    }

    pub fn max_ms(&self) -> f64 {
        self.max_us as f64 / 1000.0
    }

    /// The upper bound of the bucket holding the `q` quantile (0 to 1), in
    /// ms; the maximum when it lies beyond the buckets; NaN when empty.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        let total = self.count();
        if total == 0 {
            return f64::NAN;
        }
        let rank = ((total as f64) * q.clamp(0.0, 1.0)).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return ((i as u64 + 1) * BUCKET_US) as f64 / 1000.0;
            }
        }
        self.max_ms()
    }
}

/// The JSON form: only the buckets that hold something, as [index, count].
#[derive(Serialize, Deserialize)]
struct Sparse {
    bucket_us: u64,
    counts: Vec<(usize, u64)>,
    over: u64,
    max_us: u64,
}

impl From<LatenessHistogram> for Sparse {
    fn from(h: LatenessHistogram) -> Sparse {
        Sparse {
            bucket_us: BUCKET_US,
            counts: h
                .counts
                .iter()
                .enumerate()
                .filter(|(_, &c)| c > 0)
                .map(|(i, &c)| (i, c))
                .collect(),
            over: h.over,
            max_us: h.max_us,
        }
    }
}

impl From<Sparse> for LatenessHistogram {
    fn from(s: Sparse) -> LatenessHistogram {
        let mut h = LatenessHistogram {
            over: s.over,
            max_us: s.max_us,
            ..LatenessHistogram::default()
        };
        for (i, count) in s.counts {
            // Buckets of another width or range are re-bucketed by their lower bound.
            let us = i as u64 * s.bucket_us;
            match h.counts.get_mut((us / BUCKET_US) as usize) {
                Some(c) => *c += count,
                None => h.over += count,
            }
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const STEP: Duration = Duration::from_nanos(1_000_000_000 / STEPS_PER_SECOND as u64);

    /// Arrivals of steps 3, 6, 9, ... (every update at 20/s) `extra` after their schedule.
    fn arrivals(extra_ms: &[u64]) -> LatenessHistogram {
        let origin = Instant::now();
        let mut player = Lateness::new(origin);
        for (i, &extra) in extra_ms.iter().enumerate() {
            let step = 3 * (i as u32 + 1);
            player.arrived(step, origin + STEP * step + Duration::from_millis(extra));
        }
        let mut h = LatenessHistogram::default();
        player.record_into(&mut h);
        h
    }

    #[test]
    fn an_update_held_up_is_late_by_what_held_it() {
        let mut extra = vec![1; 40];
        extra[10] = 4;
        extra[11] = 2;
        let h = arrivals(&extra);
        assert_eq!(h.count(), 40);
        // 3 and 1 ms late; buckets report their upper bound.
        assert!((h.max_ms() - 3.0).abs() < 0.002, "{h:?}");
        assert!((h.quantile_ms(1.0) - 3.01).abs() < 0.002);
        assert!((h.quantile_ms(0.96) - 1.01).abs() < 0.002);
        assert!(h.quantile_ms(0.9) < 0.02);
    }

    #[test]
    fn a_skipped_tick_is_no_lateness_a_slow_second_is() {
        // From the 20th update on, every step runs a tick (16.7 ms) later.
        let skipped: Vec<u64> = (0..60).map(|i| if i < 20 { 1 } else { 17 }).collect();
        assert!(arrivals(&skipped).max_ms() < 0.05);
        // Ten updates in a row 5 ms late, then on time again.
        let slow: Vec<u64> = (0..60)
            .map(|i| if (20..30).contains(&i) { 6 } else { 1 })
            .collect();
        let h = arrivals(&slow);
        assert!((h.max_ms() - 5.0).abs() < 0.002, "{h:?}");
        assert_eq!(h.count(), 60);
    }

    #[test]
    fn merges_and_survives_json() {
        let mut a = LatenessHistogram::default();
        let mut b = LatenessHistogram::default();
        for us in [5, 15, 2_000] {
            a.record(us);
        }
        b.record(250_000);
        a.merge(&b);
        assert_eq!(a.count(), 4);
        assert_eq!(a.quantile_ms(1.0), 250.0, "beyond the buckets: the maximum");
        let json = serde_json::to_string(&a).unwrap();
        let back: LatenessHistogram = serde_json::from_str(&json).unwrap();
        assert_eq!(back, a);
        assert!(LatenessHistogram::default().quantile_ms(0.5).is_nan());
    }
}
