//! spaaace-load: N simulated players over real WebSockets that join, steer
//! and fire, reporting the updates and bytes they received. Bounded in
//! players and seconds; it stops by itself. With `--reconnect` each player
//! behaves as the browser does after a drop (sticky cookie, token, backoff).

use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;
use gameserver::client::pilot::Pilot;
use gameserver::client::reconnect::{
    CookieJar, Ending, Observation, Observed, PlayerPlan, ReconnectingPlayer,
};
use gameserver::client::{ClientError, GameClient};
use gameserver::protocol::ServerMessage;
use serde::Serialize;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

#[derive(Parser, Debug)]
#[command(
    name = "spaaace-load",
    about = "Simulated Spaaace players for load and failure rehearsals"
)]
struct Args {
    /// The server's WebSocket endpoint.
    #[arg(long, default_value = "ws://127.0.0.1:3000/ws")]
    url: String,
    /// Players to simulate.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=5_000))]
    players: u32,
    /// Room they all join.
    #[arg(long, default_value = "load")]
    room: String,
    /// How long each player plays.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3_600))]
    seconds: u64,
    /// Inputs each player sends per second (the protocol allows 60).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=60))]
    input_rate: u32,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Reconnect after a drop as the browser does (keeping the load
    /// balancer's cookie and the player's token, with its backoff) instead
    /// of counting the player as failed.
    #[arg(long)]
    reconnect: bool,
}

#[derive(Default, Serialize, Clone, Copy)]
struct PlayerReport {
    joined: bool,
    updates: u64,
    full_updates: u64,
    bytes: u64,
    frames: u64,
    inputs_sent: u64,
    deaths: u64,
    kills: u32,
    /// The connection ended early (closed, reset or a bad update); with
    /// `--reconnect`, the player gave up as the browser would.
    failed: bool,
    /// Joins after the first (`--reconnect`).
    reconnects: u64,
    /// Of those, the ones that got the same player back.
    resumed: u64,
}

#[derive(Serialize)]
struct Report {
    url: String,
    room: String,
    players: u32,
    joined: u32,
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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter("warn")
        .init();
    let started = Instant::now();
    let stop = started + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for i in 0..args.players {
        let (url, room) = (args.url.clone(), args.room.clone());
        let period = Duration::from_secs(1) / args.input_rate;
        if args.reconnect {
            tasks.push(tokio::spawn(play_reconnecting(url, room, i, period, stop)));
        } else {
            tasks.push(tokio::spawn(play(url, room, i, period, stop)));
        }
    }
    let mut reports = Vec::new();
    for task in tasks {
        reports.push(task.await.context("a simulated player panicked")?);
    }
    let report = summarize(&args, &reports, started.elapsed().as_secs_f64());
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_text(&report);
    }
    if report.joined == 0 {
        bail!("no player could join {} at {}", args.room, args.url);
    }
    Ok(())
}

async fn play(
    url: String,
    room: String,
    index: u32,
    period: Duration,
    stop: Instant,
) -> PlayerReport {
    let mut report = PlayerReport::default();
    let name = format!("load-{index}");
    let mut client = match GameClient::join(&url, &room, &name, "").await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(player = index, error = %e, "join failed");
            report.failed = true;
            return report;
        }
    };
    report.joined = true;
    let mut pilot = Pilot::new(index);
    let mut tick = tokio::time::interval(period);
    let outcome: Result<(), ClientError> = async {
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(stop) => return Ok(()),
                _ = tick.tick() => {
                    if client.view.my_ship == 0 {
                        client.restart().await?;
                    } else {
                        client.send_input(pilot.next_input()).await?;
                        report.inputs_sent += 1;
                    }
                }
                message = client.pump() => match message? {
                    ServerMessage::Update { body, .. } => {
                        report.updates += 1;
                        report.full_updates += u64::from(body.kind == gameserver::protocol::UpdateKind::Full);
                    }
                    ServerMessage::YourShip { ship_id: 0 } => report.deaths += 1,
                    _ => {}
                },
            }
        }
    }
    .await;
    if let Err(e) = outcome {
        tracing::warn!(player = index, error = %e, "player stopped early");
        report.failed = true;
    }
    report.bytes = client.conn.bytes_received;
    report.frames = client.conn.frames_received;
    report.kills = client
        .view
        .score_of_player(client.player_id())
        .map_or(0, |r| r.kills);
    report
}

async fn play_reconnecting(
    url: String,
    room: String,
    index: u32,
    input_period: Duration,
    stop: Instant,
) -> PlayerReport {
    let plan = PlayerPlan {
        url,
        room,
        name: format!("load-{index}"),
        input_period,
        seed: index,
    };
    let stopped = CancellationToken::new();
    let timer = stopped.clone();
    tokio::spawn(async move {
        tokio::time::sleep_until(stop).await;
        timer.cancel();
    });
    let mut report = PlayerReport::default();
    let player = ReconnectingPlayer::new(plan, CookieJar::default());
    let (ending, traffic) = player.run(stopped, |seen| tally(&mut report, &seen)).await;
    if ending != Ending::Stopped {
        tracing::warn!(player = index, ?ending, "player gave up");
        report.failed = true;
    }
    report.bytes = traffic.bytes_received;
    report.frames = traffic.frames_received;
    report.inputs_sent = traffic.inputs_sent;
    report
}

fn tally(report: &mut PlayerReport, seen: &Observed) {
    match seen.what {
        Observation::Welcome { resumed, .. } => {
            if report.joined {
                report.reconnects += 1;
                report.resumed += u64::from(resumed);
            }
            report.joined = true;
        }
        Observation::Update { full, .. } => {
            report.updates += 1;
            report.full_updates += u64::from(full);
        }
        Observation::Ship { ship_id: 0 } => report.deaths += 1,
        Observation::Score { kills, .. } => report.kills = kills,
        _ => {}
    }
}

fn summarize(args: &Args, reports: &[PlayerReport], seconds: f64) -> Report {
    let joined = reports.iter().filter(|r| r.joined).count() as u32;
    let sum = |f: fn(&PlayerReport) -> u64| reports.iter().map(f).sum::<u64>();
    let (updates, bytes) = (sum(|r| r.updates), sum(|r| r.bytes));
    let per_player = f64::from(joined.max(1)) * seconds;
    Report {
        url: args.url.clone(),
        room: args.room.clone(),
        players: args.players,
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
    }
}

fn print_text(r: &Report) {
    println!(
        "spaaace-load: {} players in room {} at {} for {:.1} s",
        r.players, r.room, r.url, r.seconds
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
    if r.reconnects > 0 {
        println!(
            "  reconnects {}, of which resumed as the same player {}",
            r.reconnects, r.resumed
        );
    }
}
