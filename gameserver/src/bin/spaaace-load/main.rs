//! spaaace-load: simulated players over real WebSockets, in one room or
//! several, that join, steer and fire, reporting the updates and bytes they
//! received and how late the updates came (`client::lateness`). Bounded in
//! players and seconds; it stops by itself. With `--reconnect` each player
//! behaves as the browser does after a drop (sticky cookie, token, backoff);
//! with `--no-mirror` the players run as a swarm on raw sockets
//! (`client::swarm`), for load.

mod players;
mod report;

use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;
use gameserver::client::swarm::Recruit;
use tokio::time::Instant;

use players::{play, play_reconnecting, play_swarm, swarm_plan};
use report::{print_text, summarize, PlayerReport};

#[derive(Parser, Debug)]
#[command(
    name = "spaaace-load",
    about = "Simulated Spaaace players for load and failure rehearsals"
)]
pub struct Args {
    /// The server's WebSocket endpoint.
    #[arg(long, default_value = "ws://127.0.0.1:3000/ws")]
    pub url: String,
    /// Players in each room.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=5_000))]
    pub players: u32,
    /// The room they join; with `--rooms` above 1, the rooms are this
    /// followed by `-0`, `-1`, ...
    #[arg(long, default_value = "load")]
    pub room: String,
    /// How many rooms.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=MAX_PLAYERS as i64))]
    pub rooms: u32,
    /// How long the players play and are measured, after the warm-up.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub seconds: u64,
    /// Played before the measured seconds and not counted; the joins are
    /// spread over its first half.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=600))]
    pub warmup: u64,
    /// Read only each update's header instead of mirroring the world, with
    /// all players on a few threads (`client::swarm`): the players' CPU then
    /// goes to the traffic, not to decoding and tasks.
    #[arg(long, conflicts_with = "reconnect")]
    pub no_mirror: bool,
    /// Inputs each player sends per second (the protocol allows 60).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=60))]
    pub input_rate: u32,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Reconnect after a drop as the browser does (keeping the load
    /// balancer's cookie and the player's token, with its backoff) instead
    /// of counting the player as failed.
    #[arg(long)]
    pub reconnect: bool,
}

/// Players one process simulates at most (rooms times players per room).
const MAX_PLAYERS: u32 = 20_000;

/// When each player starts and when counting starts and ends.
#[derive(Clone, Copy)]
pub struct Schedule {
    pub origin: Instant,
    pub join_at: Instant,
    pub counted_from: Instant,
    pub stop: Instant,
}

impl Schedule {
    pub fn counts(&self, at: Instant) -> bool {
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
