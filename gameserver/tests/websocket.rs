//! The server's WebSocket layer against a client written byte by byte: a
//! ping is answered, a message in fragments is one message, a frame that
//! breaks the protocol is closed with 1002, and a client that stops
//! reading loses updates, then gets a full one and a world that adds up.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::GameServer;
use gameserver::protocol::{kind, ClientMessage, Join, ServerMessage, UpdateKind, WorldMirror};
use socket2::{Domain, Socket, Type};

const LIMIT: Duration = Duration::from_secs(30);
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

struct RawClient {
    stream: TcpStream,
}

impl RawClient {
    /// Opens /ws; `receive_buffer` shrinks the client's socket buffer.
    fn open(server: &GameServer, receive_buffer: Option<usize>) -> RawClient {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        if let Some(size) = receive_buffer {
            socket.set_recv_buffer_size(size).unwrap();
        }
        let addr: SocketAddr = format!("127.0.0.1:{}", server.port).parse().unwrap();
        socket.connect(&addr.into()).unwrap();
        let mut stream: TcpStream = socket.into();
        stream.set_read_timeout(Some(LIMIT)).unwrap();
        write!(
            stream,
            "GET /ws HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        )
        .unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8];
            stream.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        assert!(head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{head}");
        RawClient { stream }
    }

    /// Sends one frame: `first` is FIN and opcode; masked unless `unmasked`.
    fn send(&mut self, first: u8, payload: &[u8], unmasked: bool) {
        assert!(payload.len() < 126);
        let mut frame = vec![first];
        if unmasked {
            frame.push(payload.len() as u8);
            frame.extend_from_slice(payload);
        } else {
            frame.push(0x80 | payload.len() as u8);
            frame.extend_from_slice(&MASK);
            frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
        }
        self.stream.write_all(&frame).unwrap();
    }

    /// The next frame from the server: its opcode and payload.
    fn read(&mut self) -> (u8, Vec<u8>) {
        let mut head = [0u8; 2];
        self.stream.read_exact(&mut head).unwrap();
        assert_eq!(head[1] & 0x80, 0, "server frames are not masked");
        let len = match head[1] & 0x7f {
            126 => {
                let mut ext = [0u8; 2];
                self.stream.read_exact(&mut ext).unwrap();
                u16::from_be_bytes(ext) as usize
            }
            127 => {
                let mut ext = [0u8; 8];
                self.stream.read_exact(&mut ext).unwrap();
                u64::from_be_bytes(ext) as usize
            }
            n => n as usize,
        };
        let mut payload = vec![0; len];
        self.stream.read_exact(&mut payload).unwrap();
        (head[0] & 0x0f, payload)
    }

    /// Frames until one with `opcode` (binary ones only if `first_byte` matches too).
    fn read_until(&mut self, opcode: u8, first_byte: Option<u8>) -> Vec<u8> {
        loop {
            let (op, payload) = self.read();
            if op == opcode && first_byte.is_none_or(|b| payload.first() == Some(&b)) {
                return payload;
            }
        }
    }
}

fn join_bytes(room: &str) -> Vec<u8> {
    ClientMessage::Join(Join {
        room: room.into(),
        name: "raw".into(),
        token: String::new(),
    })
    .encode()
}

const BINARY: u8 = 0x2;
const CONTINUATION: u8 = 0x0;
const FIN: u8 = 0x80;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;
const CLOSE: u8 = 0x8;

#[test]
fn a_ping_is_answered_and_a_join_in_fragments_is_one_message() {
    let server = GameServer::start(&["--bots", "1"], &[]);
    let mut client = RawClient::open(&server, None);
    client.send(FIN | PING, b"hb", false);
    assert_eq!(client.read_until(PONG, None), b"hb");
    let join = join_bytes("fragments");
    let (first, rest) = join.split_at(3);
    client.send(BINARY, first, false);
    client.send(FIN | PING, b"in between", false);
    client.send(FIN | CONTINUATION, rest, false);
    assert_eq!(client.read_until(PONG, None), b"in between");
    let welcome = client.read_until(BINARY, Some(kind::WELCOME));
    assert!(matches!(
        ServerMessage::decode(&welcome),
        Ok(ServerMessage::Welcome(_))
    ));
}

#[test]
fn an_unmasked_frame_is_closed_with_1002() {
    let server = GameServer::start(&["--bots", "1"], &[]);
    let mut client = RawClient::open(&server, None);
    client.send(FIN | BINARY, &join_bytes("unmasked"), true);
    let close = client.read_until(CLOSE, None);
    assert_eq!(u16::from_be_bytes([close[0], close[1]]), 1002);
}

#[test]
fn a_client_that_stops_reading_loses_updates_then_gets_a_full_one() {
    // Big updates, so that the socket fills soon.
    let server = GameServer::start(&["--bots", "200"], &[]);
    let mut client = RawClient::open(&server, Some(4096));
    client.send(FIN | BINARY, &join_bytes("slow"), false);
    let started = Instant::now();
    while common::metric(
        &common::http_get(server.port, "/metrics").2,
        "spaaace_updates_dropped_total",
    )
    .unwrap_or(0.0)
        < 1.0
    {
        assert!(started.elapsed() < LIMIT, "no update was ever dropped");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Reading again: everything applies in order, and a full update
    // follows the ones that were dropped.
    let mut mirror = WorldMirror::default();
    let (mut fulls, mut gaps, mut last_step) = (0, 0, None);
    while fulls < 2 {
        let (op, payload) = client.read();
        if op != BINARY || payload.first() != Some(&kind::UPDATE) {
            continue;
        }
        let Ok(ServerMessage::Update { body, .. }) = ServerMessage::decode(&payload) else {
            panic!("an update that does not decode");
        };
        fulls += usize::from(body.kind == UpdateKind::Full);
        gaps += usize::from(last_step.is_some_and(|s| body.step > s + 3));
        last_step = Some(body.step);
        mirror
            .apply(&body)
            .expect("every update applies to what came before");
    }
    assert!(gaps >= 1, "the client saw no update missing");
    assert!(!mirror.ships.is_empty());
}
