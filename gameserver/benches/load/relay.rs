//! relay-RxP: two nodes on one redis-server (default snapshot interval and
//! bots). One player of each room joins node a, which then owns the room;
//! the other P-1 join node b, which relays them to a over Redis pub/sub.
//! Prints each process's CPU and the lateness of local and relayed players.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::crowd::{self, LoadPlan, LoadReport, Loader};
use crate::probe::{self, Counters};
use crate::redis_server::RedisServer;
use crate::server::Server;
use crate::{limit_of, wait_for_players, Args, Size, SERVER_LIMITS};

/// How long node a gets to take every room.
const OWN_LIMIT: Duration = Duration::from_secs(30);

pub struct RelayRow {
    size: Size,
    seconds: f64,
    owner_cores: f64,
    relay_cores: f64,
    redis_cores: f64,
    loader_cores: f64,
    owner: Counters,
    relay: Counters,
    local: LoadReport,
    relayed: LoadReport,
    load: f64,
}

struct Pids {
    owner: u32,
    relay: u32,
    redis: u32,
    loaders: [u32; 2],
}

struct RelaySample {
    at: Instant,
    cpu: [Duration; 4],
    owner: Counters,
    relay: Counters,
}

impl RelaySample {
    fn take(pids: &Pids, a: &Server, b: &Server) -> RelaySample {
        let cpu = |pid| probe::cpu_time(pid).unwrap_or_default();
        RelaySample {
            at: Instant::now(),
            cpu: [
                cpu(pids.owner),
                cpu(pids.relay),
                cpu(pids.redis),
                cpu(pids.loaders[0]) + cpu(pids.loaders[1]),
            ],
            owner: Counters::read(&a.addr()).unwrap_or_default(),
            relay: Counters::read(&b.addr()).unwrap_or_default(),
        }
    }
}

/// A node on `redis`, with the defaults of a deployment otherwise.
fn node(binary: &Path, redis: &str, id: &str) -> Server {
    let mut env = vec![
        ("REDIS_ENABLED", "true"),
        ("REDIS_URL", redis),
        ("NODE_ID", id),
    ];
    env.extend_from_slice(&SERVER_LIMITS);
    Server::start(binary, &env, None)
}

pub fn measure(args: &Args, size: Size, binary: &Path) -> RelayRow {
    let redis = RedisServer::start();
    let a = node(binary, &redis.url(), "load-a");
    let b = node(binary, &redis.url(), "load-b");
    let owners = Loader::spawn(&LoadPlan {
        url: &a.ws_url(),
        room: "relay".into(),
        rooms: size.rooms,
        players_per_room: 1,
        warmup: 2,
        seconds: size.warmup() + args.seconds + 10,
        cpus: None,
    });
    let asked = Instant::now();
    while !Counters::read(&a.addr()).is_some_and(|c| c.rooms_owned >= f64::from(size.rooms)) {
        assert!(
            asked.elapsed() < OWN_LIMIT,
            "node a did not take every room"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let started = Instant::now();
    let relayed = Loader::spawn(&LoadPlan {
        url: &b.ws_url(),
        room: "relay".into(),
        rooms: size.rooms,
        players_per_room: size.players - 1,
        warmup: size.warmup(),
        seconds: args.seconds + 2,
        cpus: None,
    });
    wait_for_players(&a.addr(), f64::from(size.total()), started, size.warmup());
    let pids = Pids {
        owner: a.pid(),
        relay: b.pid(),
        redis: redis.pid().expect("redis-server runs"),
        loaders: [owners.pid(), relayed.pid()],
    };
    let first = RelaySample::take(&pids, &a, &b);
    std::thread::sleep(Duration::from_secs(args.seconds));
    let last = RelaySample::take(&pids, &a, &b);
    let relayed = crowd::merge(&relayed.finish().into_iter().collect::<Vec<_>>());
    let local = crowd::merge(&owners.finish().into_iter().collect::<Vec<_>>());
    let seconds = last.at.duration_since(first.at).as_secs_f64();
    let cores = |i: usize| last.cpu[i].saturating_sub(first.cpu[i]).as_secs_f64() / seconds;
    RelayRow {
        size,
        seconds,
        owner_cores: cores(0),
        relay_cores: cores(1),
        redis_cores: cores(2),
        loader_cores: cores(3),
        owner: last.owner.since(&first.owner),
        relay: last.relay.since(&first.relay),
        local,
        relayed,
        load: probe::load_average(),
    }
}

impl RelayRow {
    pub fn print(&self, build: &str) {
        let (rooms, players) = (self.size.rooms, self.size.players);
        let all = f64::from(self.local.joined + self.relayed.joined);
        let relayed = f64::from(self.relayed.joined);
        // Cores are CPU-seconds per second: per player and second, in ms.
        let ms = |cores: f64, players: f64| cores * 1000.0 / players.max(1.0);
        println!();
        println!(
            "{} {build}: {rooms} rooms; 1 player each on node a (owner), {} on node b (relay); {} and {} joined",
            self.size.label(),
            players - 1,
            self.local.joined,
            self.relayed.joined
        );
        println!("  {:<22} {:>8} {:>12}", "process", "CPU", "ms/pl-s");
        let rows = [
            ("node a (owner)", self.owner_cores, all, "of every player"),
            (
                "node b (relay)",
                self.relay_cores,
                relayed,
                "of its relayed players",
            ),
            (
                "redis-server",
                self.redis_cores,
                relayed,
                "of the relayed players",
            ),
            (
                "all three",
                self.owner_cores + self.relay_cores + self.redis_cores,
                all,
                "of every player",
            ),
        ];
        for (name, cores, per, what) in rows {
            println!(
                "  {name:<22} {:>7.1}% {:>12.3}  per player-second {what}",
                cores * 100.0,
                ms(cores, per)
            );
        }
        let room_seconds = f64::from(rooms) * self.seconds;
        let steps = self.owner.steps / room_seconds;
        println!(
            "  steps/s {steps:.1}, skipped {}, updates dropped {} (a) {} (b), relay messages dropped {}",
            self.owner.ticks_skipped,
            self.owner.updates_dropped,
            self.relay.updates_dropped,
            self.owner.relay_dropped + self.relay.relay_dropped
        );
        for (who, report) in [("local", &self.local), ("relayed", &self.relayed)] {
            let h = &report.lateness.histogram;
            let ps = report.player_seconds.max(1.0);
            let (inputs, updates) = (report.inputs_sent as f64 / ps, report.updates as f64 / ps);
            println!(
                "  {who:<8} players: update lateness p50 {:.2} ms, p99 {:.2} ms; {inputs:.1} inputs/s, {updates:.1} updates/s each",
                h.quantile_ms(0.5),
                h.quantile_ms(0.99)
            );
        }
        let ps = self.relayed.player_seconds.max(1.0);
        let (inputs, updates) = (
            self.relayed.inputs_sent as f64 / ps,
            self.relayed.updates as f64 / ps,
        );
        let server = self.owner_cores + self.relay_cores + self.redis_cores;
        println!(
            "  players' CPU {:.1}%, load average {:.1} {}",
            self.loader_cores * 100.0,
            self.load,
            limit_of(steps, Some(server), self.loader_cores, inputs, updates)
        );
    }
}
