//! The HTTP surface of the real binary, and its graceful shutdown.

mod common;

use std::time::Duration;

use common::{http_get, metric, GameServer};
use gameserver::client::{ClientError, GameClient};

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn serves_the_client_health_and_metrics() {
    let server = GameServer::start(&["--bots", "1"], &[]);
    let (status, headers, body) = http_get(server.port, "/?room=lobby");
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(body, include_str!("../static/index.html"));
    // Browsers run a module only when it is served as JavaScript.
    let (status, headers, body) = http_get(server.port, "/js/main.js");
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(body, include_str!("../static/js/main.js"));
    let (status, headers, _) = http_get(server.port, "/style.css");
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/css; charset=utf-8")
    );
    assert_eq!(http_get(server.port, "/js/nope.js").0, 404);
    assert_eq!(http_get(server.port, "/static/js/main.js").0, 404);

    let (status, headers, body) = http_get(server.port, "/health");
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"status":"healthy","redis":"disabled"}"#)
    );
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    assert_eq!(http_get(server.port, "/nope").0, 404);
}

#[tokio::test]
async fn rooms_lists_ids_and_connected_players_only() {
    let server = GameServer::start(&["--bots", "2"], &[]);
    let url = server.ws_url();
    let (status, headers, body) = http_get(server.port, "/rooms");
    assert_eq!((status, body.as_str()), (200, r#"{"rooms":[]}"#));
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    let _a1 = GameClient::join(&url, "alpha", "Ann", "").await.unwrap();
    let _b1 = GameClient::join(&url, "beta", "Bob", "").await.unwrap();
    let b2 = GameClient::join(&url, "beta", "Bea", "").await.unwrap();
    // The empty listing above is kept for a second: wait for a fresh one.
    rooms_become(
        server.port,
        r#"{"rooms":[{"id":"beta","players":2},{"id":"alpha","players":1}]}"#,
    )
    .await;
    // A dropped player waits out its grace in the room, but is no longer counted.
    drop(b2);
    rooms_become(
        server.port,
        r#"{"rooms":[{"id":"alpha","players":1},{"id":"beta","players":1}]}"#,
    )
    .await;
}

async fn rooms_become(port: u16, expected: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, _, body) = http_get(port, "/rooms");
        if body == expected {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "/rooms says {body}, not {expected}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn metrics_show_rooms_players_and_tick_phases() {
    let server = GameServer::start(&["--bots", "5"], &[]);
    let mut c = GameClient::join(&server.ws_url(), "metered", "", "")
        .await
        .unwrap();
    c.pump_until(Duration::from_secs(20), |v, _| v.updates >= 10)
        .await
        .unwrap();
    let (status, headers, body) = http_get(server.port, "/metrics");
    assert_eq!(status, 200);
    assert!(header(&headers, "content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    assert_eq!(metric(&body, "spaaace_rooms"), Some(1.0));
    assert_eq!(metric(&body, "spaaace_players"), Some(1.0));
    assert_eq!(metric(&body, "spaaace_connections"), Some(1.0));
    // Ten updates at 20/s need at least 28 steps.
    assert!(
        metric(&body, "spaaace_steps_total").unwrap() >= 28.0,
        "{body}"
    );
    assert!(metric(&body, "spaaace_updates_sent_total").unwrap() >= 10.0);
    for phase in [
        "inputs",
        "bots",
        "physics",
        "collisions",
        "timers",
        "encode",
    ] {
        let count = format!("spaaace_tick_phase_seconds_count{{phase=\"{phase}\"}}");
        assert!(metric(&body, &count).unwrap() >= 28.0, "{phase} not timed");
    }
}

#[tokio::test]
async fn sigterm_closes_sockets_with_4000_and_exits_cleanly() {
    let mut server = GameServer::start(&["--bots", "0"], &[]);
    let mut a = GameClient::join(&server.ws_url(), "bye", "", "")
        .await
        .unwrap();
    let mut b = GameClient::join(&server.ws_url(), "bye-too", "", "")
        .await
        .unwrap();
    a.pump_until(Duration::from_secs(20), |v, _| v.updates >= 1)
        .await
        .unwrap();
    let status = tokio::task::spawn_blocking(move || {
        let status = server.terminate();
        (server, status)
    });
    for c in [&mut a, &mut b] {
        let end = c.pump_until(Duration::from_secs(20), |_, _| false).await;
        assert!(
            matches!(
                end,
                Err(ClientError::Closed {
                    code: Some(4000),
                    ..
                })
            ),
            "{end:?}"
        );
    }
    let (_server, status) = status.await.unwrap();
    assert!(status.success(), "exit status {status:?}");
}
