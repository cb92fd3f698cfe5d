//! What the players report, one by one and in all.

use gameserver::client::lateness::{Lateness, LatenessHistogram};
use serde::Serialize;

use crate::Args;

#[derive(Default)]
pub struct PlayerReport {
    pub joined: bool,
    pub updates: u64,
    pub full_updates: u64,
    pub bytes: u64,
    pub frames: u64,
    pub inputs_sent: u64,
    pub deaths: u64,
    pub kills: u32,
    /// The connection ended early (closed, reset or a bad update); with
    /// `--reconnect`, the player gave up as the browser would.
    pub failed: bool,
    /// Joins after the first (`--reconnect`).
    pub reconnects: u64,
    /// Of those, the ones that got the same player back.
    pub resumed: u64,
    /// None with `--reconnect`: a player's schedule restarts with every room it lands in.
    pub lateness: Option<Lateness>,
}

#[derive(Serialize)]
pub struct Report {
    url: String,
    room: String,
    rooms: u32,
    players: u32,
    pub joined: u32,
    failed: u32,
    seconds: f64,
    updates: u64,
    full_updates: u64,
    bytes: u64,
    updates_per_second_per_player: f64,
    bytes_per_second_per_player: f64,
    bytes_per_second_total: f64,
    inputs_sent: u64,
    deaths: u64,
    kills: u64,
    reconnects: u64,
    resumed: u64,
    lateness: LatenessReport,
}

#[derive(Serialize)]
struct LatenessReport {
    updates: u64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    histogram: LatenessHistogram,
}

pub fn summarize(args: &Args, reports: &[PlayerReport], seconds: f64) -> Report {
    let joined = reports.iter().filter(|r| r.joined).count() as u32;
    let sum = |f: fn(&PlayerReport) -> u64| reports.iter().map(f).sum::<u64>();
    let (updates, bytes) = (sum(|r| r.updates), sum(|r| r.bytes));
    let per_player = f64::from(joined.max(1)) * seconds;
    let mut histogram = LatenessHistogram::default();
    for lateness in reports.iter().filter_map(|r| r.lateness.as_ref()) {
        lateness.record_into(&mut histogram);
    }
    Report {
        url: args.url.clone(),
        room: args.room.clone(),
        rooms: args.rooms,
        players: args.rooms * args.players,
        joined,
        failed: reports.iter().filter(|r| r.failed).count() as u32,
        seconds,
        updates,
        full_updates: sum(|r| r.full_updates),
        bytes,
        updates_per_second_per_player: updates as f64 / per_player,
        bytes_per_second_per_player: bytes as f64 / per_player,
        bytes_per_second_total: bytes as f64 / seconds,
        inputs_sent: sum(|r| r.inputs_sent),
        deaths: sum(|r| r.deaths),
        kills: sum(|r| u64::from(r.kills)),
        reconnects: sum(|r| r.reconnects),
        resumed: sum(|r| r.resumed),
        lateness: LatenessReport {
            updates: histogram.count(),
            p50_ms: histogram.quantile_ms(0.5),
            p99_ms: histogram.quantile_ms(0.99),
            max_ms: histogram.max_ms(),
            histogram,
        },
    }
}

pub fn print_text(r: &Report) {
    let rooms = if r.rooms == 1 {
        format!("room {}", r.room)
    } else {
        format!("{} rooms {}-*", r.rooms, r.room)
    };
    println!(
        "spaaace-load: {} players in {rooms} at {} for {:.1} s",
        r.players, r.url, r.seconds
    );
    println!("  joined {}, failed {}", r.joined, r.failed);
    println!(
        "  updates {} ({} full): {:.1}/s per player",
        r.updates, r.full_updates, r.updates_per_second_per_player
    );
    println!(
        "  received {} bytes: {:.1} KB/s per player, {:.1} KB/s in all",
        r.bytes,
        r.bytes_per_second_per_player / 1000.0,
        r.bytes_per_second_total / 1000.0
    );
    println!(
        "  inputs sent {}, deaths {}, kills {}",
        r.inputs_sent, r.deaths, r.kills
    );
    if r.lateness.updates > 0 {
        println!(
            "  update lateness (against the step schedule, fastest update = 0): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            r.lateness.p50_ms, r.lateness.p99_ms, r.lateness.max_ms
        );
    }
    if r.reconnects > 0 {
        println!(
            "  reconnects {}, of which resumed as the same player {}",
            r.reconnects, r.resumed
        );
    }
}
