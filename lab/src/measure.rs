//! What one player lived through, from its own observations only (the
//! protocol, never the server's logs).
//!
//! A player's updates form runs; a run breaks when the connection changes
//! (a reconnect), the world's step goes back (a takeover from an older
//! snapshot), jumps ahead by more than a second of game, or nothing arrives
//! for `GAP`. A fault starts an episode; in it the player's outage is the
//! first break that ends after the fault, chained with any break that
//! follows within `CHAIN` of resuming (a reconnect to a node that then
//! takes the room over is one outage, not two). Then:
//! - time to resume: from the fault (or from the moment its stream broke,
//!   if later: a player of a cut-off node plays on until that node learns
//!   it was superseded) to the first update of the run that follows;
//! - game time lost: the steps the player had seen that the resumed world
//!   no longer has (the last step before, minus the first step after);
//! - itself: every rejoin answered with its own player id and "resumed", and
//!   its ship, kills and deaths after resuming explained by a state it had in
//!   the lookback window before the outage: the resumed world is an older
//!   snapshot of its world, which may have run on while the player was away,
//!   so its ship is that one or was destroyed (0), and its kills and deaths
//!   are those or more (a fresh world gives a new ship and a zeroed score).

use std::time::Duration;

use gameserver::client::reconnect::{Observation, Observed};
use serde::Serialize;
use tokio::time::Instant;

/// Silence on one connection that counts as an outage (20 updates/s normally).
pub const GAP: Duration = Duration::from_millis(500);
/// A forward jump beyond one second of game on one connection is an outage.
const MAX_STEP_JUMP: u32 = 60;
/// A second break this soon after resuming belongs to the same outage.
const CHAIN: Duration = Duration::from_secs(1);
pub const STEPS_PER_SECOND: f64 = 60.0;

/// One update as the player received it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tick {
    pub at: Instant,
    pub step: u32,
    /// Which of the player's connections (1 for the first welcome).
    pub conn: u32,
}

/// Whether `next` carries on the run `prev` belongs to.
pub fn continues(prev: &Tick, next: &Tick) -> bool {
    next.conn == prev.conn
        && next.step >= prev.step
        && next.step - prev.step <= MAX_STEP_JUMP
        && next.at.duration_since(prev.at) <= GAP
}

/// What a player had at a moment: its ship (0: none) and its kills and
/// deaths, once a score message or a `killed` told them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Holding {
    pub ship: u32,
    pub score: Option<(u32, u32)>,
}

struct Welcome {
    at: Instant,
    player: u32,
    resumed: bool,
}

/// A player's observations, sorted into what the analysis needs.
struct Digest {
    ticks: Vec<Tick>,
    welcomes: Vec<Welcome>,
    holdings: Vec<(Instant, Holding)>,
    /// Where a run breaks: the index of the first tick after the break.
    breaks: Vec<usize>,
}

impl Digest {
    fn of(seen: &[Observed]) -> Digest {
        let mut d = Digest {
            ticks: Vec::new(),
            welcomes: Vec::new(),
            holdings: Vec::new(),
            breaks: Vec::new(),
        };
        let mut now = Holding {
            ship: 0,
            score: None,
        };
        for o in seen {
            let before = now;
            match o.what {
                Observation::Welcome {
                    player_id,
                    ship_id,
                    resumed,
                    ..
                } => {
                    d.welcomes.push(Welcome {
                        at: o.at,
                        player: player_id,
                        resumed,
                    });
                    now = Holding {
                        ship: ship_id,
                        score: None,
                    };
                }
                Observation::Update { step, .. } => {
                    let tick = Tick {
                        at: o.at,
                        step,
                        conn: d.welcomes.len() as u32,
                    };
                    if d.ticks.last().is_some_and(|prev| !continues(prev, &tick)) {
                        d.breaks.push(d.ticks.len());
                    }
                    d.ticks.push(tick);
                }
                Observation::Ship { ship_id } => now.ship = ship_id,
                Observation::Score { kills, deaths } => now.score = Some((kills, deaths)),
                // Told at the step of the hit, while the score message may
                // wait a second: without it, a snapshot taken at the hit would
                // hold a score the player was never shown.
                Observation::Killed {
                    victim_ship,
                    shooter_ship,
                } if now.ship != 0 => {
                    if let Some((kills, deaths)) = now.score {
                        now.score = Some((
                            kills + u32::from(shooter_ship == now.ship),
                            deaths + u32::from(victim_ship == now.ship),
                        ));
                    }
                    if victim_ship == now.ship {
                        now.ship = 0;
                    }
                }
                _ => {}
            }
            if now != before || d.holdings.is_empty() {
                d.holdings.push((o.at, now));
            }
        }
        d
    }

    /// What the player held at any moment of [from, to].
    fn held_between(&self, from: Instant, to: Instant) -> Vec<Holding> {
        let first = self
            .holdings
            .iter()
            .rposition(|(at, _)| *at <= from)
            .unwrap_or(0);
        self.holdings[first..]
            .iter()
            .take_while(|(at, _)| *at <= to)
            .map(|(_, h)| *h)
            .collect()
    }
}

/// One player in one fault episode.
#[derive(Clone, Debug, Default, Serialize)]
pub struct EpisodeOutcome {
    pub resumed: bool,
    /// Fault (or the break, if later) to the first update after resuming.
    pub wait: Option<Duration>,
    /// Steps seen before the outage that the resumed world no longer has.
    pub lost_steps: u32,
    /// Steps the world ran while the player was away (it was not lost, the
    /// player just was not there).
    pub missed_steps: u32,
    /// Connections opened again during the outage.
    pub rejoins: u32,
    pub same_player: bool,
    pub same_ship: bool,
    pub same_score: bool,
    /// A rejoin was answered as a new player: its room started over.
    pub reset: bool,
    /// The first step of the world it resumed in (None: never resumed).
    pub resume_step: Option<u32>,
    /// Whether it had an outage at all.
    pub affected: bool,
    /// What it came back with, and what it had shortly before the outage.
    pub came_back_with: Option<Holding>,
    pub had: Vec<Holding>,
}

/// How far back a resumed player's ship and score may come from: one
/// snapshot interval plus the lease, plus the lag of score messages.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub lookback: Duration,
}

/// Every episode of one player; `faults` are the episodes' starts, in
/// order, and `until` is when observation ended.
pub fn analyze(
    seen: &[Observed],
    faults: &[Instant],
    until: Instant,
    window: Window,
) -> Vec<EpisodeOutcome> {
    let d = Digest::of(seen);
    let player = d.welcomes.first().map(|w| w.player);
    faults
        .iter()
        .enumerate()
        .map(|(i, start)| {
            let end = faults.get(i + 1).copied().unwrap_or(until).min(until);
            episode(&d, player, *start, end, window)
        })
        .collect()
}

fn episode(
    d: &Digest,
    player: Option<u32>,
    start: Instant,
    end: Instant,
    window: Window,
) -> EpisodeOutcome {
    let Some(player) = player else {
        return EpisodeOutcome::default();
    };
    // Breaks whose resume comes after the fault and whose outage began before the next.
    let relevant: Vec<usize> = d
        .breaks
        .iter()
        .copied()
        .filter(|&b| d.ticks[b].at > start && d.ticks[b - 1].at < end)
        .collect();
    let Some(&first) = relevant.first() else {
        return undisturbed(d, start, end);
    };
    let mut last = first;
    for &b in &relevant[1..] {
        if d.ticks[b - 1].at.duration_since(d.ticks[last].at) <= CHAIN {
            last = b;
        } else {
            break;
        }
    }
    let before = d.ticks[first - 1];
    let resume = d.ticks[last];
    let seen_before = d.ticks[first - 1..last]
        .iter()
        .map(|t| t.step)
        .max()
        .unwrap_or(before.step);
    let rejoins: Vec<&Welcome> = d
        .welcomes
        .iter()
        .filter(|w| w.at > before.at && w.at <= resume.at)
        .collect();
    let base = start.min(before.at);
    let held = d.held_between(base.checked_sub(window.lookback).unwrap_or(base), before.at);
    let after = holding_after(d, rejoins.last().map_or(resume.at, |w| w.at));
    // Resumed past everything it had seen: the world ran on while it was away.
    let ran_on = resume.step >= seen_before;
    EpisodeOutcome {
        resumed: alive_after(d, last, end),
        wait: Some(resume.at.duration_since(start.max(before.at))),
        lost_steps: seen_before.saturating_sub(resume.step),
        missed_steps: resume.step.saturating_sub(before.step),
        rejoins: rejoins.len() as u32,
        same_player: rejoins.iter().all(|w| w.player == player && w.resumed),
        same_ship: ship_explained(&held, &after, ran_on),
        same_score: score_explained(&held, &after, ran_on),
        reset: rejoins.iter().any(|w| !w.resumed),
        resume_step: Some(resume.step),
        affected: true,
        came_back_with: Some(after),
        had: held,
    }
}

/// No outage: the player's first update after the fault, if its stream lives on.
fn undisturbed(d: &Digest, start: Instant, end: Instant) -> EpisodeOutcome {
    let Some(i) = d.ticks.iter().position(|t| t.at >= start) else {
        return EpisodeOutcome::default();
    };
    EpisodeOutcome {
        resumed: alive_after(d, i, end),
        wait: Some(d.ticks[i].at.duration_since(start)),
        resume_step: Some(d.ticks[i].step),
        same_player: true,
        same_ship: true,
        same_score: true,
        ..EpisodeOutcome::default()
    }
}

/// Its ship is one it had; in a world that ran on, it may also have been
/// destroyed meanwhile (0).
fn ship_explained(held: &[Holding], after: &Holding, ran_on: bool) -> bool {
    (ran_on && after.ship == 0) || held.iter().any(|h| h.ship == after.ship)
}

/// Its kills and deaths are ones it had; in a world that ran on, they may
/// have grown from those (none fewer, and a lost ship counted as a death).
/// Unknown scores (no ship, hence no score row) cannot contradict.
fn score_explained(held: &[Holding], after: &Holding, ran_on: bool) -> bool {
    let Some((k1, d1)) = after.score else {
        return true;
    };
    let mut known = held
        .iter()
        .filter_map(|h| Some((h.ship, h.score?)))
        .peekable();
    if known.peek().is_none() {
        return true;
    }
    known.any(|(ship, (k0, d0))| {
        if ran_on {
            k1 >= k0 && d1 >= d0 && (after.ship == ship || d1 > d0)
        } else {
            (k1, d1) == (k0, d0)
        }
    })
}

/// The stream that resumed at tick `i` still runs at the end of the window.
fn alive_after(d: &Digest, i: usize, end: Instant) -> bool {
    d.ticks[i..].last().is_some_and(|t| t.at + GAP * 2 >= end) || d.ticks[i].at >= end
}

/// Its ship as of `from` (the rejoin's welcome names it), and its score as
/// the first score message after it tells (one follows a welcome at once,
/// and comes at most once a second otherwise).
fn holding_after(d: &Digest, from: Instant) -> Holding {
    let until = from + Duration::from_millis(1500);
    let ship = d.held_between(from, from).last().map_or(0, |h| h.ship);
    let score = d
        .held_between(from, until)
        .into_iter()
        .find_map(|h| h.score);
    Holding { ship, score }
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
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
        assert!(
            e.resumed && e.affected && e.same_player && e.same_ship && e.same_score && !e.reset
        );
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
        // A score it never had is not itself.
        let mut items = items.clone();
        items.retain(|(ms, _)| *ms != 1900);
        let e = outcome(&items, 2010, 5000);
        assert!(!e.same_score);
    }

    #[test]
    fn a_ship_destroyed_while_away_is_still_itself_but_a_lost_kill_is_not() {
        let mut items = vec![(0, welcome(7, 12, false)), (10, score(4, 2))];
        items.extend(updates(50, 100, 40));
        items.push((2020, dropped()));
        // The world ran on for 3 s; a bot destroyed the waiting ship.
        items.push((5000, welcome(7, 0, true)));
        items.extend(updates(5050, 400, 40));
        items.push((5100, Observation::Ship { ship_id: 31 }));
        items.push((5200, score(4, 3)));
        let e = outcome(&items, 2010, 7000);
        assert!(e.same_ship && e.same_score, "{e:?}");
        assert_eq!((e.lost_steps, e.missed_steps), (0, 400 - 217));
        // Kills never go down in a world that ran on.
        let last = items.len() - 1;
        items[last] = (5200, score(3, 3));
        assert!(!outcome(&items, 2010, 7000).same_score);
        // A ship lost without a death counted is not explained either.
        items[last] = (5200, score(4, 2));
        assert!(!outcome(&items, 2010, 7000).same_score);
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 99.0), Some(99.0));
        assert_eq!(percentile(&[3.0], 99.0), Some(3.0));
        assert_eq!(percentile(&[], 50.0), None);
    }
}
