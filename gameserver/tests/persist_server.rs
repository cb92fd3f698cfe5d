//! Crash safety of the real `gameserver` binary with a real redis-server:
//! kill -9 and resume, SIGTERM's final snapshot, a Redis outage, a corrupt
//! snapshot, hydration switched off.

mod common;
#[path = "common/redis.rs"]
mod redis_server;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{saved_room, GameServer};
use gameserver::client::{Event, GameClient};
use gameserver::persist::{quarantine_key, room_key, Envelope};
use gameserver::protocol::{close, ServerMessage};
use gameserver::sim::{Input, World};
use redis::Commands;
use redis_server::RedisServer;

/// Bound on any wait that should take well under a second.
const LIMIT: Duration = Duration::from_secs(20);

const FIRE_THRUST: Input = Input {
    up: true,
    left: false,
    right: true,
    fire: true,
};

fn start_server(redis: &RedisServer, extra: &[(&str, &str)]) -> GameServer {
    start_server_logged(redis, extra, None)
}

/// With `log`, the server's info-level log goes to that file.
fn start_server_logged(
    redis: &RedisServer,
    extra: &[(&str, &str)],
    log: Option<&Path>,
) -> GameServer {
    let url = redis.url();
    let mut envs = vec![
        ("REDIS_ENABLED", "true"),
        ("REDIS_URL", url.as_str()),
        ("SNAPSHOT_INTERVAL_MS", "200"),
        ("BOTS", "4"),
    ];
    envs.extend_from_slice(extra);
    let server = match log {
        Some(log) => {
            envs.push(("RUST_LOG", "info"));
            GameServer::start_logged(&[], &envs, log)
        }
        None => GameServer::start(&[], &envs),
    };
    wait_for(
        || http_get(server.port, "/ready").0 == 200,
        "the server to be ready",
    );
    server
}

/// Polls `done` every 20 ms for at most LIMIT (a bound, not a timing assertion).
fn wait_for(mut done: impl FnMut() -> bool, what: &str) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < LIMIT, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn http_get(port: u16, path: &str) -> (u16, String) {
    common::try_get(port, path)
}

fn signal(server: &GameServer, name: &str) {
    let status = Command::new("kill")
        .args([name, &server.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {name} failed");
}

fn saved(redis: &RedisServer, room: &str) -> Option<Envelope> {
    let value: Option<Vec<u8>> = redis.connection().get(room_key(room)).ok()?;
    value.map(|v| Envelope::decode(room, &v).expect("the server's own snapshot decodes"))
}

fn log_path(test: &str) -> PathBuf {
    std::env::temp_dir().join(format!("spaaace-{test}-{}.log", std::process::id()))
}

fn read_log(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("read the server log");
    let _ = std::fs::remove_file(path);
    text
}

fn json(world: &World) -> String {
    serde_json::to_string(world).unwrap()
}

/// The saved world stepped on without inputs to `step`, as a restored room runs until players return.
fn replay(saved: &World, step: u64) -> World {
    let mut world = saved.clone();
    assert!(world.step_count() <= step, "the server went back in time");
    while world.step_count() < step {
        world.step(&[]);
    }
    world
}

async fn play_a_little(c: &mut GameClient) {
    let mut last = 0;
    for _ in 0..5 {
        last = c.send_input(FIRE_THRUST).await.unwrap();
    }
    c.pump_until(LIMIT, |v, m| {
        matches!(m, ServerMessage::Update { .. }) && v.last_input_seq >= last
    })
    .await
    .expect("inputs were never acknowledged");
}

#[tokio::test]
async fn kill_9_then_restart_resumes_every_room_exactly_and_gives_players_their_ships() {
    let redis = RedisServer::start();
    let mut first = start_server(&redis, &[]);
    let rooms = ["alpha", "beta", "gamma"];
    let mut players = Vec::new();
    for room in rooms {
        for name in ["Ann", "Bob"] {
            let mut c = GameClient::join(&first.ws_url(), room, name, "")
                .await
                .unwrap();
            play_a_little(&mut c).await;
            players.push((room, c.player_id(), c.view.welcome.token.clone()));
        }
    }
    wait_for(
        || {
            rooms
                .iter()
                .all(|r| saved(&redis, r).is_some_and(|e| e.players.len() == 2))
        },
        "every room's snapshot to list both players",
    );
    // Frozen, nothing more reaches Redis: what is there is what a crash leaves.
    signal(&first, "-STOP");
    let last: HashMap<&str, Envelope> = rooms
        .iter()
        .map(|r| (*r, saved(&redis, r).unwrap()))
        .collect();
    first.kill();

    let second = start_server(&redis, &[]);
    for (room, player, token) in &players {
        let snapshot = &last[room].snapshot;
        let mut c = GameClient::join(&second.ws_url(), room, "", token)
            .await
            .unwrap();
        let welcome = c.view.welcome.clone();
        assert!(
            welcome.resumed,
            "{room}: the token did not resume player {player}"
        );
        assert_eq!(welcome.player_id, *player);
        // The restored room ran on from the snapshot with nobody steering:
        // the same world stepped locally must match what the server says.
        let expected = replay(snapshot, u64::from(welcome.step));
        let ship = expected.player(*player).and_then(|p| p.ship).unwrap_or(0);
        assert_eq!(
            welcome.ship_id, ship,
            "{room}: player {player} got another ship"
        );
        let ServerMessage::Score(rows) = c.pump().await.unwrap() else {
            panic!("score expected after welcome")
        };
        let want: Vec<_> = expected
            .scoreboard()
            .into_iter()
            .map(|e| (e.ship, e.player, e.kills, e.deaths, e.name))
            .collect();
        let got: Vec<_> = rows
            .into_iter()
            .map(|r| (r.ship_id, r.player_id, r.kills, r.deaths, r.name))
            .collect();
        assert_eq!(got, want, "{room}: scores differ from the snapshot's");
    }
    // The whole world, missiles and timers included, continues exactly.
    for room in rooms {
        let before = &last[room];
        wait_for(
            || saved(&redis, room).is_some_and(|e| e.timestamp > before.timestamp),
            "a snapshot from the new process",
        );
        let now = saved(&redis, room).unwrap();
        assert!(now.snapshot.step_count() > before.snapshot.step_count());
        assert_eq!(
            json(&now.snapshot),
            json(&replay(&before.snapshot, now.snapshot.step_count())),
            "{room}"
        );
        let hashes: Vec<_> = now.players.values().map(|p| p.token_hash).collect();
        let old: Vec<_> = before.players.values().map(|p| p.token_hash).collect();
        assert_eq!(hashes, old, "{room}: reconnect tokens changed");
    }
}

#[tokio::test]
async fn sigterm_writes_a_final_snapshot_of_every_room_and_closes_with_4000() {
    let redis = RedisServer::start();
    // Periodic snapshots practically off: only join and the final one write.
    let mut server = start_server(
        &redis,
        &[("SNAPSHOT_INTERVAL_MS", "3600000"), ("BOTS", "0")],
    );
    let mut clients = Vec::new();
    for room in ["one", "two"] {
        let mut c = GameClient::join(&server.ws_url(), room, "", "")
            .await
            .unwrap();
        play_a_little(&mut c).await;
        clients.push((room, c));
    }
    wait_for(
        || saved(&redis, "one").is_some() && saved(&redis, "two").is_some(),
        "the join snapshots",
    );
    let mut seen = HashMap::new();
    for (room, c) in clients.iter_mut() {
        let at_join = saved(&redis, room).unwrap().snapshot.step_count();
        // Play on well past the join snapshot.
        c.pump_until(LIMIT, |v, _| u64::from(v.world.step) > at_join + 30)
            .await
            .unwrap();
        seen.insert(*room, c.view.world.step);
    }

    signal(&server, "-TERM");
    for (room, c) in clients.iter_mut() {
        let code = loop {
            match tokio::time::timeout(LIMIT, c.conn.next_event())
                .await
                .expect("no close")
            {
                Ok(Event::Closed { code, .. }) => break code,
                Ok(Event::Message(_)) => continue,
                Err(e) => panic!("{room}: {e}"),
            }
        };
        assert_eq!(code, Some(close::SERVER_RESTARTING), "{room}");
    }
    let start = Instant::now();
    let status = loop {
        if let Some(status) = server.child_mut().try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "still running 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit status {status}");
    for (room, step) in seen {
        let last = saved(&redis, room).expect("final snapshot");
        assert!(
            last.snapshot.step_count() >= u64::from(step),
            "{room}: final snapshot older than play"
        );
        assert_eq!(last.players.len(), 1);
    }
}

#[tokio::test]
async fn a_redis_outage_keeps_the_game_running_and_health_follows_redis() {
    let mut redis = RedisServer::start();
    let server = start_server(&redis, &[]);
    assert_eq!(
        http_get(server.port, "/health"),
        (
            200,
            r#"{"status":"healthy","redis":"connected"}"#.to_string()
        )
    );
    let mut c = GameClient::join(&server.ws_url(), "outage", "", "")
        .await
        .unwrap();
    wait_for(|| saved(&redis, "outage").is_some(), "a first snapshot");

    redis.stop();
    wait_for(
        || http_get(server.port, "/health").0 == 503,
        "/health to turn 503",
    );
    assert_eq!(
        http_get(server.port, "/health").1,
        r#"{"status":"unhealthy","redis":"disconnected"}"#
    );
    // The game goes on: a full second of steps arrives while Redis is away.
    let step = c.view.world.step;
    c.pump_until(LIMIT, |v, _| v.world.step > step + 60)
        .await
        .expect("the game stalled during the outage");
    play_a_little(&mut c).await;

    redis.restart();
    wait_for(
        || http_get(server.port, "/health").0 == 200,
        "/health to recover",
    );
    let during = c.view.world.step;
    wait_for(
        || saved(&redis, "outage").is_some_and(|e| e.snapshot.step_count() > u64::from(during)),
        "snapshots to resume into the restarted Redis",
    );
    let metrics = http_get(server.port, "/metrics").1;
    assert!(
        metric(&metrics, "spaaace_snapshot_write_failures_total") >= 1,
        "{metrics}"
    );
    assert!(
        metric(&metrics, "spaaace_snapshots_written_total") >= 2,
        "{metrics}"
    );
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from /metrics"))
}

#[tokio::test]
async fn a_corrupt_snapshot_starts_fresh_in_quarantine_and_other_rooms_resume() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    let _: () = conn
        .set(room_key("good"), saved_room("good", "good-token", 5000))
        .unwrap();
    let _: () = conn
        .set(room_key("bad"), "{\"version\":1,\"snapshot\":")
        .unwrap();
    let log = log_path("corrupt");
    let server = start_server_logged(&redis, &[], Some(&log));
    let text = read_log(&log);
    assert!(
        text.contains("[HYDRATION] restored room good from 20"),
        "{text}"
    );
    assert!(
        text.contains("[HYDRATION] snapshot of room bad refused: not a snapshot envelope"),
        "{text}"
    );

    let kept: BTreeMap<String, String> = conn.hgetall(quarantine_key("bad")).unwrap();
    assert_eq!(
        kept.get("value").map(String::as_str),
        Some("{\"version\":1,\"snapshot\":")
    );
    assert!(
        kept.get("reason")
            .is_some_and(|r| r.contains("not a snapshot envelope")),
        "{kept:?}"
    );

    let good = GameClient::join(&server.ws_url(), "good", "", "good-token")
        .await
        .unwrap();
    assert!(good.view.welcome.resumed);
    assert!(good.view.welcome.step >= 5000);
    let bad = GameClient::join(&server.ws_url(), "bad", "", "")
        .await
        .unwrap();
    assert!(!bad.view.welcome.resumed);
    assert!(
        bad.view.welcome.step < 5000,
        "the bad room should have started fresh"
    );
}

#[tokio::test]
async fn with_hydration_disabled_saved_rooms_are_ignored() {
    let redis = RedisServer::start();
    let _: () = redis
        .connection()
        .set(room_key("old"), saved_room("old", "old-token", 5000))
        .unwrap();
    let log = log_path("no-hydration");
    let server = start_server_logged(&redis, &[("GAME_HYDRATION_ENABLED", "false")], Some(&log));
    let text = read_log(&log);
    assert!(text.contains("[HYDRATION] disabled"), "{text}");
    assert!(!text.contains("restored room"), "{text}");
    let c = GameClient::join(&server.ws_url(), "old", "", "old-token")
        .await
        .unwrap();
    assert!(
        !c.view.welcome.resumed,
        "a saved player came back with hydration off"
    );
    assert!(c.view.welcome.step < 5000);
}

#[tokio::test]
async fn with_redis_disabled_the_game_runs_and_health_says_so() {
    let server = GameServer::start(
        &[],
        &[
            ("REDIS_ENABLED", "false"),
            ("REDIS_URL", "redis://127.0.0.1:1"),
        ],
    );
    wait_for(
        || http_get(server.port, "/ready").0 == 200,
        "the server to be ready",
    );
    assert_eq!(
        http_get(server.port, "/health"),
        (
            200,
            r#"{"status":"healthy","redis":"disabled"}"#.to_string()
        )
    );
    let mut c = GameClient::join(&server.ws_url(), "solo", "", "")
        .await
        .unwrap();
    c.pump_until(LIMIT, |v, _| v.world.step > 10)
        .await
        .expect("the game runs without Redis");
}

#[tokio::test]
async fn a_server_started_while_redis_is_down_waits_unready_then_takes_players() {
    let mut redis = RedisServer::start();
    redis.stop();
    let url = redis.url();
    let server = GameServer::start(
        &[],
        &[("REDIS_ENABLED", "true"), ("REDIS_URL", url.as_str())],
    );
    // Hydration cannot read the saved rooms yet: no players, not ready.
    assert_eq!(
        http_get(server.port, "/ready"),
        (503, r#"{"ready":false,"stage":"hydrating"}"#.to_string())
    );
    assert!(
        GameClient::join(&server.ws_url(), "early", "", "")
            .await
            .is_err(),
        "joined before hydration"
    );
    assert_eq!(http_get(server.port, "/health").0, 503);

    redis.restart();
    wait_for(
        || http_get(server.port, "/ready").0 == 200,
        "readiness once Redis answers",
    );
    assert_eq!(
        http_get(server.port, "/ready").1,
        r#"{"ready":true,"stage":"ready"}"#
    );
    GameClient::join(&server.ws_url(), "early", "", "")
        .await
        .expect("join once ready");
    wait_for(
        || saved(&redis, "early").is_some(),
        "the room's first snapshot",
    );
}
