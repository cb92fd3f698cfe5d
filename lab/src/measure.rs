//! What one player lived through, from its own observations only (the
//! protocol, never the server's logs).
//!
//! A player's updates form runs; a run breaks when the connection changes
//! (a reconnect), the world's step goes back (a takeover from an older
//! snapshot), jumps ahead by more than a second of game, or nothing arrives
//! for `GAP`. A fault starts an episode, which owns the breaks that began
//! during it (or just before it, as a killed node's last update does); the
//! player's outage is its first break, chained with any break that follows
//! within `CHAIN` of resuming (a reconnect to a node that then takes the
//! room over is one outage, not two). Then:
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
//!   are those or more, a lost ship counted as a death (a fresh world gives
//!   a new ship and a zeroed score).

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
    /// Each score message's own row, as it came.
    scores: Vec<(Instant, (u32, u32))>,
    /// Where a run breaks: the index of the first tick after the break.
    breaks: Vec<usize>,
}

impl Digest {
    fn of(seen: &[Observed]) -> Digest {
        let mut d = Digest {
            ticks: Vec::new(),
            welcomes: Vec::new(),
            holdings: Vec::new(),
            scores: Vec::new(),
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
                Observation::Ship { ship_id } => {
                    // Kills belong to a ship (the rules): a new one starts from none.
                    if ship_id != 0 && ship_id != now.ship {
                        now.score = now.score.map(|(_, deaths)| (0, deaths));
                    }
                    now.ship = ship_id;
                }
                Observation::Score { kills, deaths } => {
                    now.score = Some((kills, deaths));
                    d.scores.push((o.at, (kills, deaths)));
                }
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
    let mut breaks: Vec<Vec<usize>> = vec![Vec::new(); faults.len()];
    for &b in &d.breaks {
        if let Some(i) = episode_of(faults, d.ticks[b - 1].at) {
            breaks[i].push(b);
        }
    }
    faults
        .iter()
        .zip(breaks)
        .enumerate()
        .map(|(i, (start, breaks))| {
            let end = faults.get(i + 1).copied().unwrap_or(until).min(until);
            episode(&d, player, &breaks, *start, end, window)
        })
        .collect()
}

/// The fault an outage that began at `began` belongs to: the last one at or
/// before it, or the first if it began just before that one (a killed node's
/// last update left it a moment before the kill). Faults in one scenario
/// come one after the other, so an outage that began during one belongs to
/// it even when the next comes a moment later.
fn episode_of(faults: &[Instant], began: Instant) -> Option<usize> {
    faults
        .iter()
        .rposition(|start| *start <= began)
        .or_else(|| {
            faults
                .first()
                .filter(|first| began + GAP >= **first)
                .map(|_| 0)
        })
}

fn episode(
    d: &Digest,
    player: Option<u32>,
    breaks: &[usize],
    start: Instant,
    end: Instant,
    window: Window,
) -> EpisodeOutcome {
    let Some(player) = player else {
        return EpisodeOutcome::default();
    };
    let relevant: Vec<usize> = breaks
        .iter()
        .copied()
        .filter(|&b| d.ticks[b].at > start)
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
    // What it was told on its old connection, up to the outage and through a
    // stall that ended without a rejoin (a relay may tell of ships meanwhile).
    let told_until = rejoins
        .first()
        .map_or(resume.at, |w| w.at - Duration::from_nanos(1));
    let held = d.held_between(
        base.checked_sub(window.lookback).unwrap_or(base),
        told_until,
    );
    let after = holding_after(d, rejoins.last().map_or(resume.at, |w| w.at));
    EpisodeOutcome {
        resumed: alive_after(d, last, end),
        wait: Some(resume.at.duration_since(start.max(before.at))),
        lost_steps: seen_before.saturating_sub(resume.step),
        missed_steps: resume.step.saturating_sub(before.step),
        rejoins: rejoins.len() as u32,
        same_player: rejoins.iter().all(|w| w.player == player && w.resumed),
        same_ship: ship_explained(&held, after.ship),
        same_score: score_explained(&held, &after),
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

/// Its ship is one it had, none (destroyed while it was away), or, when it
/// had none, a newer one: a restart granted just before the outage, before
/// the server could tell it (ship ids only grow).
fn ship_explained(held: &[Holding], ship: u32) -> bool {
    let newest = held.iter().map(|h| h.ship).max().unwrap_or(0);
    ship == 0
        || held.iter().any(|h| h.ship == ship)
        || (held.iter().any(|h| h.ship == 0) && ship > newest)
}

/// Its kills and deaths grew from ones it had, never fewer; a ship lost
/// since counts as a death, and kills belong to a ship (a new one starts
/// from none): the resumed world is a snapshot of its world
/// that may have run on while the player was away (or played elsewhere, on
/// a node that was superseded), where its waiting ship could be destroyed.
/// Unknown scores (no ship, hence no score row) cannot contradict.
fn score_explained(held: &[Holding], after: &Holding) -> bool {
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
        if after.ship == ship {
            k1 >= k0 && d1 >= d0
        } else {
            // Another ship: this one died since, and its successor's kills are its own.
            d1 > d0
        }
    })
}

/// The stream that resumed at tick `i` still runs at the end of the window.
fn alive_after(d: &Digest, i: usize, end: Instant) -> bool {
    d.ticks[i..].last().is_some_and(|t| t.at + GAP * 2 >= end) || d.ticks[i].at >= end
}

/// Its ship as of `from` (the rejoin's welcome names it), and its score as
/// the first score message after it tells (one follows a welcome at once,
/// and comes at most once a second otherwise; none while it has no ship).
fn holding_after(d: &Digest, from: Instant) -> Holding {
    let until = from + Duration::from_millis(1500);
    let ship = d.held_between(from, from).last().map_or(0, |h| h.ship);
    let score = d
        .scores
        .iter()
        .find(|(at, _)| *at >= from && *at <= until)
        .map(|(_, s)| *s);
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
mod tests;
