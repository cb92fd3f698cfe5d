//! Many players on one thread, for load generation: a task and a WebSocket
//! library per player cost the generator more than the server it measures.
//! Each player opens its socket with a plain HTTP upgrade, joins, then the
//! thread's one epoll set tells it when something arrived: it reads each
//! update only as far as its header (`update_head`), times it
//! (`lateness`), and sends its inputs on schedule (a restart while it has
//! no ship), masked as a browser does.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use tokio::time::Instant;

use super::lateness::Lateness;
use super::pilot::Pilot;
use crate::protocol::{kind, ClientMessage, Join, Reader, ServerMessage, UpdateKind};

/// How long a player waits for its socket and its upgrade.
const CONNECT_LIMIT: Duration = Duration::from_secs(5);
const MASK: [u8; 4] = [0x3a, 0x5c, 0x91, 0xe7];
/// Joins per turn of the loop: a join waits for the server's answer, and
/// the players already in must not wait for all the joins that are due.
const JOINS_PER_TURN: usize = 16;

/// Where the players go and when they play.
#[derive(Clone, Debug)]
pub struct SwarmPlan {
    pub addr: SocketAddr,
    /// Host header and request path of the upgrade.
    pub host: String,
    pub path: String,
    pub input_period: Duration,
    /// Lateness is measured from here.
    pub origin: Instant,
    /// Nothing before this is counted.
    pub counted_from: Instant,
    pub stop: Instant,
}

/// One player to be.
#[derive(Clone, Debug)]
pub struct Recruit {
    pub room: String,
    pub name: String,
    pub seed: u32,
    pub join_at: Instant,
}

/// What one player did and received, over the counted time.
pub struct Tally {
    pub joined: bool,
    /// Its connection ended early, or never opened.
    pub failed: bool,
    pub updates: u64,
    pub full_updates: u64,
    pub bytes: u64,
    pub frames: u64,
    pub inputs_sent: u64,
    pub deaths: u64,
    pub lateness: Lateness,
}

struct Player {
    recruit: Recruit,
    socket: Option<TcpStream>,
    /// Received and not yet parsed.
    inbox: Vec<u8>,
    /// Framed and not yet written.
    outbox: Vec<u8>,
    ship: u32,
    seq: u32,
    pilot: Pilot,
    tally: Tally,
}

/// Plays `recruits` on this thread until `plan.stop`; one tally each, in
/// the order they joined.
pub fn run(plan: &SwarmPlan, recruits: Vec<Recruit>) -> io::Result<Vec<Tally>> {
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let mut players: Vec<Player> = recruits
        .into_iter()
        .map(|recruit| Player {
            pilot: Pilot::new(recruit.seed),
            recruit,
            socket: None,
            inbox: Vec::new(),
            outbox: Vec::new(),
            ship: 0,
            seq: 0,
            tally: Tally {
                joined: false,
                failed: false,
                updates: 0,
                full_updates: 0,
                bytes: 0,
                frames: 0,
                inputs_sent: 0,
                deaths: 0,
                lateness: Lateness::new(plan.origin),
            },
        })
        .collect();
    players.sort_by_key(|p| p.recruit.join_at);
    let mut next_join = 0;
    // (when, player): the next input of each player that plays.
    let mut inputs: BinaryHeap<Reverse<(Instant, usize)>> = BinaryHeap::new();
    loop {
        let now = Instant::now();
        if now >= plan.stop {
            break;
        }
        let joins_due = players[next_join..]
            .iter()
            .take(JOINS_PER_TURN)
            .take_while(|p| p.recruit.join_at <= now)
            .count();
        for _ in 0..joins_due {
            if players[next_join].open(plan, &poll, next_join) {
                inputs.push(Reverse((now, next_join)));
            }
            next_join += 1;
        }
        while let Some(&Reverse((due, index))) = inputs.peek() {
            if due > now {
                break;
            }
            inputs.pop();
            let player = &mut players[index];
            if player.socket.is_some() {
                player.send_input(plan, now);
                inputs.push(Reverse((due + plan.input_period, index)));
            }
        }
        let mut wake = plan.stop;
        if let Some(player) = players.get(next_join) {
            wake = wake.min(player.recruit.join_at);
        }
        if let Some(&Reverse((due, _))) = inputs.peek() {
            wake = wake.min(due);
        }
        let timeout = wake.saturating_duration_since(Instant::now());
        if let Err(e) = poll.poll(&mut events, Some(timeout)) {
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        let at = Instant::now();
        for event in &events {
            if let Some(player) = players.get_mut(event.token().0) {
                player.receive(plan, at);
            }
        }
    }
    Ok(players.into_iter().map(|p| p.tally).collect())
}

impl Player {
    /// Connects, upgrades and sends `join`; false if the socket never opened.
    fn open(&mut self, plan: &SwarmPlan, poll: &Poll, token: usize) -> bool {
        match self.upgrade(plan) {
            Ok(socket) => {
                let fd = socket.as_raw_fd();
                let watched =
                    poll.registry()
                        .register(&mut SourceFd(&fd), Token(token), Interest::READABLE);
                if watched.is_err() {
                    self.tally.failed = true;
                    return false;
                }
                self.socket = Some(socket);
                let join = ClientMessage::Join(Join {
                    room: self.recruit.room.clone(),
                    name: self.recruit.name.clone(),
                    token: String::new(),
                });
                self.send(&join.encode());
                true
            }
            Err(e) => {
                tracing::warn!(player = %self.recruit.name, error = %e, "connect failed");
                self.tally.failed = true;
                false
            }
        }
    }

    fn upgrade(&mut self, plan: &SwarmPlan) -> io::Result<TcpStream> {
        let mut socket = TcpStream::connect_timeout(&plan.addr, CONNECT_LIMIT)?;
        socket.set_nodelay(true)?;
        socket.set_read_timeout(Some(CONNECT_LIMIT))?;
        write!(
            socket,
            "GET {} HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: c3BhYWFjZS1zd2FybS1rZXk=\r\n\r\n",
            plan.path, plan.host
        )?;
        let mut head = Vec::new();
        let mut chunk = [0u8; 512];
        let end = loop {
            let n = socket.read(&mut chunk)?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            head.extend_from_slice(&chunk[..n]);
            if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
        };
        if !head.starts_with(b"HTTP/1.1 101") {
            let status = String::from_utf8_lossy(&head[..head.len().min(40)]).into_owned();
            return Err(io::Error::other(format!("upgrade refused: {status}")));
        }
        self.inbox.extend_from_slice(&head[end..]);
        socket.set_nonblocking(true)?;
        Ok(socket)
    }

    fn send_input(&mut self, plan: &SwarmPlan, now: Instant) {
        if !self.tally.joined {
            return;
        }
        let message = if self.ship == 0 {
            ClientMessage::Restart
        } else {
            self.seq += 1;
            if now >= plan.counted_from {
                self.tally.inputs_sent += 1;
            }
            ClientMessage::Input {
                seq: self.seq,
                input: self.pilot.next_input(),
            }
        };
        self.send(&message.encode());
    }

    /// A masked binary frame, written now or as soon as the socket takes it.
    fn send(&mut self, payload: &[u8]) {
        self.frame(0x82, payload);
        self.flush();
    }

    /// Frames `payload` (at most 125 bytes: every client message is) after `first`.
    fn frame(&mut self, first: u8, payload: &[u8]) {
        let payload = &payload[..payload.len().min(125)];
        self.outbox.push(first);
        self.outbox.push(0x80 | payload.len() as u8);
        self.outbox.extend_from_slice(&MASK);
        let masked = payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]);
        self.outbox.extend(masked);
    }

    fn flush(&mut self) {
        let Some(socket) = self.socket.as_mut() else {
            return;
        };
        while !self.outbox.is_empty() {
            match socket.write(&self.outbox) {
                Ok(0) => return self.fail(),
                Ok(n) => {
                    self.outbox.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.fail(),
            }
        }
    }

    fn receive(&mut self, plan: &SwarmPlan, at: Instant) {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            let Some(socket) = self.socket.as_mut() else {
                return;
            };
            match socket.read(&mut chunk) {
                Ok(0) => return self.fail(),
                Ok(n) => {
                    self.inbox.extend_from_slice(&chunk[..n]);
                    if n < chunk.len() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.fail(),
            }
        }
        let mut taken = 0;
        while let Some((opcode, payload, len)) = server_frame(&self.inbox[taken..]) {
            let payload = payload.to_vec();
            taken += len;
            self.on_frame(plan, at, opcode, &payload);
        }
        self.inbox.drain(..taken);
        self.flush();
    }

    fn on_frame(&mut self, plan: &SwarmPlan, at: Instant, opcode: u8, payload: &[u8]) {
        let counted = at >= plan.counted_from;
        match opcode {
            // Close: the server ended the game for this player.
            0x8 => self.fail(),
            // A ping: the pong carries its payload back.
            0x9 => self.frame(0x8a, payload),
            0x2 => {
                if counted {
                    self.tally.bytes += payload.len() as u64;
                    self.tally.frames += 1;
                }
                self.on_message(payload, counted, at);
            }
            _ => {}
        }
    }

    fn on_message(&mut self, payload: &[u8], counted: bool, at: Instant) {
        if payload.first() == Some(&kind::UPDATE) {
            if let (Some((step, kind)), true) = (update_head(payload), counted) {
                self.tally.updates += 1;
                self.tally.full_updates += u64::from(kind == UpdateKind::Full);
                self.tally.lateness.arrived(step, at);
            }
            return;
        }
        match payload.first() {
            Some(&kind::WELCOME | &kind::YOUR_SHIP | &kind::ERROR) => {}
            _ => return,
        }
        match ServerMessage::decode(payload) {
            Ok(ServerMessage::Welcome(welcome)) => {
                self.tally.joined = true;
                self.ship = welcome.ship_id;
            }
            Ok(ServerMessage::YourShip { ship_id }) => {
                self.tally.deaths += u64::from(ship_id == 0 && counted);
                self.ship = ship_id;
            }
            Ok(ServerMessage::Error { code, message }) if !self.tally.joined => {
                tracing::warn!(player = %self.recruit.name, code, message, "join refused");
                self.fail();
            }
            _ => {}
        }
    }

    fn fail(&mut self) {
        self.socket = None;
        self.tally.failed = true;
    }
}

/// The step and kind of an update message, read no further.
fn update_head(payload: &[u8]) -> Option<(u32, UpdateKind)> {
    let mut r = Reader::new(payload.get(1..)?);
    let _last_input_seq = r.u32("last_input_seq").ok()?;
    let step = r.u32("step").ok()?;
    let kind = match r.u8("kind").ok()? {
        0 => UpdateKind::Full,
        1 => UpdateKind::Delta,
        _ => return None,
    };
    Some((step, kind))
}

/// The first whole frame of `bytes` from the server (unmasked): its opcode,
/// payload and length in all.
fn server_frame(bytes: &[u8]) -> Option<(u8, &[u8], usize)> {
    let (&b0, &b1) = (bytes.first()?, bytes.get(1)?);
    let (len, at): (usize, usize) = match b1 & 0x7f {
        126 => (
            usize::from(u16::from_be_bytes([*bytes.get(2)?, *bytes.get(3)?])),
            4,
        ),
        127 => {
            let be: [u8; 8] = bytes.get(2..10)?.try_into().ok()?;
            (usize::try_from(u64::from_be_bytes(be)).ok()?, 10)
        }
        short => (usize::from(short), 2),
    };
    let payload = bytes.get(at..at.checked_add(len)?)?;
    Some((b0 & 0x0f, payload, at + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_update_no_further_than_its_head() {
        let frame = [kind::UPDATE, 9, 0, 0, 0, 30, 0, 0, 0, 1, 0xff];
        assert_eq!(update_head(&frame), Some((30, UpdateKind::Delta)));
        assert_eq!(update_head(&frame[..9]), None);
        assert_eq!(
            update_head(&[kind::UPDATE, 9, 0, 0, 0, 30, 0, 0, 0, 7]),
            None
        );
    }

    #[test]
    fn reads_server_frames_of_every_length_form() {
        let short = [0x82, 2, 7, 8, 0x82];
        assert_eq!(server_frame(&short), Some((2, &[7u8, 8][..], 4)));
        let mut medium = vec![0x82, 126, 1, 0];
        medium.extend(vec![5u8; 256]);
        assert_eq!(
            server_frame(&medium).map(|(_, p, n)| (p.len(), n)),
            Some((256, 260))
        );
        let mut long = vec![0x88, 127, 0, 0, 0, 0, 0, 0, 0, 2, 3, 232];
        long.push(0);
        assert_eq!(
            server_frame(&long).map(|(op, p, _)| (op, p.len())),
            Some((8, 2))
        );
        assert_eq!(server_frame(&medium[..100]), None);
        assert_eq!(server_frame(&[0x82]), None);
    }
}
