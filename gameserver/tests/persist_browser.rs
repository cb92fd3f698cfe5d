//! The browser through a crash: headless chromium plays, the server is killed
//! with SIGKILL and started again, and the page reconnects by itself and shows
//! the same player, ship, name and score, the ship where the game left it.

// Shared with the browser tests; this one uses part of it.
#[allow(dead_code)]
mod cdp;
mod common;
#[path = "common/redis.rs"]
mod redis_server;

use std::process::Command;
use std::time::{Duration, Instant};

use cdp::{Chromium, Page};
use common::GameServer;
use gameserver::persist::{room_key, Envelope};
use gameserver::sim::{wrap_delta, World};
use redis::Commands;
use redis_server::RedisServer;
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(20);
const ROOM: &str = "crashtest";

fn start_server(redis: &RedisServer, port: Option<u16>) -> GameServer {
    let url = redis.url();
    let envs = [
        ("REDIS_ENABLED", "true"),
        ("REDIS_URL", url.as_str()),
        ("SNAPSHOT_INTERVAL_MS", "100"),
    ];
    let args = ["--bots", "0"];
    match port {
        Some(port) => GameServer::start_on(port, &args, &envs),
        None => GameServer::start(&args, &envs),
    }
}

fn saved(redis: &RedisServer) -> Option<Envelope> {
    let value: Option<Vec<u8>> = redis.connection().get(room_key(ROOM)).ok()?;
    value.map(|v| Envelope::decode(ROOM, &v).expect("the server's own snapshot decodes"))
}

fn num(v: &Value, pointer: &str) -> f64 {
    v.pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("no number at {pointer}: {v}"))
}

async fn state(page: &Page, what: &str, condition: &str) -> Value {
    page.wait_for_state(what, condition, LIMIT).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_survives_a_kill_9_with_its_ship_and_score() {
    let redis = RedisServer::start();
    let mut first = start_server(&redis, None);
    let port = first.port;
    let chromium = Chromium::launch().unwrap_or_else(|e| panic!("{e}"));
    let page = Page::open(chromium.ws_url(), 1280, 720)
        .await
        .expect("open a tab");
    page.navigate(&first.http_url(&format!("/?room={ROOM}")))
        .await
        .expect("navigate");
    let before = state(
        &page,
        "the page to join",
        "s.connected && s.shipId > 0 && s.serverShip && s.name",
    )
    .await;

    // Fly a little so the ship has a heading and a speed worth keeping.
    page.key("keyDown", "ArrowUp").await.expect("key down");
    let moved_from = num(&before, "/serverShip/y");
    state(
        &page,
        "the server to move the ship",
        &format!("Math.abs(s.serverShip.y - {moved_from}) > 20"),
    )
    .await;
    page.key("keyUp", "ArrowUp").await.expect("key up");
    page.eval("window.samePage = true")
        .await
        .expect("mark the page");
    // Every input applied by the server, then a snapshot taken after them:
    // from here on the ship drifts exactly as the snapshot, stepped on, says.
    let acked = state(
        &page,
        "the inputs to be applied",
        "s.pendingInputs === 0 && s.lastInputSeq === s.inputSeq",
    )
    .await;
    let acked_step = num(&acked, "/lastStep") as u64;
    let start = Instant::now();
    while saved(&redis).is_none_or(|e| e.snapshot.step_count() <= acked_step) {
        assert!(start.elapsed() < LIMIT, "no snapshot after the last input");
        std::thread::sleep(Duration::from_millis(20));
    }
    let stop = Command::new("kill")
        .args(["-STOP", &first.pid().to_string()])
        .status()
        .unwrap();
    assert!(stop.success());
    let last = saved(&redis).expect("a snapshot");
    first.kill();
    state(
        &page,
        "the page to notice the lost server",
        "s.status === 'reconnecting'",
    )
    .await;

    let _second = start_server(&redis, Some(port));
    let saved_step = last.snapshot.step_count();
    let back = state(
        &page,
        "the page to reconnect by itself and resume",
        &format!(
            "window.samePage === true && s.connected && s.resumed && s.reconnects >= 1 && s.serverShip && s.serverShip.step > {saved_step}"
        ),
    )
    .await;
    for field in ["playerId", "shipId", "name", "kills", "deaths"] {
        assert_eq!(back[field], before[field], "{field}: {back}");
    }
    // Where the server shows the ship is where the saved game, played on, has it.
    let step = num(&back, "/serverShip/step") as u64;
    let mut world: World = last.snapshot.clone();
    while world.step_count() < step {
        world.step(&[]);
    }
    let ship = world
        .ship(back["shipId"].as_u64().unwrap() as u32)
        .expect("the ship lives on");
    assert!(
        wrap_delta(ship.x, num(&back, "/serverShip/x")).abs() < 0.1,
        "x {} vs {back}",
        ship.x
    );
    assert!(
        wrap_delta(ship.y, num(&back, "/serverShip/y")).abs() < 0.1,
        "y {} vs {back}",
        ship.y
    );
    assert!(page.errors().is_empty(), "page errors: {:?}", page.errors());
}
