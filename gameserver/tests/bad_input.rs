//! Every kind of bad client input against the real binary: the client gets
//! the error and/or close code docs/protocol.md names, and a well-behaved
//! client in the same room keeps being served.

mod common;

use std::time::Duration;

use common::GameServer;
use gameserver::client::{Connection, Event, GameClient};
use gameserver::protocol::{ClientMessage, Join, ServerMessage};
use gameserver::sim::Input;

const LIMIT: Duration = Duration::from_secs(20);

fn join(room: &str, name: &str) -> ClientMessage {
    ClientMessage::Join(Join {
        room: room.into(),
        name: name.into(),
        token: String::new(),
    })
}

/// The error codes received before the close, and the close code.
async fn outcome(conn: &mut Connection) -> (Vec<u16>, Option<u16>) {
    let (messages, close) = conn
        .events_until_close(LIMIT)
        .await
        .expect("server never closed");
    let errors = messages
        .iter()
        .filter_map(|m| match m {
            ServerMessage::Error { code, .. } => Some(*code),
            _ => None,
        })
        .collect();
    (errors, close)
}

async fn raw_before_join(server: &GameServer, frame: Vec<u8>) -> (Vec<u16>, Option<u16>) {
    let mut conn = Connection::connect(&server.ws_url()).await.unwrap();
    conn.send_binary(frame).await.unwrap();
    outcome(&mut conn).await
}

async fn raw_after_join(server: &GameServer, frame: Vec<u8>) -> (Vec<u16>, Option<u16>) {
    let mut conn = Connection::connect(&server.ws_url()).await.unwrap();
    conn.send(&join("shared", "")).await.unwrap();
    conn.send_binary(frame).await.unwrap();
    outcome(&mut conn).await
}

/// What is sent, whether after a join, and the error codes and close code expected.
struct Case(&'static str, Vec<u8>, bool, Vec<u16>, Option<u16>);

/// The bystander is still in the game: more updates keep coming.
async fn still_served(bystander: &mut GameClient) {
    let before = bystander.view.updates;
    bystander
        .pump_until(LIMIT, |v, _| v.updates >= before + 3)
        .await
        .expect("the well-behaved client stopped being served");
}

#[tokio::test]
async fn each_bad_frame_costs_only_its_own_connection() {
    let server = GameServer::start(&["--bots", "2"], &[]);
    let mut bystander = GameClient::join(&server.ws_url(), "shared", "Bystander", "")
        .await
        .unwrap();
    still_served(&mut bystander).await;

    let cases: Vec<Case> = vec![
        Case(
            "truncated join",
            vec![0x01, 1, 5, b'a'],
            false,
            vec![1],
            Some(4001),
        ),
        Case("empty frame", vec![], false, vec![1], Some(4001)),
        Case(
            "join with trailing bytes",
            [join("shared", "").encode(), vec![0]].concat(),
            false,
            vec![1],
            Some(4001),
        ),
        Case(
            "unknown type before join",
            vec![0x7f, 1, 2],
            false,
            vec![2],
            Some(4001),
        ),
        Case(
            "wrong protocol version",
            vec![0x01, 2, 1, b'a', 0, 0],
            false,
            vec![3],
            Some(4005),
        ),
        Case(
            "input before join",
            ClientMessage::Input {
                seq: 1,
                input: Input::default(),
            }
            .encode(),
            false,
            vec![9],
            Some(4001),
        ),
        Case(
            "ping before join",
            ClientMessage::Ping { echo: 1 }.encode(),
            false,
            vec![9],
            Some(4001),
        ),
        Case(
            "room id with a space",
            join("bad room", "").encode(),
            false,
            vec![5],
            Some(4004),
        ),
        Case(
            "room id of 33 bytes",
            join(&"r".repeat(33), "").encode(),
            false,
            vec![5],
            Some(4004),
        ),
        Case(
            "empty room id",
            join("", "").encode(),
            false,
            vec![5],
            Some(4004),
        ),
        Case(
            "name with markup",
            join("shared", "<b>x</b>").encode(),
            false,
            vec![6],
            Some(4004),
        ),
        Case(
            "name of 17 characters",
            join("shared", &"n".repeat(17)).encode(),
            false,
            vec![6],
            Some(4004),
        ),
        Case(
            "name with a leading space",
            join("shared", " x").encode(),
            false,
            vec![6],
            Some(4004),
        ),
        Case(
            "room not UTF-8",
            vec![0x01, 1, 2, 0xc3, 0x28, 0, 0],
            false,
            vec![1],
            Some(4001),
        ),
        Case(
            "truncated input",
            vec![0x02, 1, 0, 0],
            true,
            vec![1],
            Some(4001),
        ),
        Case(
            "input with reserved key bits",
            vec![0x02, 1, 0, 0, 0, 0xf0],
            true,
            vec![1],
            Some(4001),
        ),
        Case(
            "unknown type after join",
            vec![0x42],
            true,
            vec![2],
            Some(4001),
        ),
        Case(
            "server message sent by a client",
            vec![0x84, 0, 0, 0, 0],
            true,
            vec![2],
            Some(4001),
        ),
        Case(
            "second join",
            join("shared", "").encode(),
            true,
            vec![10],
            Some(4001),
        ),
        Case("oversized frame", vec![0x02; 300], true, vec![], Some(1009)),
        Case(
            "frame of 100 KiB",
            vec![0x02; 100 * 1024],
            true,
            vec![],
            Some(1009),
        ),
        Case(
            "frame of 100 KiB before join",
            vec![0x01; 100 * 1024],
            false,
            vec![],
            Some(1009),
        ),
        Case(
            "oversized frame before join",
            vec![0x01; 257],
            false,
            vec![],
            Some(1009),
        ),
    ];
    for Case(what, frame, after_join, errors, close) in cases {
        let got = if after_join {
            raw_after_join(&server, frame).await
        } else {
            raw_before_join(&server, frame).await
        };
        assert_eq!(got, (errors, close), "{what}");
    }
    still_served(&mut bystander).await;

    let mut text = Connection::connect(&server.ws_url()).await.unwrap();
    text.send_text("{\"join\":\"default\"}").await.unwrap();
    assert_eq!(
        outcome(&mut text).await,
        (vec![1], Some(4001)),
        "text frame"
    );
    still_served(&mut bystander).await;
}

/// Sends `message` about 500 times a second (far above twice the allowed
/// 60) until the server closes; returns the errors received and the close code.
async fn flood(
    flooder: &mut GameClient,
    message: ClientMessage,
) -> (Vec<ServerMessage>, Option<u16>) {
    let mut errors = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(2));
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => panic!("flood never closed"),
            _ = tick.tick() => {
                if flooder.conn.send(&message).await.is_err() {
                    let (rest, close) = flooder.conn.events_until_close(LIMIT).await.unwrap();
                    errors.extend(rest.into_iter().filter(|m| matches!(m, ServerMessage::Error { .. })));
                    return (errors, close);
                }
            }
            event = flooder.conn.next_event() => match event.unwrap() {
                Event::Message(m @ ServerMessage::Error { .. }) => errors.push(m),
                Event::Message(_) => {}
                Event::Closed { code, .. } => return (errors, code),
            }
        }
    }
}

#[tokio::test]
async fn input_and_restart_floods_are_trimmed_then_closed_with_4002() {
    let server = GameServer::start(&["--bots", "0"], &[]);
    let mut bystander = GameClient::join(&server.ws_url(), "flood", "", "")
        .await
        .unwrap();
    let floods = [
        ClientMessage::Input {
            seq: 1,
            input: Input {
                left: true,
                ..Input::default()
            },
        },
        ClientMessage::Restart,
    ];
    for message in floods {
        let mut flooder = GameClient::join(&server.ws_url(), "flood", "", "")
            .await
            .unwrap();
        let (errors, close) = flood(&mut flooder, message.clone()).await;
        assert_eq!(close, Some(4002), "{message:?}");
        if matches!(message, ClientMessage::Input { .. }) {
            assert!(!errors.is_empty(), "error 4 comes before the close");
        }
        assert!(
            errors
                .iter()
                .all(|m| matches!(m, ServerMessage::Error { code: 4, .. })),
            "{errors:?}"
        );
        // At most one error 4 per second of flooding (it takes about 2 s to be closed).
        assert!(errors.len() <= 4, "{} rate errors", errors.len());
        still_served(&mut bystander).await;
    }
}

#[tokio::test]
async fn room_and_server_limits_answer_with_4003() {
    let server = GameServer::start(
        &[
            "--bots",
            "0",
            "--max-players-per-room",
            "2",
            "--max-rooms",
            "1",
        ],
        &[],
    );
    let url = server.ws_url();
    let _a = GameClient::join(&url, "small", "", "").await.unwrap();
    let _b = GameClient::join(&url, "small", "", "").await.unwrap();
    let mut third = Connection::connect(&url).await.unwrap();
    third.send(&join("small", "")).await.unwrap();
    assert_eq!(
        outcome(&mut third).await,
        (vec![7], Some(4003)),
        "room full"
    );
    let mut other_room = Connection::connect(&url).await.unwrap();
    other_room.send(&join("another", "")).await.unwrap();
    assert_eq!(
        outcome(&mut other_room).await,
        (vec![8], Some(4003)),
        "server full"
    );
}

#[tokio::test]
async fn connections_beyond_the_limit_are_refused_before_the_upgrade() {
    let server = GameServer::start(&["--bots", "0", "--max-connections", "1"], &[]);
    let _only = GameClient::join(&server.ws_url(), "one", "", "")
        .await
        .unwrap();
    let refused = Connection::connect(&server.ws_url()).await;
    let message = refused
        .err()
        .expect("second connection accepted")
        .to_string();
    assert!(message.contains("503"), "{message}");
}
