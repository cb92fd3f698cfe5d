//! The per-player measurement on written timelines.

use super::*;

/// A timeline written as (ms, observation) from a common origin.
fn timeline(origin: Instant, items: &[(u64, Observation)]) -> Vec<Observed> {
    items
        .iter()
        .map(|(ms, what)| Observed {
            at: origin + Duration::from_millis(*ms),
            what: what.clone(),
        })
        .collect()
}

fn welcome(player: u32, ship: u32, resumed: bool) -> Observation {
    Observation::Welcome {
        player_id: player,
        ship_id: ship,
        resumed,
        step: 0,
    }
}

fn score(kills: u32, deaths: u32) -> Observation {
    Observation::Score { kills, deaths }
}

fn dropped() -> Observation {
    Observation::Closed {
        code: None,
        reason: String::new(),
    }
}

fn update(step: u32) -> Observation {
    Observation::Update { step, full: false }
}

/// Updates every 50 ms from `from` ms, starting at `step`, 3 steps apart.
fn updates(from: u64, step: u32, n: u32) -> Vec<(u64, Observation)> {
    (0..n)
        .map(|i| (from + 50 * u64::from(i), update(step + 3 * i)))
        .collect()
}

const WINDOW: Window = Window {
    lookback: Duration::from_secs(5),
};

/// The one episode of a timeline with a fault at `fault_ms`, observed until `until_ms`.
fn outcome(items: &[(u64, Observation)], fault_ms: u64, until_ms: u64) -> EpisodeOutcome {
    let t0 = Instant::now();
    let at = |ms| t0 + Duration::from_millis(ms);
    analyze(&timeline(t0, items), &[at(fault_ms)], at(until_ms), WINDOW).remove(0)
}

#[test]
fn a_crashed_owner_resumed_from_an_older_snapshot() {
    let mut items = vec![(0, welcome(7, 12, false)), (10, score(2, 1))];
    // Updates until 2000 ms, step 217; a fault at 2010 ms, the socket
    // drops, a rejoin at 3000 ms resumes at step 180.
    items.extend(updates(50, 100, 40));
    items.push((2020, dropped()));
    items.push((3000, welcome(7, 12, true)));
    items.push((3001, score(2, 1)));
    items.extend(updates(3050, 180, 40));
    let e = outcome(&items, 2010, 5000);
    assert!(e.resumed && e.affected && e.same_player && e.same_ship && e.same_score && !e.reset);
    assert_eq!(e.wait, Some(Duration::from_millis(1040)));
    assert_eq!(e.lost_steps, 217 - 180);
    assert_eq!(e.rejoins, 1);
    assert_eq!(e.resume_step, Some(180));
}

#[test]
fn a_new_player_in_a_fresh_world_is_a_reset() {
    let mut items = vec![(0, welcome(7, 12, false))];
    items.extend(updates(50, 900, 20));
    items.push((
        1100,
        Observation::Closed {
            code: Some(4000),
            reason: String::new(),
        },
    ));
    items.push((1300, welcome(1, 4, false)));
    items.extend(updates(1350, 3, 40));
    let e = outcome(&items, 1050, 3350);
    assert!(e.reset && !e.same_player && !e.same_ship);
    assert_eq!(e.lost_steps, 957 - 3);
}

#[test]
fn a_relayed_player_sees_a_pause_then_an_older_step_on_the_same_socket() {
    let mut items = vec![(0, welcome(3, 9, false))];
    items.extend(updates(50, 300, 20)); // last at 1000 ms, step 357
    items.extend(updates(4000, 340, 40)); // takeover from a snapshot at step 340
    let e = outcome(&items, 1020, 6000);
    assert!(e.resumed && e.affected && e.same_player && e.same_ship);
    assert_eq!(e.rejoins, 0);
    assert_eq!(e.wait, Some(Duration::from_millis(2980)));
    assert_eq!(e.lost_steps, 357 - 340);
}

#[test]
fn a_player_whose_stream_stops_did_not_resume() {
    let mut items = vec![(0, welcome(3, 9, false))];
    items.extend(updates(50, 300, 20));
    items.push((1100, dropped()));
    items.push((
        1500,
        Observation::ConnectFailed {
            error: "503".into(),
        },
    ));
    let e = outcome(&items, 1050, 9000);
    assert!(!e.resumed);
    assert_eq!(e.resume_step, None);
}

#[test]
fn an_untouched_player_resumes_at_once_and_keeps_everything() {
    let mut items = vec![(0, welcome(3, 9, false))];
    items.extend(updates(50, 300, 60));
    let e = outcome(&items, 1020, 3050);
    assert!(e.resumed && !e.affected && e.same_player && !e.reset);
    assert_eq!(e.wait, Some(Duration::from_millis(30)));
    assert_eq!(e.lost_steps, 0);
}

#[test]
fn a_ship_from_long_before_the_outage_is_not_itself() {
    let mut items = vec![(0, welcome(7, 12, false))];
    items.extend(updates(50, 100, 200)); // until 10 s
    items.push((5000, Observation::Ship { ship_id: 0 }));
    items.push((5100, Observation::Ship { ship_id: 20 }));
    items.push((10_100, dropped()));
    // Resumes with ship 12, last held at 5 s: beyond the 5 s lookback from 10 s.
    items.push((10_500, welcome(7, 12, true)));
    items.extend(updates(10_550, 650, 40));
    let e = outcome(&items, 10_060, 12_550);
    assert!(e.same_player && !e.same_ship);
}

#[test]
fn a_kill_counts_before_its_score_message_comes() {
    let mut items = vec![(0, welcome(7, 12, false)), (10, score(2, 1))];
    items.extend(updates(50, 100, 40));
    // Ship 12 shoots ship 30 at 1900 ms; the node dies before the next score message.
    items.push((
        1900,
        Observation::Killed {
            victim_ship: 30,
            shooter_ship: 12,
        },
    ));
    items.push((2020, dropped()));
    // The snapshot taken at the hit holds 3 kills.
    items.push((3000, welcome(7, 12, true)));
    items.push((3001, score(3, 1)));
    items.extend(updates(3050, 210, 40));
    let e = outcome(&items, 2010, 5000);
    assert!(e.same_score && e.same_ship, "{:?}", e);
    assert_eq!(e.had.last().and_then(|h| h.score), Some((3, 1)));
    // Fewer kills than it ever had is not itself.
    let last_score = items.iter().position(|(ms, _)| *ms == 3001).unwrap();
    items[last_score] = (3001, score(1, 1));
    assert!(!outcome(&items, 2010, 5000).same_score);
}

#[test]
fn a_ship_destroyed_while_away_is_still_itself_but_a_lost_kill_is_not() {
    let mut items = vec![(0, welcome(7, 12, false)), (10, score(4, 2))];
    items.extend(updates(50, 100, 40));
    items.push((2020, dropped()));
    // The world ran on for 3 s; a bot destroyed the waiting ship. The new
    // ship's row has its own kills (none) and the player's deaths.
    items.push((5000, welcome(7, 0, true)));
    items.extend(updates(5050, 400, 40));
    items.push((5100, Observation::Ship { ship_id: 31 }));
    items.push((5200, score(0, 3)));
    let e = outcome(&items, 2010, 7000);
    assert!(e.same_ship && e.same_score, "{e:?}");
    assert_eq!((e.lost_steps, e.missed_steps), (0, 400 - 217));
    // A ship lost without a death counted is not explained.
    let last = items.len() - 1;
    items[last] = (5200, score(0, 2));
    assert!(!outcome(&items, 2010, 7000).same_score);
    // Back with the same ship, its kills never go down.
    let at = items.iter().position(|(ms, _)| *ms == 5000).unwrap();
    items[at] = (5000, welcome(7, 12, true));
    items.retain(|(ms, _)| *ms != 5100);
    let last = items.len() - 1;
    items[last] = (5200, score(3, 2));
    assert!(!outcome(&items, 2010, 7000).same_score);
    items[last] = (5200, score(4, 2));
    assert!(outcome(&items, 2010, 7000).same_score);
}

#[test]
fn a_restart_granted_before_the_outage_gives_a_newer_ship() {
    let mut items = vec![(0, welcome(7, 12, false)), (10, score(0, 0))];
    items.extend(updates(50, 100, 40));
    items.push((1500, Observation::Ship { ship_id: 0 }));
    items.push((
        2020,
        Observation::Closed {
            code: Some(4000),
            reason: String::new(),
        },
    ));
    // Its restart was granted (ship 40) in the final snapshot, unannounced.
    items.push((2100, welcome(7, 40, true)));
    items.push((2101, score(0, 1)));
    items.extend(updates(2150, 220, 40));
    assert!(outcome(&items, 2010, 4200).same_ship);
    // A ship older than every one it had is not its own.
    let at = items.iter().position(|(ms, _)| *ms == 2100).unwrap();
    items[at] = (2100, welcome(7, 9, true));
    assert!(!outcome(&items, 2010, 4200).same_ship);
}

#[test]
fn what_a_stalled_relay_told_counts_as_held() {
    let mut items = vec![(0, welcome(3, 9, false)), (10, score(0, 0))];
    items.extend(updates(50, 300, 20)); // last at 1000 ms
                                        // During the stall the player is told its ship is gone, asks again, gets 44.
    items.push((1500, Observation::Ship { ship_id: 0 }));
    items.push((1520, Observation::Ship { ship_id: 44 }));
    items.extend(updates(3000, 420, 40));
    assert!(outcome(&items, 1020, 5000).same_ship);
}

#[test]
fn an_outage_that_began_with_an_earlier_fault_is_not_this_ones() {
    let t0 = Instant::now();
    let at = |ms| t0 + Duration::from_millis(ms);
    let mut items = vec![(0, welcome(3, 9, false))];
    items.extend(updates(50, 300, 20)); // last at 1000 ms
    items.push((1010, dropped()));
    items.push((1300, welcome(3, 9, true)));
    items.extend(updates(1350, 360, 60));
    // Fault one at 990 ms broke it; fault two at 1020 ms found it away already.
    let out = analyze(
        &timeline(t0, &items),
        &[at(990), at(1020)],
        at(4300),
        WINDOW,
    );
    assert!(out[0].affected && !out[1].affected, "{out:?}");
    assert_eq!(out[1].wait, Some(Duration::from_millis(330)));
}

#[test]
fn percentiles_by_nearest_rank() {
    let v: Vec<f64> = (1..=100).map(f64::from).collect();
    assert_eq!(percentile(&v, 50.0), Some(50.0));
    assert_eq!(percentile(&v, 99.0), Some(99.0));
    assert_eq!(percentile(&[3.0], 99.0), Some(3.0));
    assert_eq!(percentile(&[], 50.0), None);
}
