//! What the server logs: one line per misbehaving connection however many bad
//! frames it sends, and JSON lines in production.

mod common;

use std::time::Duration;

use common::GameServer;
use gameserver::client::{Event, GameClient};
use gameserver::protocol::ClientMessage;
use gameserver::sim::Input;

const LIMIT: Duration = Duration::from_secs(20);

fn temp_log(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("spaaace-{name}-{}.log", std::process::id()))
}

#[tokio::test]
async fn a_connection_that_floods_inputs_is_logged_once() {
    let log = temp_log("flood");
    let server = GameServer::start_logged(&["--bots", "0"], &[("RUST_LOG", "warn")], &log);
    let mut flooder = GameClient::join(&server.ws_url(), "noisy", "", "")
        .await
        .unwrap();
    let peer = flooder.conn.local_addr().unwrap().to_string();
    // 400 inputs at once: 120 pass, 280 are dropped (and answered by error 4).
    for seq in 1..=400 {
        let input = ClientMessage::Input {
            seq,
            input: Input {
                right: true,
                ..Input::default()
            },
        };
        flooder.conn.send(&input).await.unwrap();
    }
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let event = tokio::time::timeout_at(deadline, flooder.conn.next_event()).await;
        match event.expect("no error 4 came back").unwrap() {
            Event::Message(gameserver::protocol::ServerMessage::Error { code: 4, .. }) => break,
            Event::Message(_) => {}
            Event::Closed { code, .. } => panic!("closed with {code:?} for one burst"),
        }
    }
    drop(server);
    let text = std::fs::read_to_string(&log).unwrap();
    let lines = text.lines().filter(|l| l.contains(&peer)).count();
    assert_eq!(lines, 1, "log for {peer}:\n{text}");
    let _ = std::fs::remove_file(&log);
}

#[tokio::test]
async fn production_logs_are_json_lines() {
    let log = temp_log("json");
    let server = GameServer::start_logged(
        &["--bots", "0"],
        &[("NODE_ENV", "production"), ("RUST_LOG", "info")],
        &log,
    );
    let c = GameClient::join(&server.ws_url(), "json", "", "")
        .await
        .unwrap();
    let token = c.view.welcome.token.clone();
    drop(c);
    drop(server);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.lines().count() >= 2, "{text}");
    for line in text.lines() {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            value["level"].is_string() && value["message"].is_string(),
            "{line}"
        );
    }
    assert!(
        text.contains("\"room\":\"json\""),
        "fields are JSON fields: {text}"
    );
    assert!(
        !text.contains(&token),
        "the reconnect token leaked into the log"
    );
    let _ = std::fs::remove_file(&log);
}
