//! Prints the crash-safety figures: snapshot size, the copy a room
//! pays on its tick, encode and decode time, and the Redis write per room at
//! 10, 200 and 1000 ships; the hydration of 100 saved rooms; the share of
//! the 60 Hz tick budget snapshots take at the default interval; and, with the
//! real binary, the time from starting a server after a SIGKILL (100 rooms
//! saved) to the first update a reconnecting player receives. Needs
//! redis-server (`make deps`). Figures, not assertions.

#[path = "../tests/common/redis.rs"]
mod redis_server;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use gameserver::client::GameClient;
use gameserver::persist::{
    claim_saved, Acquired, Envelope, Fence, PlayerRecord, RedisStore, SnapshotWriter, StoreOptions,
    Write, WriterOptions,
};
use gameserver::protocol::ServerMessage;
use gameserver::sim::{Input, SimConfig, World, STEPS_PER_SECOND};
use gameserver::token::TokenHash;
use redis_server::RedisServer;

const SIZES: [u32; 3] = [10, 200, 1000];
const HYDRATED_ROOMS: usize = 100;
/// The default SNAPSHOT_INTERVAL_MS.
const INTERVAL: Duration = Duration::from_millis(1000);
const TICK_BUDGET: Duration = Duration::from_nanos(1_000_000_000 / STEPS_PER_SECOND as u64);

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    // The store's connection task needs the runtime.
    let _entered = runtime.enter();
    let redis = RedisServer::start();
    let store = RedisStore::open(&redis.url(), StoreOptions::default()).expect("open store");
    let fence = Fence {
        node: "bench".into(),
        lease_ttl: Duration::from_secs(60),
        presence: None,
    };
    println!("Spaaace snapshot benchmark (release build, redis-server on loopback)");
    println!(
        "{:>6} | {:>9} | {:>9} {:>9} {:>9} {:>9} | {:>12}",
        "ships", "KB", "copy us", "encode us", "decode us", "write us", "tick share %"
    );
    for ships in SIZES {
        let figures = runtime.block_on(snapshot_figures(&store, &fence, ships));
        // Per tick at the default interval: the copy on the tick path plus the
        // encode the writer does on the same two cores.
        let per_tick = (figures.copy + figures.encode).as_secs_f64() / ticks_per_interval();
        println!(
            "{:>6} | {:>9.1} | {:>9.1} {:>9.1} {:>9.1} {:>9.1} | {:>12.4}",
            ships,
            figures.bytes as f64 / 1000.0,
            micros(figures.copy),
            micros(figures.encode),
            micros(figures.decode),
            micros(figures.write),
            100.0 * per_tick / TICK_BUDGET.as_secs_f64(),
        );
    }
    runtime.block_on(async {
        for ships in SIZES {
            let room = format!("bench{ships}");
            let epoch = lease(&store, &fence, &room).await;
            let gone = [Write::Delete {
                room_id: &room,
                epoch,
            }];
            store.write(&fence, &gone).await.expect("DEL");
        }
    });
    let hydration = runtime.block_on(hydration_time(&store, &fence));
    println!(
        "hydration of {HYDRATED_ROOMS} saved rooms (3 bots + 2 players each): {:.1} ms",
        hydration.as_secs_f64() * 1000.0
    );
    let restart = runtime.block_on(restart_to_first_update(&redis));
    println!(
        "process start to first update of a reconnected player, {HYDRATED_ROOMS} rooms saved, after kill -9 (same NODE_ID): {:.0} ms",
        restart.as_secs_f64() * 1000.0
    );
}

struct Figures {
    bytes: usize,
    copy: Duration,
    encode: Duration,
    decode: Duration,
    write: Duration,
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn ticks_per_interval() -> f64 {
    INTERVAL.as_secs_f64() / TICK_BUDGET.as_secs_f64()
}

/// A room of `ships` ships, all bots but two players, flying and firing.
fn busy_room(ships: u32, seed: u64) -> (World, BTreeMap<u32, PlayerRecord>) {
    let mut world = World::new(
        SimConfig {
            bots: ships.saturating_sub(2),
            ..SimConfig::default()
        },
        seed,
    );
    let mut players = BTreeMap::new();
    for i in 0..2 {
        let p = world.add_player(None);
        world.spawn_ship(p);
        let record = PlayerRecord {
            token_hash: TokenHash::of(&format!("token-{seed}-{i}")),
            grace_deadline: None,
        };
        players.insert(p, record);
    }
    let fire = Input {
        up: true,
        left: false,
        right: true,
        fire: true,
    };
    for _ in 0..120 {
        let inputs: Vec<_> = players.keys().map(|&p| (p, fire)).collect();
        world.step(&inputs);
    }
    world.drain_events();
    (world, players)
}

/// Mean of `f` over enough runs to fill about half a second.
fn mean<T>(mut f: impl FnMut() -> T) -> Duration {
    let start = Instant::now();
    let mut runs = 0u32;
    while runs < 5 || start.elapsed() < Duration::from_millis(500) {
        std::hint::black_box(f());
        runs += 1;
    }
    start.elapsed() / runs
}

/// Takes (or takes back) the lease of `room` for the bench's node.
async fn lease(store: &RedisStore, fence: &Fence, room: &str) -> u64 {
    match store.acquire(fence, room, 0, false).await.expect("acquire") {
        Acquired::Won { epoch } => epoch,
        other => panic!("the bench's rooms are its own, got {other:?}"),
    }
}

async fn snapshot_figures(store: &RedisStore, fence: &Fence, ships: u32) -> Figures {
    let (world, players) = busy_room(ships, u64::from(ships));
    let room = format!("bench{ships}");
    let capture = || Envelope::capture(&room, &world, players.clone(), SystemTime::now());
    let envelope = capture();
    let bytes = envelope.encode().expect("encode");
    let copy = mean(capture);
    let encode = mean(|| envelope.encode());
    let decode = mean(|| Envelope::decode(&room, &bytes));
    let write = {
        let batch = [Write::Save {
            room_id: &room,
            value: &bytes,
            epoch: lease(store, fence, &room).await,
        }];
        let start = Instant::now();
        let mut runs = 0u32;
        while runs < 5 || start.elapsed() < Duration::from_millis(500) {
            store.write(fence, &batch).await.expect("SET");
            runs += 1;
        }
        start.elapsed() / runs
    };
    Figures {
        bytes: bytes.len(),
        copy,
        encode,
        decode,
        write,
    }
}

/// Taking 100 saved rooms whose leases are free (a start after a drain).
async fn hydration_time(store: &RedisStore, fence: &Fence) -> Duration {
    let (writer, _task) = SnapshotWriter::spawn(
        store.clone(),
        fence.clone(),
        WriterOptions::default(),
        std::sync::Arc::new(|_, _| {}),
    );
    let mut leases = Vec::new();
    for i in 0..HYDRATED_ROOMS {
        let room = format!("room{i}");
        let epoch = lease(store, fence, &room).await;
        let (world, players) = busy_room(5, i as u64);
        writer
            .submit(Envelope::capture(&room, &world, players, SystemTime::now()).with_epoch(epoch));
        leases.push((room, epoch));
    }
    writer
        .flush(Duration::from_secs(30))
        .await
        .expect("saving the rooms");
    for (room, epoch) in &leases {
        store.release(fence, room, *epoch).await.expect("release");
    }
    let start = Instant::now();
    let hydration = claim_saved(store, fence, Duration::from_secs(30))
        .await
        .expect("hydrate");
    let took = start.elapsed();
    assert_eq!(hydration.rooms.len(), HYDRATED_ROOMS, "rooms went missing");
    took
}

/// Time from starting a server process (after a SIGKILL, 100 rooms saved) to
/// the first update a player reconnecting with its token receives.
async fn restart_to_first_update(redis: &RedisServer) -> Duration {
    // Only this figure's rooms are saved.
    let _: () = redis::cmd("FLUSHALL")
        .query(&mut redis.connection())
        .expect("FLUSHALL");
    let port = free_port();
    let mut first = spawn_server(redis, port);
    let url = format!("ws://127.0.0.1:{port}/ws");
    let mut tokens = Vec::with_capacity(HYDRATED_ROOMS);
    for i in 0..HYDRATED_ROOMS {
        let room = format!("live{i}");
        let client = join_when_up(&url, &room, "").await;
        tokens.push((room, client.view.welcome.token.clone(), client));
    }
    let mut conn = redis.connection();
    let mut saved = || -> usize {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("game_room_live*")
            .query(&mut conn)
            .unwrap_or_default();
        keys.len()
    };
    let start = Instant::now();
    while saved() < HYDRATED_ROOMS {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "rooms were not saved"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = first.kill();
    let _ = first.wait();
    let (room, token, _) = &tokens[0];
    let started = Instant::now();
    let mut second = spawn_server(redis, port);
    let mut client = join_when_up(&url, room, token).await;
    assert!(
        client.view.welcome.resumed,
        "the token did not resume its player"
    );
    client
        .pump_until(Duration::from_secs(30), |_, m| {
            matches!(m, ServerMessage::Update { .. })
        })
        .await
        .expect("an update after the restart");
    let took = started.elapsed();
    let _ = second.kill();
    let _ = second.wait();
    took
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

fn spawn_server(redis: &RedisServer, port: u16) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_gameserver"))
        .env("PORT", port.to_string())
        .env("REDIS_URL", redis.url())
        .env("REDIS_ENABLED", "true")
        .env("MAX_ROOMS", "1000")
        // A restart on the same node id takes its own leases back at once;
        // a new node waits them out (the cluster bench measures that).
        .env("NODE_ID", "bench-restart")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the gameserver binary")
}

/// Joins as soon as the server takes players (retrying every 2 ms).
async fn join_when_up(url: &str, room: &str, token: &str) -> GameClient {
    let start = Instant::now();
    loop {
        match GameClient::join(url, room, "", token).await {
            Ok(client) => return client,
            Err(e) => {
                assert!(
                    start.elapsed() < Duration::from_secs(30),
                    "could not join {room}: {e}"
                );
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    }
}
