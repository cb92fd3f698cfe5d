//! When a room sends updates and scores, counted in steps so that it follows
//! the simulation, not the wall clock.

use crate::sim::STEPS_PER_SECOND;

/// Scores go out at most once a second: with hundreds of ships the scoreboard
/// is the biggest message there is.
pub const SCORE_INTERVAL_STEPS: u64 = STEPS_PER_SECOND as u64;

/// True when an update is due after `step`: `rate` of them per 60 steps,
/// evenly spread even when `rate` does not divide 60.
pub fn update_due(step: u64, rate: u32) -> bool {
    let rate = u64::from(rate);
    let per = u64::from(STEPS_PER_SECOND);
    step > 0 && (step * rate) / per != ((step - 1) * rate) / per
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_any_rate_over_a_second() {
        for rate in [1, 7, 20, 30, 60] {
            let due: Vec<u64> = (1..=600).filter(|&s| update_due(s, rate)).collect();
            assert_eq!(due.len() as u32, rate * 10, "rate {rate}");
        }
        let twenty: Vec<u64> = (1..=9).filter(|&s| update_due(s, 20)).collect();
        assert_eq!(twenty, vec![3, 6, 9]);
    }
}
