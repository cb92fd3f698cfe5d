//! Load benchmark of the real server binary (release build): R rooms of P
//! players (3 bots each), played by separate `spaaace-load` processes at 30
//! inputs/s, the server sending 20 updates/s. Prints per size the server's
//! CPU per player-second and per room-second (user + system time from
//! /proc/PID/stat over the measured window, not wall time), the steps per
//! second each room held, ticks skipped and updates dropped (from /metrics),
//! the update lateness the players measured (`client::lateness`), and the
//! players' own CPU, which shares this machine's cores with the server.
//!
//!     cargo bench -p gameserver --bench load                  # every size
//!     cargo bench -p gameserver --bench load -- 100x32        # one size
//!     cargo bench -p gameserver --bench load -- relay-10x32   # two nodes
//!     cargo bench -p gameserver --bench load -- --url ws://HOST:PORT/ws [--pid PID] 10x32
//!     cargo bench -p gameserver --bench load -- --compare OLD/gameserver 10x32
//!
//! `--compare` runs each size on another build of the server, then on this
//! one, `--rounds` times in turn, and prints the median ratio: on a machine
//! whose other work comes and goes, compare builds within one run.
//!
//! `relay-RxP`: two nodes on a redis-server; one player of each room joins
//! the first node (which then owns the room) and the other P-1 the second
//! node, which relays them. Figures, not assertions: on a shared machine
//! read them as ratios within one run.

mod crowd;
mod probe;
#[path = "../../tests/common/redis.rs"]
mod redis_server;
mod relay;
mod server;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Parser;

use crowd::{LoadPlan, LoadReport, Loader};
use probe::Counters;
use server::Server;

const DEFAULT_SIZES: [&str; 5] = ["20x1", "10x32", "100x32", "300x32", "relay-10x32"];
/// spaaace-load's default input rate and the server's default update rate.
const INPUTS_PER_SECOND: f64 = 30.0;
const UPDATES_PER_SECOND: f64 = 20.0;
/// Below this share of the rate they should hold, the players were the limit.
const HELD: f64 = 0.95;
/// Limits well above every size, so that none refuses a player.
const SERVER_LIMITS: [(&str, &str); 2] = [("MAX_ROOMS", "5000"), ("MAX_CONNECTIONS", "50000")];

#[derive(Parser, Debug)]
#[command(name = "load", about = "Load benchmark of the game server binary")]
struct Args {
    /// Sizes as ROOMSxPLAYERS (players per room), or relay-ROOMSxPLAYERS.
    sizes: Vec<String>,
    /// A running server's WebSocket endpoint instead of one started here.
    #[arg(long)]
    url: Option<String>,
    /// That server's process id, for its CPU time (same machine only).
    #[arg(long, requires = "url")]
    pid: Option<u32>,
    /// Measured seconds per size.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// spaaace-load processes per size (fewer for small sizes).
    #[arg(long, default_value_t = 2)]
    loaders: u32,
    /// Another build's gameserver binary, run before this one at each size.
    #[arg(long, conflicts_with = "url")]
    compare: Option<PathBuf>,
    /// The server alone on CPU 0 and the players on the others: the server
    /// has one core of this machine, as a node at half its CPU would.
    #[arg(long, conflicts_with = "url")]
    pin: bool,
    /// With --compare: how many times each build runs each size, in turn.
    #[arg(long, default_value_t = 1, requires = "compare")]
    rounds: u32,
    /// Passed by `cargo bench`.
    #[arg(long, hide = true)]
    bench: bool,
}

#[derive(Clone, Copy, Debug)]
pub struct Size {
    rooms: u32,
    players: u32,
    relay: bool,
}

impl Size {
    fn parse(raw: &str) -> Option<Size> {
        let (relay, dims) = match raw.strip_prefix("relay-") {
            Some(dims) => (true, dims),
            None => (false, raw),
        };
        let (rooms, players) = dims.split_once('x')?;
        let size = Size {
            rooms: rooms.parse().ok()?,
            players: players.parse().ok()?,
            relay,
        };
        (size.rooms > 0 && size.players > 0 && (!relay || size.players > 1)).then_some(size)
    }

    fn label(&self) -> String {
        let prefix = if self.relay { "relay-" } else { "" };
        format!("{prefix}{}x{}", self.rooms, self.players)
    }

    fn total(&self) -> u32 {
        self.rooms * self.players
    }

    /// Long enough for every player to join (they are spread over its first half).
    fn warmup(&self) -> u64 {
        3 + u64::from(self.total() / 1000)
    }
}

fn main() {
    let args = Args::parse();
    let raw: Vec<String> = if args.sizes.is_empty() {
        DEFAULT_SIZES.iter().map(|s| s.to_string()).collect()
    } else {
        args.sizes.clone()
    };
    let sizes: Vec<Size> = raw
        .iter()
        .map(|s| {
            Size::parse(s)
                .unwrap_or_else(|| panic!("size {s:?} is not ROOMSxPLAYERS or relay-ROOMSxPLAYERS"))
        })
        .collect();
    println!(
        "Spaaace load benchmark: {} cores, {} s measured per size, players from spaaace-load ({INPUTS_PER_SECOND} inputs/s, updates skimmed)",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        args.seconds
    );
    let (single, relayed): (Vec<Size>, Vec<Size>) = sizes.iter().partition(|s| !s.relay);
    let builds: Vec<(&str, PathBuf)> = match &args.compare {
        Some(old) => vec![("before", old.clone()), ("after", server::this_build())],
        None => vec![("", server::this_build())],
    };
    if !single.is_empty() {
        print_header();
        for size in single {
            let mut ratios = Vec::new();
            for _ in 0..args.rounds.max(1) {
                let rows: Vec<Row> = builds
                    .iter()
                    .map(|(name, binary)| measure(&args, size, name, binary))
                    .collect();
                for row in &rows {
                    row.print();
                }
                if let [before, after] = &rows[..] {
                    ratios.extend(ratio(before, after));
                }
            }
            print_ratio(size, &mut ratios);
        }
        print_legend();
    }
    for size in relayed {
        if args.url.is_some() {
            println!(
                "{}: skipped (a relay run starts its own two nodes)",
                size.label()
            );
            continue;
        }
        for (name, binary) in &builds {
            relay::measure(&args, size, binary).print(name);
        }
    }
}

/// A server to measure: one started here, or the one at `--url`.
struct Target {
    url: String,
    /// host:port for /metrics.
    addr: String,
    pid: Option<u32>,
    _own: Option<Server>,
}

impl Target {
    fn new(args: &Args, binary: &Path) -> Target {
        match &args.url {
            Some(url) => Target {
                addr: host_port(url),
                url: url.clone(),
                pid: args.pid,
                _own: None,
            },
            None => {
                let server = Server::start(binary, &SERVER_LIMITS, server_cpus(args));
                Target {
                    url: server.ws_url(),
                    addr: server.addr(),
                    pid: Some(server.pid()),
                    _own: Some(server),
                }
            }
        }
    }
}

/// ws://host:port/path -> host:port
fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest).to_string()
}

/// CPU time, counters and the moment, at one end of the measured window.
pub struct Sample {
    at: Instant,
    server: Option<Duration>,
    /// The server's resident memory, MiB.
    rss: Option<f64>,
    loaders: Duration,
    counters: Counters,
}

impl Sample {
    fn take(addr: &str, server: Option<u32>, loaders: &[u32]) -> Sample {
        Sample {
            at: Instant::now(),
            server: server.and_then(probe::cpu_time),
            rss: server.and_then(probe::resident_mib),
            loaders: loaders.iter().filter_map(|&p| probe::cpu_time(p)).sum(),
            counters: Counters::read(addr).unwrap_or_default(),
        }
    }
}

/// One size's figures.
struct Row {
    label: String,
    /// Which build, with --compare.
    build: String,
    rooms: u32,
    joined: u32,
    seconds: f64,
    /// Cores the server used over the window; None without its pid.
    server_cores: Option<f64>,
    rss: Option<f64>,
    loader_cores: f64,
    grew: Counters,
    players: LoadReport,
    load: f64,
}

fn measure(args: &Args, size: Size, build: &str, binary: &Path) -> Row {
    let target = Target::new(args, binary);
    let before = Counters::read(&target.addr).unwrap_or_default();
    let started = Instant::now();
    let loaders: Vec<Loader> = crowd::split(size.rooms, loaders_for(args, size))
        .into_iter()
        .enumerate()
        .map(|(i, rooms)| {
            Loader::spawn(&LoadPlan {
                url: &target.url,
                room: format!("b{}-{i}", size.label()),
                rooms,
                players_per_room: size.players,
                warmup: size.warmup(),
                seconds: args.seconds + 2,
                cpus: player_cpus(args).as_deref(),
            })
        })
        .collect();
    let pids: Vec<u32> = loaders.iter().map(Loader::pid).collect();
    wait_for_players(
        &target.addr,
        before.players + f64::from(size.total()),
        started,
        size.warmup(),
    );
    let first = Sample::take(&target.addr, target.pid, &pids);
    std::thread::sleep(Duration::from_secs(args.seconds));
    let last = Sample::take(&target.addr, target.pid, &pids);
    let reports: Vec<LoadReport> = loaders.into_iter().filter_map(Loader::finish).collect();
    let build = if args.pin {
        format!("{build} pin").trim().to_string()
    } else {
        build.to_string()
    };
    Row::new(size, &build, &first, &last, crowd::merge(&reports))
}

/// With --pin: the server's CPU.
fn server_cpus(args: &Args) -> Option<&'static str> {
    args.pin.then_some("0")
}

/// With --pin: every CPU but the server's.
fn player_cpus(args: &Args) -> Option<String> {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    args.pin.then(|| format!("1-{}", cores.max(2) - 1))
}

fn loaders_for(args: &Args, size: Size) -> u32 {
    if size.total() < 64 {
        1
    } else {
        args.loaders.max(1)
    }
}

/// Until the server counts `players` and the warm-up is over; a server
/// that never gets them all is measured with those it has.
pub fn wait_for_players(addr: &str, players: f64, started: Instant, warmup: u64) {
    let warm = started + Duration::from_secs(warmup);
    let limit = warm + Duration::from_secs(2);
    loop {
        let now = Instant::now();
        let counted = Counters::read(addr).map_or(0.0, |c| c.players);
        if now >= warm && (counted >= players || now >= limit) {
            if counted < players {
                println!("  (only {counted} of {players} players joined in time)");
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Row {
    fn new(size: Size, build: &str, first: &Sample, last: &Sample, players: LoadReport) -> Row {
        let seconds = last.at.duration_since(first.at).as_secs_f64();
        let cores = |a: Duration, b: Duration| b.saturating_sub(a).as_secs_f64() / seconds;
        Row {
            label: size.label(),
            build: build.to_string(),
            rooms: size.rooms,
            joined: players.joined,
            seconds,
            server_cores: first.server.zip(last.server).map(|(a, b)| cores(a, b)),
            rss: last.rss,
            loader_cores: cores(first.loaders, last.loaders),
            grew: last.counters.since(&first.counters),
            players,
            load: probe::load_average(),
        }
    }

    fn print(&self) {
        // Cores are CPU-seconds per second: per player (room) and second, in ms.
        let per = |n: u32| {
            self.server_cores
                .map_or(f64::NAN, |c| c * 1000.0 / f64::from(n.max(1)))
        };
        let room_seconds = f64::from(self.rooms) * self.seconds;
        let inputs = self.players.inputs_sent as f64 / self.players.player_seconds.max(1.0);
        let updates = self.players.updates as f64 / self.players.player_seconds.max(1.0);
        let lateness = &self.players.lateness.histogram;
        let steps = self.grew.steps / room_seconds;
        let limited = limit_of(steps, self.server_cores, self.loader_cores, inputs, updates);
        println!(
            "{:<16} {:>7} {:>8.1}% {:>6.0} {:>9.3} {:>9.3} {:>7.1} {:>7} {:>7} {:>5.1} {:>5.1} {:>6.2} {:>6.2} {:>8.1}% {:>5.1}  {}",
            format!("{} {}", self.label, self.build),
            self.joined,
            self.server_cores.map_or(f64::NAN, |c| c * 100.0),
            self.rss.unwrap_or(f64::NAN),
            per(self.joined),
            per(self.rooms),
            steps,
            self.grew.ticks_skipped,
            self.grew.updates_dropped,
            inputs,
            updates,
            lateness.quantile_ms(0.5),
            lateness.quantile_ms(0.99),
            self.loader_cores * 100.0,
            self.load,
            limited,
        );
    }
}

/// Who held the figures back, if anyone.
pub fn limit_of(
    steps: f64,
    server: Option<f64>,
    loaders: f64,
    inputs: f64,
    updates: f64,
) -> &'static str {
    let cores = std::thread::available_parallelism().map_or(2.0, |n| n.get() as f64);
    let full = server.unwrap_or(0.0) + loaders > 0.9 * cores;
    let short = inputs < HELD * INPUTS_PER_SECOND || updates < HELD * UPDATES_PER_SECOND;
    match (full, steps < HELD * 60.0, short) {
        (true, true, _) => "machine full: server behind",
        (true, false, true) => "machine full: players fell short",
        (true, false, false) => "machine full",
        (false, true, _) => "server behind",
        (false, false, true) => "players fell short",
        (false, false, false) => "",
    }
}

/// The CPU the later build needs for the same work, as a share of the earlier one's.
fn ratio(before: &Row, after: &Row) -> Option<f64> {
    let per = |row: &Row| row.server_cores.map(|c| c / f64::from(row.joined.max(1)));
    per(after).zip(per(before)).map(|(a, b)| a / b)
}

fn print_ratio(size: Size, ratios: &mut [f64]) {
    if ratios.is_empty() {
        return;
    }
    ratios.sort_by(f64::total_cmp);
    let all: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
    println!(
        "{:<16} CPU per player-second after/before: median {:.2} (of {})",
        size.label(),
        ratios[ratios.len() / 2],
        all.join(", ")
    );
}

fn print_header() {
    println!();
    println!(
        "{:<16} {:>7} {:>9} {:>6} {:>9} {:>9} {:>7} {:>7} {:>7} {:>5} {:>5} {:>6} {:>6} {:>9} {:>5}  limit",
        "size",
        "players",
        "server",
        "MiB",
        "ms/pl-s",
        "ms/room-s",
        "steps/s",
        "skipped",
        "dropped",
        "in/s",
        "upd/s",
        "p50 ms",
        "p99 ms",
        "pl. CPU",
        "load",
    );
}

fn print_legend() {
    println!();
    println!("size: rooms x players per room (3 bots each). server: its CPU (user + system, /proc) over the window, % of one core.");
    println!("MiB: the server's resident memory at the end of the window.");
    println!("ms/pl-s, ms/room-s: that CPU per player-second and per room-second (each includes everything the server did).");
    println!("steps/s: steps per room and second (60 = held). skipped: ticks skipped, dropped: updates dropped, in the window.");
    println!("in/s, upd/s: inputs sent and updates received per player and second, as the players counted them.");
    println!("p50/p99: update lateness at the players: arrival minus the step's place in the room's 60 Hz schedule,");
    println!("  less that of the fastest update of the second that follows (so a skipped tick is not lateness).");
    println!("pl. CPU: CPU of the spaaace-load processes, % of one core. load: 1-minute load average after the window.");
    println!("pin: with --pin, the server alone on CPU 0 and the players on the others.");
    println!("limit: 'machine full' when server and players used over 90 % of the cores together; 'server behind'");
    println!("  when rooms held under {HELD} of 60 steps/s (the server lacked CPU: its figures are what it managed, not");
    println!("  what the size needs); 'players fell short' when the players sent or received under {HELD} of their rates.");
}
