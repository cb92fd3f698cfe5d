//! One scenario run: players join through the load balancer, Redis is
//! watched, the fault is injected, the run lasts until every player plays
//! steadily again (or a limit passes), then each player's record becomes
//! the report.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gameserver::client::reconnect::{Ending, Observation};
use serde::Serialize;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::control::LabHandle;
use crate::crowd::{room_name, Crowd, CrowdPlan, Recording};
use crate::error::LabError;
use crate::measure::{analyze, Window};
use crate::monitor::{newest_before, regressions, Monitor, SnapshotRead};
use crate::report::{
    summarize, EventAt, MarkAt, PlayerRow, RoomRow, RunSettings, ScenarioReport, Timeline, Who,
};
use crate::scenario::{inject, restore, FaultPlan, Mark, Scenario};
use crate::wait::wait_for;
use crate::zone::Zone;

const BUCKET: Duration = Duration::from_millis(250);
const SAMPLE_PERIOD: Duration = Duration::from_millis(250);
const MONITOR_PERIOD: Duration = Duration::from_millis(100);
const JOIN_LIMIT: Duration = Duration::from_secs(90);
const WARMUP_LIMIT: Duration = Duration::from_secs(60);

#[derive(Clone, Debug, Serialize)]
pub struct RunOptions {
    pub players: u32,
    pub rooms: u32,
    pub input_rate: u32,
    pub room_affinity: bool,
    pub plan: FaultPlan,
    /// How long a room's lease lives (0 for a server without leases): with
    /// the snapshot interval, how far back a resumed world may be.
    pub lease: Duration,
    /// After the last fault, wait at least this long before calling the
    /// run recovered (late effects, such as a healed node learning it was
    /// superseded, come after the fault).
    pub settle: Duration,
    /// Every player playing without a break this long counts as recovered.
    pub quiet: Duration,
    /// Recovery not reached this long after the last fault ends the run;
    /// players not back then are reported as not resumed.
    pub limit: Duration,
    /// Undo what the fault left broken (a lab that lives on: `up`).
    pub restore: bool,
}

pub async fn run(
    lab: &LabHandle,
    scenario: Scenario,
    opts: &RunOptions,
) -> Result<ScenarioReport, LabError> {
    let info = lab.info().await?;
    let rooms: Vec<String> = (0..opts.rooms).map(room_name).collect();
    let monitor = Monitor::start(&info.redis_url, rooms.clone(), MONITOR_PERIOD);
    let sampler = Sampler::start(lab.clone());
    let t0 = Instant::now();
    let crowd = Crowd::start(&CrowdPlan {
        url: info.ws_url.clone(),
        players: opts.players,
        rooms: opts.rooms,
        input_rate: opts.input_rate,
        room_affinity: opts.room_affinity,
        join_spread: Duration::from_millis(20) * opts.players.min(150),
    });
    let snapshot_interval = Duration::from_millis(info.snapshot_interval_ms);
    if let Err(e) = warm_up(&crowd, &monitor, opts, snapshot_interval).await {
        crowd.stop().await;
        monitor.stop().await;
        sampler.stop();
        return Err(e);
    }
    let node_before = crowd.pinned_nodes();
    let mut marks = Vec::new();
    let injected = inject(scenario, lab, &opts.plan, &mut marks).await;
    let last_mark = marks.last().map_or(Instant::now(), |m| m.at);
    if injected.is_ok() {
        let _ = wait_for(
            "every player to play steadily again",
            opts.settle + opts.limit,
            || async { Ok(last_mark.elapsed() >= opts.settle && crowd.all_steady(opts.quiet)) },
        )
        .await;
    }
    let node_after = crowd.pinned_nodes();
    let until = Instant::now();
    let recordings = crowd.stop().await;
    let reads = monitor.stop().await;
    let samples = sampler.stop();
    let after = injected?;
    if opts.restore {
        restore(lab, &after).await?;
    }
    let lookback = snapshot_interval + opts.lease + Duration::from_secs(2);
    let settings = RunSettings {
        snapshot_interval_ms: info.snapshot_interval_ms,
        redispatch: info.redispatch,
        room_affinity: opts.room_affinity,
        plan: opts.plan.clone(),
        lookback_ms: lookback.as_millis() as u64,
    };
    Ok(build_report(
        scenario,
        opts,
        settings,
        Evidence {
            t0,
            until,
            marks: &marks,
            recordings: &recordings,
            reads: &reads,
            samples: &samples,
            node_before: &node_before,
            node_after: &node_after,
            window: Window { lookback },
            rooms: &rooms,
        },
    ))
}

/// Until every player plays and every room has a snapshot that holds its players.
async fn warm_up(
    crowd: &Crowd,
    monitor: &Monitor,
    opts: &RunOptions,
    snapshot_interval: Duration,
) -> Result<(), LabError> {
    let players = crowd.len();
    wait_for(
        &format!("all {players} players to join"),
        JOIN_LIMIT,
        || async { Ok(crowd.playing() == players) },
    )
    .await
    .map_err(|_| LabError::Timeout {
        what: format!("all {players} players to join ({} did)", crowd.playing()),
        seconds: JOIN_LIMIT.as_secs(),
    })?;
    wait_for(
        "a snapshot of every room in Redis",
        WARMUP_LIMIT,
        || async { Ok(monitor.rooms_saved() == opts.rooms as usize) },
    )
    .await?;
    tokio::time::sleep(snapshot_interval.mul_f64(1.5)).await;
    // A busy machine may still be settling the joins: start from a steady game.
    let _ = wait_for("every player to play steadily", WARMUP_LIMIT, || async {
        Ok(crowd.all_steady(opts.quiet))
    })
    .await;
    Ok(())
}

/// The load balancer's view of the nodes, sampled through the run.
struct Sampler {
    stop: CancellationToken,
    samples: Arc<Mutex<Vec<(Instant, u32)>>>,
}

impl Sampler {
    fn start(lab: LabHandle) -> Sampler {
        let stop = CancellationToken::new();
        let samples = Arc::new(Mutex::new(Vec::new()));
        let (token, out) = (stop.clone(), samples.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SAMPLE_PERIOD);
            loop {
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = tick.tick() => {}
                }
                if let Ok(status) = lab.status().await {
                    if let Ok(mut s) = out.lock() {
                        s.push((Instant::now(), status.in_service().len() as u32));
                    }
                }
            }
        });
        Sampler { stop, samples }
    }

    fn stop(self) -> Vec<(Instant, u32)> {
        self.stop.cancel();
        self.samples.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

struct Evidence<'a> {
    t0: Instant,
    until: Instant,
    marks: &'a [Mark],
    recordings: &'a [Recording],
    reads: &'a [SnapshotRead],
    samples: &'a [(Instant, u32)],
    node_before: &'a [Option<Zone>],
    node_after: &'a [Option<Zone>],
    window: Window,
    rooms: &'a [String],
}

fn build_report(
    scenario: Scenario,
    opts: &RunOptions,
    settings: RunSettings,
    ev: Evidence<'_>,
) -> ScenarioReport {
    let faults: Vec<Instant> = ev
        .marks
        .iter()
        .filter(|m| m.episode)
        .map(|m| m.at)
        .collect();
    let per_player: Vec<PlayerRow> = ev
        .recordings
        .iter()
        .map(|rec| {
            let i = rec.index as usize;
            let who = Who {
                index: rec.index,
                room: rec.room.clone(),
                player_id: rec.seen.iter().find_map(|o| match o.what {
                    Observation::Welcome { player_id, .. } => Some(player_id),
                    _ => None,
                }),
                node_before: ev.node_before.get(i).copied().flatten(),
                node_after: ev.node_after.get(i).copied().flatten(),
                ending: ending_text(&rec.ending),
                events: events(rec, ev.t0),
            };
            PlayerRow::new(who, analyze(&rec.seen, &faults, ev.until, ev.window))
        })
        .collect();
    let rooms_detail: Vec<RoomRow> = ev
        .rooms
        .iter()
        .map(|room| room_row(room, &per_player, &faults, ev.reads))
        .collect();
    let first_fault = faults.first().copied().unwrap_or(ev.until);
    let min_nodes = ev
        .samples
        .iter()
        .filter(|(at, _)| *at >= first_fault)
        .map(|(_, n)| *n)
        .min();
    let ms = |at: Instant| at.duration_since(ev.t0).as_secs_f64() * 1000.0;
    ScenarioReport {
        scenario,
        number: scenario.number(),
        design_recovery: scenario.design_recovery(),
        target: scenario.target(),
        players: opts.players,
        rooms: opts.rooms,
        settings,
        marks: ev
            .marks
            .iter()
            .map(|m| MarkAt {
                at_ms: ms(m.at),
                label: m.label.clone(),
                episode: m.episode,
            })
            .collect(),
        summary: summarize(&per_player, &rooms_detail, min_nodes),
        rooms_detail,
        per_player,
        timeline: timeline(ev.t0, ev.until, ev.recordings, ev.samples),
    }
}

/// A room reset if a player of it rejoined as a new player; lost a
/// snapshot if, in some episode, its affected players resumed in a world
/// older than the newest snapshot read from Redis before the fault.
fn room_row(
    room: &str,
    players: &[PlayerRow],
    faults: &[Instant],
    reads: &[SnapshotRead],
) -> RoomRow {
    let members: Vec<&PlayerRow> = players.iter().filter(|p| p.room == room).collect();
    let reset = members.iter().any(|p| p.episodes.iter().any(|e| e.reset));
    let snapshot_lost = faults.iter().enumerate().any(|(i, at)| {
        let Some(newest) = newest_before(reads, room, *at) else {
            return false;
        };
        members
            .iter()
            .filter_map(|p| p.episodes.get(i))
            .filter(|e| e.affected)
            .filter_map(|e| e.resume_step)
            .min()
            .is_some_and(|resumed| u64::from(resumed) < newest)
    });
    RoomRow {
        room: room.to_string(),
        reset,
        snapshot_lost,
        stale_writes: regressions(reads, room),
    }
}

fn timeline(
    t0: Instant,
    until: Instant,
    recordings: &[Recording],
    samples: &[(Instant, u32)],
) -> Timeline {
    // Whole buckets only: a last partial one would show a false drop.
    let buckets = (until.duration_since(t0).as_millis() / BUCKET.as_millis()).max(1) as usize;
    let index = |at: Instant| (at.duration_since(t0).as_millis() / BUCKET.as_millis()) as usize;
    let mut connected_delta = vec![0i64; buckets + 1];
    let mut updates = vec![0u64; buckets];
    for rec in recordings {
        let mut since: Option<usize> = None;
        for o in &rec.seen {
            match o.what {
                Observation::Welcome { .. } if since.is_none() => since = Some(index(o.at)),
                Observation::Closed { .. } => {
                    if let Some(from) = since.take() {
                        connected_delta[from.min(buckets)] += 1;
                        connected_delta[index(o.at).min(buckets)] -= 1;
                    }
                }
                Observation::Update { .. } => {
                    if let Some(u) = updates.get_mut(index(o.at)) {
                        *u += 1;
                    }
                }
                _ => {}
            }
        }
        if let Some(from) = since {
            connected_delta[from.min(buckets)] += 1;
        }
    }
    let mut level = 0i64;
    let connected = connected_delta[..buckets]
        .iter()
        .map(|d| {
            level += d;
            level.max(0) as u32
        })
        .collect();
    let nodes_in_service = (0..buckets)
        .map(|b| {
            let end = t0 + BUCKET * (b as u32 + 1);
            samples
                .iter()
                .take_while(|(at, _)| *at <= end)
                .last()
                .map(|(_, n)| *n)
        })
        .collect();
    Timeline {
        bucket_ms: BUCKET.as_millis() as u64,
        connected,
        updates_per_second: updates
            .iter()
            .map(|u| *u as f64 / BUCKET.as_secs_f64())
            .collect(),
        nodes_in_service,
    }
}

/// The connection events of a player, for the JSON: what a person reads
/// to see why a player came back late or not as itself.
fn events(rec: &Recording, t0: Instant) -> Vec<EventAt> {
    rec.seen
        .iter()
        .filter_map(|o| {
            let what = match &o.what {
                Observation::Welcome {
                    player_id,
                    ship_id,
                    resumed,
                    step,
                } => format!(
                    "welcome: player {player_id}, ship {ship_id}, resumed {resumed}, step {step}"
                ),
                Observation::Closed { code, reason } => format!("closed {code:?} {reason}"),
                Observation::ConnectFailed { error } => format!("connect failed: {error}"),
                Observation::Refused { code, message } => format!("refused {code}: {message}"),
                _ => return None,
            };
            Some(EventAt {
                at_ms: o.at.duration_since(t0).as_secs_f64() * 1000.0,
                what,
            })
        })
        .collect()
}

fn ending_text(ending: &Ending) -> String {
    match ending {
        Ending::Stopped => "stopped".into(),
        Ending::Paused { reason } => format!("paused: {reason}"),
        Ending::Failed { code, reason } => format!("failed {code}: {reason}"),
    }
}
