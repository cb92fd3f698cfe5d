//! The players: separate `spaaace-load` processes (release build, players
//! that skim updates rather than mirror the world), and what they report.

use std::path::Path;
use std::process::{Child, Stdio};

use gameserver::client::lateness::LatenessHistogram;
use serde::Deserialize;

use crate::server::on_cpus;

/// One `spaaace-load` process's share of the players.
pub struct LoadPlan<'a> {
    pub url: &'a str,
    /// Its rooms are this followed by -0, -1, ...
    pub room: String,
    pub rooms: u32,
    pub players_per_room: u32,
    pub warmup: u64,
    pub seconds: u64,
    /// The CPUs it runs on (`taskset -c`), if not all.
    pub cpus: Option<&'a str>,
}

pub struct Loader {
    child: Child,
}

/// The part of spaaace-load's JSON report the bench reads.
#[derive(Deserialize, Default)]
pub struct LoadReport {
    pub joined: u32,
    pub failed: u32,
    pub seconds: f64,
    pub updates: u64,
    pub inputs_sent: u64,
    pub lateness: Lateness,
    /// Joined players times measured seconds (filled in by `merge`).
    #[serde(skip)]
    pub player_seconds: f64,
}

#[derive(Deserialize, Default)]
pub struct Lateness {
    pub histogram: LatenessHistogram,
}

impl Loader {
    pub fn spawn(plan: &LoadPlan) -> Loader {
        // One room takes the name as it is; several get -0, -1, ... appended.
        let room = match plan.rooms {
            1 => format!("{}-0", plan.room),
            _ => plan.room.clone(),
        };
        let program = Path::new(env!("CARGO_BIN_EXE_spaaace-load"));
        let mut cmd = on_cpus(program, plan.cpus);
        cmd.args(["--url", plan.url, "--room", &room, "--json", "--no-mirror"])
            .args(["--rooms", &plan.rooms.to_string()])
            .args(["--players", &plan.players_per_room.to_string()])
            .args(["--warmup", &plan.warmup.to_string()])
            .args(["--seconds", &plan.seconds.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        Loader {
            child: cmd.spawn().expect("spawn spaaace-load"),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for its report; a process that failed reports nothing.
    pub fn finish(self) -> Option<LoadReport> {
        let output = self.child.wait_with_output().ok()?;
        serde_json::from_slice(&output.stdout).ok()
    }
}

/// `rooms` shared as evenly as they go among `loaders`, none empty.
pub fn split(rooms: u32, loaders: u32) -> Vec<u32> {
    let loaders = loaders.clamp(1, rooms.max(1));
    (0..loaders)
        .map(|i| rooms / loaders + u32::from(i < rooms % loaders))
        .collect()
}

/// The reports of several processes as one.
pub fn merge(reports: &[LoadReport]) -> LoadReport {
    let mut all = LoadReport::default();
    for r in reports {
        all.joined += r.joined;
        all.failed += r.failed;
        all.seconds = all.seconds.max(r.seconds);
        all.player_seconds += f64::from(r.joined) * r.seconds;
        all.updates += r.updates;
        all.inputs_sent += r.inputs_sent;
        all.lateness.histogram.merge(&r.lateness.histogram);
    }
    all
}
