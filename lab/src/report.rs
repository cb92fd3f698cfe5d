//! A scenario's report: the figures per player and in summary, the
//! timeline behind the picture, printed as a table and written as JSON.

use std::fmt::Write;

use serde::Serialize;

use crate::measure::{percentile, EpisodeOutcome, STEPS_PER_SECOND};
use crate::scenario::{FaultPlan, Scenario};
use crate::zone::Zone;

#[derive(Clone, Debug, Serialize)]
pub struct ScenarioReport {
    pub scenario: Scenario,
    pub number: u8,
    pub design_recovery: &'static str,
    pub target: &'static str,
    pub players: u32,
    pub rooms: u32,
    pub settings: RunSettings,
    pub marks: Vec<MarkAt>,
    pub summary: Summary,
    pub rooms_detail: Vec<RoomRow>,
    pub per_player: Vec<PlayerRow>,
    pub timeline: Timeline,
}

#[derive(Clone, Debug, Serialize)]
pub struct RunSettings {
    pub snapshot_interval_ms: u64,
    pub redispatch: bool,
    pub room_affinity: bool,
    pub plan: FaultPlan,
    /// How far back a resumed ship and score may come from.
    pub lookback_ms: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct MarkAt {
    /// From the first player's start.
    pub at_ms: f64,
    pub label: String,
    pub episode: bool,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    pub players: usize,
    /// Resumed, as the same player, with a ship and score it had.
    pub resumed_as_themselves: usize,
    pub not_resumed: usize,
    /// Players that had an outage at all.
    pub affected: usize,
    pub resume_p50_ms: Option<f64>,
    pub resume_p99_ms: Option<f64>,
    pub resume_max_ms: Option<f64>,
    pub lost_p50_ms: f64,
    pub lost_max_ms: f64,
    /// Rooms where a player rejoined as a new player.
    pub rooms_reset: usize,
    /// Rooms whose world resumed from older than the newest snapshot Redis had.
    pub snapshots_lost: usize,
    /// Snapshot reads older than an earlier read of the room (a stale writer,
    /// or a write lost in a failover).
    pub stale_writes: usize,
    /// The fewest nodes the load balancer routed to after the first fault.
    pub min_nodes_in_service: Option<u32>,
}

#[derive(Clone, Debug, Serialize)]
pub struct RoomRow {
    pub room: String,
    pub reset: bool,
    pub snapshot_lost: bool,
    pub stale_writes: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct PlayerRow {
    pub index: u32,
    pub room: String,
    pub player_id: Option<u32>,
    /// The node its browser was pinned to before the first fault and at the end.
    pub node_before: Option<Zone>,
    pub node_after: Option<Zone>,
    pub resumed: bool,
    pub itself: bool,
    pub wait_ms: Option<f64>,
    pub lost_steps: u32,
    pub missed_steps: u32,
    pub rejoins: u32,
    pub ending: String,
    pub episodes: Vec<EpisodeOutcome>,
    /// Its connections' story: joins, closes, failed connects.
    pub events: Vec<EventAt>,
}

#[derive(Clone, Debug, Serialize)]
pub struct EventAt {
    pub at_ms: f64,
    pub what: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Timeline {
    pub bucket_ms: u64,
    pub connected: Vec<u32>,
    pub updates_per_second: Vec<f64>,
    pub nodes_in_service: Vec<Option<u32>>,
}

/// Who a player was, before its episodes are weighed.
pub struct Who {
    pub index: u32,
    pub room: String,
    pub player_id: Option<u32>,
    pub node_before: Option<Zone>,
    pub node_after: Option<Zone>,
    pub ending: String,
    pub events: Vec<EventAt>,
}

impl PlayerRow {
    /// A player's row: its worst episode decides its figures.
    pub fn new(who: Who, episodes: Vec<EpisodeOutcome>) -> PlayerRow {
        let e = &episodes;
        let resumed = !e.is_empty() && e.iter().all(|e| e.resumed);
        let itself = resumed
            && e.iter()
                .all(|e| e.same_player && e.same_ship && e.same_score && !e.reset);
        let wait_ms = resumed
            .then(|| e.iter().filter_map(|e| e.wait).max())
            .flatten()
            .map(|d| d.as_secs_f64() * 1000.0);
        PlayerRow {
            index: who.index,
            room: who.room,
            player_id: who.player_id,
            node_before: who.node_before,
            node_after: who.node_after,
            resumed,
            itself,
            wait_ms,
            lost_steps: e.iter().map(|e| e.lost_steps).max().unwrap_or(0),
            missed_steps: e.iter().map(|e| e.missed_steps).max().unwrap_or(0),
            rejoins: e.iter().map(|e| e.rejoins).sum(),
            ending: who.ending,
            episodes,
            events: who.events,
        }
    }
}

pub fn steps_to_ms(steps: u32) -> f64 {
    f64::from(steps) * 1000.0 / STEPS_PER_SECOND
}

pub fn summarize(players: &[PlayerRow], rooms: &[RoomRow], min_nodes: Option<u32>) -> Summary {
    let mut waits: Vec<f64> = players.iter().filter_map(|p| p.wait_ms).collect();
    waits.sort_by(f64::total_cmp);
    let mut lost: Vec<f64> = players.iter().map(|p| steps_to_ms(p.lost_steps)).collect();
    lost.sort_by(f64::total_cmp);
    Summary {
        players: players.len(),
        resumed_as_themselves: players.iter().filter(|p| p.itself).count(),
        not_resumed: players.iter().filter(|p| !p.resumed).count(),
        affected: players
            .iter()
            .filter(|p| p.episodes.iter().any(|e| e.affected))
            .count(),
        resume_p50_ms: percentile(&waits, 50.0),
        resume_p99_ms: percentile(&waits, 99.0),
        resume_max_ms: waits.last().copied(),
        lost_p50_ms: percentile(&lost, 50.0).unwrap_or(0.0),
        lost_max_ms: lost.last().copied().unwrap_or(0.0),
        rooms_reset: rooms.iter().filter(|r| r.reset).count(),
        snapshots_lost: rooms.iter().filter(|r| r.snapshot_lost).count(),
        stale_writes: rooms.iter().map(|r| r.stale_writes).sum(),
        min_nodes_in_service: min_nodes,
    }
}

/// The table of `make lab-scenarios`, in Markdown so the README can hold it.
pub fn table(reports: &[ScenarioReport]) -> String {
    let mut out = String::from(
        "| scenario | players | resumed as themselves | resume p50 / p99 / max | game lost p50 / max | rooms reset | snapshots lost | stale writes | design | target |\n\
         |---|---:|---:|---|---|---:|---:|---:|---|---|\n",
    );
    for r in reports {
        let s = &r.summary;
        let secs =
            |ms: Option<f64>| ms.map_or("-".to_string(), |ms| format!("{:.2} s", ms / 1000.0));
        let _ = writeln!(
            out,
            "| {} {} | {} | {} | {} / {} / {} | {} / {} | {} | {} | {} | {} | {} |",
            r.number,
            r.scenario.name(),
            s.players,
            s.resumed_as_themselves,
            secs(s.resume_p50_ms),
            secs(s.resume_p99_ms),
            secs(s.resume_max_ms),
            secs(Some(s.lost_p50_ms)),
            secs(Some(s.lost_max_ms)),
            s.rooms_reset,
            s.snapshots_lost,
            s.stale_writes,
            r.design_recovery,
            r.target,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn row(wait_ms: u64, lost_steps: u32, itself: bool) -> PlayerRow {
        let who = Who {
            index: 0,
            room: "r".into(),
            player_id: Some(1),
            node_before: Some(Zone::A),
            node_after: Some(Zone::B),
            ending: "stopped".into(),
            events: Vec::new(),
        };
        PlayerRow::new(
            who,
            vec![EpisodeOutcome {
                resumed: true,
                wait: Some(Duration::from_millis(wait_ms)),
                lost_steps,
                same_player: true,
                same_ship: itself,
                same_score: true,
                affected: true,
                ..EpisodeOutcome::default()
            }],
        )
    }

    #[test]
    fn summary_counts_and_percentiles() {
        let players = vec![row(100, 6, true), row(300, 60, true), row(2000, 0, false)];
        let rooms = vec![RoomRow {
            room: "r".into(),
            reset: false,
            snapshot_lost: true,
            stale_writes: 2,
        }];
        let s = summarize(&players, &rooms, Some(2));
        assert_eq!(
            (
                s.players,
                s.resumed_as_themselves,
                s.not_resumed,
                s.affected
            ),
            (3, 2, 0, 3)
        );
        assert_eq!(s.resume_p50_ms, Some(300.0));
        assert_eq!(s.resume_max_ms, Some(2000.0));
        assert_eq!(s.lost_max_ms, 1000.0);
        assert_eq!((s.snapshots_lost, s.stale_writes, s.rooms_reset), (1, 2, 0));
    }
}
