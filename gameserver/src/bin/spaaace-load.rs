//! spaaace-load: simulated players over real WebSockets, in one room or
//! several, that join, steer and fire, reporting the updates and bytes they
//! received and how late the updates came (`client::lateness`). Bounded in
//! players and seconds; it stops by itself. With `--reconnect` each player
//! behaves as the browser does after a drop (sticky cookie, token, backoff).

use std::net::ToSocketAddrs;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;
use gameserver::client::lateness::{Lateness, LatenessHistogram};
use gameserver::client::pilot::Pilot;
use gameserver::client::reconnect::{
    CookieJar, Ending, Observation, Observed, PlayerPlan, ReconnectingPlayer,
};
use gameserver::client::swarm::{self, Recruit, SwarmPlan};
use gameserver::client::{ClientError, GameClient};
use gameserver::protocol::{ServerMessage, UpdateKind};
use serde::Serialize;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::http::Uri;
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
    /// Players in each room.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=5_000))]
    players: u32,
    /// The room they join; with `--rooms` above 1, the rooms are this
    /// followed by `-0`, `-1`, ...
    #[arg(long, default_value = "load")]
    room: String,
    /// How many rooms.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=MAX_PLAYERS as i64))]
    rooms: u32,
    /// How long the players play and are measured, after the warm-up.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3_600))]
    seconds: u64,
    /// Played before the measured seconds and not counted; the joins are
    /// spread over its first half.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=600))]
    warmup: u64,
    /// Read only each update's header instead of mirroring the world, with
    /// all players on a few threads (`client::swarm`): the players' CPU then
    /// goes to the traffic, not to decoding and tasks.
    #[arg(long, conflicts_with = "reconnect")]
    no_mirror: bool,
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

/// Players one process simulates at most (rooms times players per room).
const MAX_PLAYERS: u32 = 20_000;

#[derive(Default)]
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
    /// None with `--reconnect`: a player's schedule restarts with every room it lands in.
    lateness: Option<Lateness>,
}

#[derive(Serialize)]
struct Report {
    url: String,
    room: String,
    rooms: u32,
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

/// When each player starts and when counting starts and ends.
#[derive(Clone, Copy)]
struct Schedule {
    origin: Instant,
    join_at: Instant,
    counted_from: Instant,
    stop: Instant,
}

impl Schedule {
    fn counts(&self, at: Instant) -> bool {
        at >= self.counted_from
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter("warn")
        .init();
    let total = args.rooms.saturating_mul(args.players);
    if total > MAX_PLAYERS {
        bail!("{total} players asked for ({} rooms of {}): one process simulates at most {MAX_PLAYERS}", args.rooms, args.players);
    }
    let origin = Instant::now();
    let counted_from = origin + Duration::from_secs(args.warmup);
    let stop = counted_from + Duration::from_secs(args.seconds);
    let spread = Duration::from_secs(args.warmup) / 2;
    let join_at = |i: u32| origin + spread.mul_f64(f64::from(i) / f64::from(total));
    if args.no_mirror {
        let plan = swarm_plan(&args, origin, counted_from, stop)?;
        let recruits = (0..total).map(|i| Recruit {
            room: room_name(&args, i % args.rooms),
            name: format!("load-{i}"),
            seed: i,
            join_at: join_at(i),
        });
        let reports = play_swarm(plan, recruits.collect()).await?;
        return finish(&args, &reports, counted_from);
    }
    let mut tasks = Vec::new();
    for i in 0..total {
        let url = args.url.clone();
        let room = room_name(&args, i % args.rooms);
        let period = Duration::from_secs(1) / args.input_rate;
        let schedule = Schedule {
            origin,
            join_at: join_at(i),
            counted_from,
            stop,
        };
        if args.reconnect {
            tasks.push(tokio::spawn(play_reconnecting(
                url, room, i, period, schedule,
            )));
        } else {
            tasks.push(tokio::spawn(play(url, room, i, period, schedule)));
        }
    }
    let mut reports = Vec::new();
    for task in tasks {
        reports.push(task.await.context("a simulated player panicked")?);
    }
    finish(&args, &reports, counted_from)
}

fn finish(args: &Args, reports: &[PlayerReport], counted_from: Instant) -> anyhow::Result<()> {
    let seconds = Instant::now().duration_since(counted_from).as_secs_f64();
    let report = summarize(args, reports, seconds);
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

fn room_name(args: &Args, index: u32) -> String {
    if args.rooms == 1 {
        args.room.clone()
    } else {
        format!("{}-{index}", args.room)
    }
}

async fn play(
    url: String,
    room: String,
    index: u32,
    period: Duration,
    schedule: Schedule,
) -> PlayerReport {
    let mut report = PlayerReport {
        lateness: Some(Lateness::new(schedule.origin)),
        ..PlayerReport::default()
    };
    tokio::time::sleep_until(schedule.join_at).await;
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
    // What arrived before the measured seconds: (bytes, frames).
    let mut before: Option<(u64, u64)> = None;
    let outcome: Result<(), ClientError> = async {
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(schedule.stop) => return Ok(()),
                _ = tick.tick() => {
                    if client.view.my_ship == 0 {
                        client.restart().await?;
                    } else {
                        client.send_input(pilot.next_input()).await?;
                        report.inputs_sent += u64::from(schedule.counts(Instant::now()));
                    }
                }
                received = receive(&mut client) => {
                    let at = Instant::now();
                    if !schedule.counts(at) {
                        before = Some((client.conn.bytes_received, client.conn.frames_received));
                    }
                    match received? {
                        Received::Update { step, kind } if schedule.counts(at) => {
                            report.updates += 1;
                            report.full_updates += u64::from(kind == UpdateKind::Full);
                            if let Some(lateness) = report.lateness.as_mut() {
                                lateness.arrived(step, at);
                            }
                        }
                        Received::Died => report.deaths += 1,
                        _ => {}
                    }
                }
            }
        }
    }
    .await;
    if let Err(e) = outcome {
        tracing::warn!(player = index, error = %e, "player stopped early");
        report.failed = true;
    }
    let (bytes, frames) = before.unwrap_or_default();
    report.bytes = client.conn.bytes_received - bytes;
    report.frames = client.conn.frames_received - frames;
    report.kills = client
        .view
        .score_of_player(client.player_id())
        .map_or(0, |r| r.kills);
    report
}

/// What a player counts of what it received.
enum Received {
    Update { step: u32, kind: UpdateKind },
    Died,
    Other,
}

/// One message, mirrored into the player's world.
async fn receive(client: &mut GameClient) -> Result<Received, ClientError> {
    Ok(match client.pump().await? {
        ServerMessage::Update { body, .. } => Received::Update {
            step: body.step,
            kind: body.kind,
        },
        ServerMessage::YourShip { ship_id: 0 } => Received::Died,
        _ => Received::Other,
    })
}

/// Where the swarm's players connect, from `--url` (ws:// only).
fn swarm_plan(
    args: &Args,
    origin: Instant,
    counted_from: Instant,
    stop: Instant,
) -> anyhow::Result<SwarmPlan> {
    let uri: Uri = args.url.parse().context("--url is not a URL")?;
    if uri.scheme_str() != Some("ws") {
        bail!("--no-mirror speaks plain ws:// only, not {}", args.url);
    }
    let host = uri.host().context("--url has no host")?;
    let port = uri.port_u16().unwrap_or(80);
    let addr = (host, port)
        .to_socket_addrs()
        .with_context(|| format!("resolving {host}"))?
        .next()
        .with_context(|| format!("{host} has no address"))?;
    Ok(SwarmPlan {
        addr,
        host: format!("{host}:{port}"),
        path: uri.path_and_query().map_or("/", |p| p.as_str()).to_string(),
        input_period: Duration::from_secs(1) / args.input_rate,
        origin,
        counted_from,
        stop,
    })
}

/// The recruits shared among a thread per CPU.
async fn play_swarm(plan: SwarmPlan, recruits: Vec<Recruit>) -> anyhow::Result<Vec<PlayerReport>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut shares: Vec<Vec<Recruit>> = vec![Vec::new(); threads];
    for (i, recruit) in recruits.into_iter().enumerate() {
        shares[i % threads].push(recruit);
    }
    let running: Vec<_> = shares
        .into_iter()
        .map(|share| {
            let plan = plan.clone();
            tokio::task::spawn_blocking(move || swarm::run(&plan, share))
        })
        .collect();
    let mut reports = Vec::new();
    for thread in running {
        let tallies = thread.await.context("a swarm thread panicked")??;
        reports.extend(tallies.into_iter().map(|t| PlayerReport {
            joined: t.joined,
            updates: t.updates,
            full_updates: t.full_updates,
            bytes: t.bytes,
            frames: t.frames,
            inputs_sent: t.inputs_sent,
            deaths: t.deaths,
            failed: t.failed,
            lateness: Some(t.lateness),
            ..PlayerReport::default()
        }));
    }
    Ok(reports)
}

async fn play_reconnecting(
    url: String,
    room: String,
    index: u32,
    input_period: Duration,
    schedule: Schedule,
) -> PlayerReport {
    tokio::time::sleep_until(schedule.join_at).await;
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
        tokio::time::sleep_until(schedule.stop).await;
        timer.cancel();
    });
    let mut report = PlayerReport::default();
    let player = ReconnectingPlayer::new(plan, CookieJar::default());
    let (ending, traffic) = player
        .run(stopped, |seen| {
            if schedule.counts(seen.at) || !matches!(seen.what, Observation::Update { .. }) {
                tally(&mut report, &seen);
            }
        })
        .await;
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

fn print_text(r: &Report) {
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
