//! The `spaaace-load` binary against the real server: its players join, play
//! and its JSON report adds up.

mod common;
#[path = "common/redis.rs"]
mod redis_server;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::GameServer;
use redis_server::RedisServer;

#[test]
fn load_players_join_play_and_report_json() {
    let server = GameServer::start(&["--bots", "2"], &[]);
    let output = Command::new(env!("CARGO_BIN_EXE_spaaace-load"))
        .args([
            "--url",
            &server.ws_url(),
            "--players",
            "4",
            "--seconds",
            "2",
            "--room",
            "loadtest",
            "--json",
        ])
        .output()
        .expect("run spaaace-load");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("one JSON report on stdout");
    assert_eq!(report["players"], 4);
    assert_eq!(report["joined"], 4);
    assert_eq!(report["failed"], 0);
    // Each player's first update is full; the rest are deltas the mirror accepted.
    assert!(report["full_updates"].as_u64().unwrap() >= 4);
    let updates = report["updates"].as_u64().unwrap();
    assert!(updates > 4 * 10, "{updates} updates in 2 s for 4 players");
    assert!(report["bytes"].as_u64().unwrap() > updates * 10);
    assert!(report["inputs_sent"].as_u64().unwrap() > 0);
}

/// Several rooms of players that skim updates: each room gets its share,
/// every counted update is timed, and the report adds up.
#[test]
fn players_spread_over_rooms_and_time_each_update() {
    let server = GameServer::start(&["--bots", "1"], &[]);
    let load = Command::new(env!("CARGO_BIN_EXE_spaaace-load"))
        .args([
            "--url",
            &server.ws_url(),
            "--room",
            "spread",
            "--rooms",
            "3",
        ])
        .args(["--players", "2", "--warmup", "2", "--seconds", "3"])
        .args(["--no-mirror", "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("run spaaace-load");
    let mut seen = serde_json::Value::Null;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        let (_, body) = common::try_get(server.port, "/rooms");
        seen = serde_json::from_str(&body).unwrap_or_default();
        let rooms = seen["rooms"].as_array().cloned().unwrap_or_default();
        if rooms.len() == 3 && rooms.iter().all(|r| r["players"] == 2) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut ids: Vec<&str> = seen["rooms"]
        .as_array()
        .expect("/rooms lists rooms")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    ids.sort();
    assert_eq!(ids, ["spread-0", "spread-1", "spread-2"], "{seen}");
    let output = load.wait_with_output().expect("spaaace-load finishes");
    assert!(output.status.success());
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("one JSON report");
    assert_eq!(
        (report["rooms"].as_u64(), report["players"].as_u64()),
        (Some(3), Some(6))
    );
    assert_eq!(
        (report["joined"].as_u64(), report["failed"].as_u64()),
        (Some(6), Some(0))
    );
    let updates = report["updates"].as_u64().unwrap();
    assert!(updates > 6 * 10, "{updates} updates in 3 s for 6 players");
    // Only the measured seconds count, and each counted update was timed.
    assert_eq!(report["lateness"]["updates"].as_u64(), Some(updates));
    let (p50, p99) = (
        report["lateness"]["p50_ms"].as_f64(),
        report["lateness"]["p99_ms"].as_f64(),
    );
    assert!(p50.unwrap() <= p99.unwrap(), "{report}");
}

#[test]
fn load_tool_fails_when_nobody_can_join() {
    let port = common::free_port();
    let output = Command::new(env!("CARGO_BIN_EXE_spaaace-load"))
        .args([
            "--url",
            &format!("ws://127.0.0.1:{port}/ws"),
            "--players",
            "2",
            "--seconds",
            "1",
        ])
        .output()
        .expect("run spaaace-load");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no player could join"), "{stderr}");
}

/// With --reconnect, players come back after the server is killed and
/// started again, as themselves (their tokens restore them from Redis).
#[test]
fn reconnecting_players_resume_after_a_crash() {
    let redis = RedisServer::start();
    let url = redis.url();
    let env = [("REDIS_ENABLED", "true"), ("REDIS_URL", url.as_str())];
    let mut server = GameServer::start(&["--bots", "1"], &env);
    let port = server.port;
    let load = Command::new(env!("CARGO_BIN_EXE_spaaace-load"))
        .args([
            "--url",
            &server.ws_url(),
            "--players",
            "3",
            "--seconds",
            "12",
            "--room",
            "crash",
            "--reconnect",
            "--json",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("run spaaace-load");
    // Past the join and the snapshot every join triggers, then a crash.
    std::thread::sleep(Duration::from_secs(3));
    server.kill();
    std::thread::sleep(Duration::from_millis(500));
    let _server = GameServer::start_on(port, &["--bots", "1"], &env);
    let output = load.wait_with_output().expect("spaaace-load finishes");
    assert!(output.status.success());
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("one JSON report");
    assert_eq!(report["joined"], 3);
    assert_eq!(report["failed"], 0, "{report}");
    assert!(report["reconnects"].as_u64().unwrap() >= 3, "{report}");
    assert_eq!(report["resumed"], report["reconnects"], "{report}");
}
