//! Prints the figures of rooms across nodes, with real gameserver processes
//! on a real redis-server over loopback: how much later an update reaches a
//! relayed player than a local one; Redis commands and bytes per room and
//! second with and without relayed players; and the time from kill -9 of a
//! room's owner to the first update a relayed player receives from the new
//! owner. Needs redis-server (`make deps`). Figures, not assertions: on a
//! shared machine read them as ratios.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/common/redis.rs"]
mod redis_server;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use common::cluster::Node;
use gameserver::client::GameClient;
use gameserver::protocol::{ServerMessage, UpdateKind};
use gameserver::sim::Input;
use redis_server::RedisServer;
use tokio::task::JoinHandle;

const LATENCY_WINDOW: Duration = Duration::from_secs(20);
const COST_WINDOW: Duration = Duration::from_secs(10);
const COST_ROOMS: usize = 10;
const TAKEOVERS: usize = 5;
const LEASE_TTL_MS: u64 = 3000;
/// The commands nodes send themselves (the others run inside the lease scripts).
const SENT: [&str; 9] = [
    "evalsha",
    "eval",
    "publish",
    "subscribe",
    "unsubscribe",
    "role",
    "ping",
    "scan",
    "mget",
];

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    println!("Spaaace cluster benchmark (gameserver processes and redis-server on loopback)");
    let only = std::env::args().nth(1).filter(|a| !a.starts_with('-'));
    let wanted = |part: &str| only.as_deref().is_none_or(|o| o == part);
    if wanted("latency") {
        runtime.block_on(relay_latency());
    }
    if wanted("cost") {
        runtime.block_on(redis_cost());
    }
    if wanted("takeover") {
        runtime.block_on(takeover());
    }
}

/// A player that reads everything and notes when each update arrived.
fn listen(mut client: GameClient, until: Instant) -> JoinHandle<Vec<(u32, UpdateKind, Instant)>> {
    tokio::spawn(async move {
        let mut seen = Vec::new();
        while Instant::now() < until {
            let Ok(Ok(m)) = tokio::time::timeout(Duration::from_millis(200), client.pump()).await
            else {
                continue;
            };
            if let ServerMessage::Update { body, .. } = m {
                seen.push((body.step, body.kind, Instant::now()));
            }
        }
        seen
    })
}

/// A player that also steers, `per_second` inputs a second.
fn play(mut client: GameClient, until: Instant, per_second: u32) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1) / per_second);
        let input = Input {
            up: true,
            right: true,
            ..Input::default()
        };
        while Instant::now() < until {
            tokio::select! {
                _ = tick.tick() => { let _ = client.send_input(input).await; }
                m = client.pump() => if m.is_err() { return },
            }
        }
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

/// Arrival of the same updates (by step) at two players, the second minus the first, in ms.
fn gaps(first: &[(u32, UpdateKind, Instant)], second: &[(u32, UpdateKind, Instant)]) -> Vec<f64> {
    let at: HashMap<u32, Instant> = first.iter().map(|(s, _, t)| (*s, *t)).collect();
    let mut gaps: Vec<f64> = second
        .iter()
        .filter_map(|(s, _, t)| {
            let a = at.get(s)?;
            Some((t.duration_since(*a).as_secs_f64() - a.duration_since(*t).as_secs_f64()) * 1e3)
        })
        .collect();
    gaps.sort_by(f64::total_cmp);
    gaps
}

async fn relay_latency() {
    let redis = RedisServer::start();
    let fast = [("UPDATE_RATE", "60"), ("BOTS", "10")];
    let a = Node::start(&redis.url(), "bench-a", &fast);
    let b = Node::start(&redis.url(), "bench-b", &fast);
    let local = GameClient::join(&a.ws_url(), "latency", "", "")
        .await
        .unwrap();
    let also_local = GameClient::join(&a.ws_url(), "latency", "", "")
        .await
        .unwrap();
    let relayed = GameClient::join(&b.ws_url(), "latency", "", "")
        .await
        .unwrap();
    let until = Instant::now() + LATENCY_WINDOW;
    let (local, also_local, relayed) = (
        listen(local, until),
        listen(also_local, until),
        listen(relayed, until),
    );
    let (local, also_local, relayed) = (
        local.await.unwrap(),
        also_local.await.unwrap(),
        relayed.await.unwrap(),
    );
    let relay = gaps(&local, &relayed);
    let floor = gaps(&local, &also_local);
    println!(
        "\nupdate arrival, relayed player minus local player, same update ({} updates at 60/s):",
        relay.len()
    );
    for (who, gaps) in [("relayed", &relay), ("second local", &floor)] {
        println!(
            "  {who:>12}: p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            percentile(gaps, 0.5),
            percentile(gaps, 0.9),
            percentile(gaps, 0.99),
            percentile(gaps, 1.0),
        );
    }
}

/// Redis's own counters: calls per command, bytes in and out.
fn redis_counters(redis: &RedisServer) -> BTreeMap<String, u64> {
    let info: String = redis::cmd("INFO")
        .arg("everything")
        .query(&mut redis.connection())
        .unwrap();
    let mut counters = BTreeMap::new();
    for line in info.lines() {
        if let Some((name, rest)) = line
            .strip_prefix("cmdstat_")
            .and_then(|l| l.split_once(':'))
        {
            let calls = rest
                .split(',')
                .find_map(|kv| kv.strip_prefix("calls="))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            counters.insert(name.to_string(), calls);
        } else if let Some((key, value)) = line.split_once(':') {
            if matches!(key, "total_net_input_bytes" | "total_net_output_bytes") {
                counters.insert(key.to_string(), value.trim().parse().unwrap_or(0));
            }
        }
    }
    counters
}

fn delta(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, v)| *v > 0)
        .collect()
}

async fn redis_cost() {
    println!(
        "\nRedis per room and second ({COST_ROOMS} rooms, 3 bots each, players sending 30 inputs/s, {}s window):",
        COST_WINDOW.as_secs()
    );
    println!(
        "  {:<34} {:>9} {:>9} {:>9} {:>10} {:>10}",
        "", "commands", "evalsha", "publish", "bytes in", "bytes out"
    );
    for relayed in [false, true] {
        let redis = RedisServer::start();
        // The default snapshot interval, as in production.
        let settings = [("BOTS", "3"), ("SNAPSHOT_INTERVAL_MS", "1000")];
        let a = Node::start(&redis.url(), "cost-a", &settings);
        let b = relayed.then(|| Node::start(&redis.url(), "cost-b", &settings));
        let until = Instant::now() + COST_WINDOW + Duration::from_secs(3);
        let mut players = Vec::new();
        for room in 0..COST_ROOMS {
            let room = format!("cost{room}");
            let client = GameClient::join(&a.ws_url(), &room, "", "").await.unwrap();
            players.push(play(client, until, 30));
            if let Some(b) = &b {
                let client = GameClient::join(&b.ws_url(), &room, "", "").await.unwrap();
                players.push(play(client, until, 30));
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (before, written, renewed) = (
            redis_counters(&redis),
            a.metric("spaaace_snapshots_written_total"),
            a.metric("spaaace_lease_renewals_total"),
        );
        tokio::time::sleep(COST_WINDOW).await;
        let d = delta(&before, &redis_counters(&redis));
        let per = |v: u64| v as f64 / COST_ROOMS as f64 / COST_WINDOW.as_secs_f64();
        let per_f = |v: f64| v / COST_ROOMS as f64 / COST_WINDOW.as_secs_f64();
        // Commands inside scripts count in Redis's stats too; these are the ones
        // nodes send.
        let commands: u64 = d
            .iter()
            .filter(|(k, _)| SENT.contains(&k.as_str()))
            .map(|(_, v)| v)
            .sum();
        let label = if relayed {
            "one local + one relayed player"
        } else {
            "one local player, no relay"
        };
        println!(
            "  {:<34} {:>9.1} {:>9.1} {:>9.1} {:>10.0} {:>10.0}",
            label,
            per(commands),
            per(d.get("evalsha").copied().unwrap_or(0)),
            per(d.get("publish").copied().unwrap_or(0)),
            per(d.get("total_net_input_bytes").copied().unwrap_or(0)),
            per(d.get("total_net_output_bytes").copied().unwrap_or(0)),
        );
        println!(
            "  {:<34} snapshot writes {:.1}, lease renewals {:.1}; all commands: {:?}",
            "",
            per_f(a.metric("spaaace_snapshots_written_total") - written),
            per_f(a.metric("spaaace_lease_renewals_total") - renewed),
            d.iter()
                .filter(|(k, _)| !k.starts_with("total_net"))
                .collect::<Vec<_>>(),
        );
        for p in players {
            let _ = p.await;
        }
    }
}

async fn takeover() {
    let mut runs = Vec::with_capacity(TAKEOVERS);
    let ttl = LEASE_TTL_MS.to_string();
    for run in 0..TAKEOVERS {
        let redis = RedisServer::start();
        let settings = [("LEASE_TTL_MS", ttl.as_str())];
        let mut a = Node::start(&redis.url(), &format!("owner-{run}"), &settings);
        let b = Node::start(&redis.url(), &format!("survivor-{run}"), &settings);
        // A node judges another's presence once its own has been steady
        // this long (a lease, at most 5 s): the kill comes after that.
        let steady = Instant::now() + Duration::from_millis(LEASE_TTL_MS.min(5000));
        let local = GameClient::join(&a.ws_url(), "takeover", "", "")
            .await
            .unwrap();
        let relayed = GameClient::join(&b.ws_url(), "takeover", "", "")
            .await
            .unwrap();
        // Kill at a point of the renewal cycle that is not always the same.
        let kill_at = steady.max(Instant::now() + Duration::from_millis(1500))
            + Duration::from_millis(211 * run as u64);
        let until = kill_at + Duration::from_secs(LEASE_TTL_MS / 1000 + 5);
        let _local = play(local, until, 30);
        let listener = listen(relayed, until);
        tokio::time::sleep_until(kill_at.into()).await;
        let killed = Instant::now();
        a.server.kill();
        let seen = listener.await.unwrap();
        let first = seen
            .iter()
            .find(|(_, kind, at)| *at > killed && *kind == UpdateKind::Full)
            .map(|(_, _, at)| at.duration_since(killed));
        match first {
            Some(took) => runs.push(took),
            None => println!("  run {run}: no update from a new owner"),
        }
    }
    runs.sort();
    let ms: Vec<String> = runs.iter().map(|d| format!("{}", d.as_millis())).collect();
    println!(
        "\nkill -9 of the owner to the first update from the new owner at a relayed player (lease TTL {LEASE_TTL_MS} ms, target {} ms):",
        LEASE_TTL_MS + 300
    );
    println!(
        "  runs (ms, sorted): {}; median {} ms",
        ms.join(", "),
        runs.get(runs.len() / 2).map_or(0, |d| d.as_millis())
    );
}
