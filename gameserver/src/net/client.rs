//! One connection as its poller serves it: the join handshake, then inputs,
//! restarts and pings, every frame checked against docs/protocol.md; a bad
//! frame costs only this connection, and it is logged once, not once per
//! frame. Heartbeats, the idle limit and the close handshake live here too.
//! Nothing here waits: the poller calls in at every tick.

use std::io::{self, Read};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot::{self, error::TryRecvError};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;

use super::frame::{FrameReader, Message};
use super::limits::{InputLimiter, Verdict};
use super::link::Link;
use super::refusal::{close_reason, Refusal};
use super::Shared;
use crate::names::{PlayerName, RoomId};
use crate::protocol::{close, ClientMessage, ErrorCode, Join, ServerMessage};
use crate::room::{
    Command, JoinError, JoinRequest, Joined, Outbox, Outgoing, RoomHandle, SendError, Sink,
};

const JOIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Nothing at all from the client (not even a pong to our pings) for this long ends it.
const IDLE_TIMEOUT: Duration = Duration::from_secs(35);
/// A WebSocket ping this often.
const PING_EVERY: Duration = Duration::from_secs(10);
/// How long a closing connection gets to deliver its last frames.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// Reads per connection and tick (of `READ_CHUNK` each): more than any
/// client within its rate sends; a flood waits for the next tick.
const READS_PER_TICK: usize = 8;

type JoinAnswer = Result<(RoomHandle, Joined), JoinError>;

enum Stage {
    /// Waiting for `join`, until then.
    Joining {
        until: Instant,
    },
    /// The room is answering the join; later frames wait in the buffer.
    Asking(oneshot::Receiver<JoinAnswer>),
    Playing {
        room: RoomHandle,
        me: Joined,
        limiter: InputLimiter,
    },
    /// The close frame is queued; the socket shuts at the latest then.
    Closing {
        until: Instant,
    },
    Done,
}

pub struct Client {
    peer: SocketAddr,
    socket: Arc<TcpStream>,
    link: Arc<Link>,
    frames: FrameReader,
    stage: Stage,
    heard: Instant,
    pinged: Instant,
    /// The socket may hold more than was read: read again at the next tick
    /// (the join was being answered, or the reads of a tick ran out).
    unread: bool,
    bad_input_logged: bool,
    /// The connection's place under the process's limit.
    _permit: OwnedSemaphorePermit,
}

impl Client {
    pub fn new(
        socket: Arc<TcpStream>,
        frames: FrameReader,
        peer: SocketAddr,
        permit: OwnedSemaphorePermit,
        shared: &Shared,
    ) -> Client {
        let now = Instant::now();
        Client {
            link: Arc::new(Link::new(socket.clone(), shared.metrics.clone())),
            peer,
            socket,
            frames,
            stage: Stage::Joining {
                until: now + JOIN_TIMEOUT,
            },
            heard: now,
            pinged: now,
            unread: false,
            bad_input_logged: false,
            _permit: permit,
        }
    }

    pub fn socket(&self) -> &TcpStream {
        &self.socket
    }

    pub fn is_done(&self) -> bool {
        matches!(self.stage, Stage::Done)
    }

    /// The lane of its room, once it plays in one that runs here.
    pub fn room_lane(&self) -> Option<usize> {
        match &self.stage {
            Stage::Playing { room, .. } => room.lane(),
            _ => None,
        }
    }

    /// Acts on what came with the HTTP request, and on what is already here.
    pub fn start(&mut self, shared: &Shared, now: Instant) {
        self.take_messages(shared, now);
        self.read(shared, now);
    }

    /// Ends a connection that never started.
    pub fn abandon(&mut self, shared: &Shared) {
        self.end(shared);
    }

    /// Reads what the socket holds (it said it has something) and acts on it.
    pub fn read(&mut self, shared: &Shared, now: Instant) {
        self.unread = false;
        for _ in 0..READS_PER_TICK {
            match self.stage {
                // A closing connection reads nothing more: it ends once its
                // close frame is out.
                Stage::Done | Stage::Closing { .. } => return,
                Stage::Asking(_) => return self.listen_while_asking(now),
                _ => {}
            }
            let spare = self.frames.spare();
            let room = spare.len();
            match (&*self.socket).read(spare) {
                Ok(0) => return self.end(shared),
                Ok(n) => {
                    self.frames.filled(n);
                    self.heard = now;
                    self.take_messages(shared, now);
                    // A short read emptied the socket; the next arrival
                    // says so again.
                    if n < room {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // The peer is gone: nothing to tell it.
                Err(_) => return self.end(shared),
            }
        }
        self.unread = true;
    }

    /// While the room decides on the join, what arrives waits for its
    /// answer (the connection ends once it came, as it would have). But a
    /// client that leaves meanwhile (the socket ends, or a close frame) is
    /// marked at once, so that its join goes no further: arriving late, it
    /// would replace the client's next connection.
    fn listen_while_asking(&mut self, now: Instant) {
        self.unread = true;
        let spare = self.frames.spare();
        if spare.is_empty() {
            return;
        }
        match (&*self.socket).read(spare) {
            Ok(0) => self.link.left(),
            Ok(n) => {
                self.frames.filled(n);
                self.heard = now;
                if self.frames.holds_close() {
                    self.link.left();
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => self.link.left(),
        }
    }

    /// What a tick brings besides reading: the join's answer, what the link
    /// wants (bytes to write, a close a room asked for), heartbeats, limits,
    /// and the server stopping.
    pub fn tick(&mut self, shared: &Shared, now: Instant, stopping: bool) {
        if self.unread && !matches!(self.stage, Stage::Asking(_)) {
            self.read(shared, now);
        }
        if let Stage::Asking(answer) = &mut self.stage {
            match answer.try_recv() {
                Ok(answer) => self.joined(shared, answer, now),
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Closed) => self.room_gone(shared, now),
            }
        }
        if self.link.wants_attention() {
            if let Some((code, reason)) = self.link.attend() {
                self.close(shared, Some(code), reason, now);
            }
        }
        let due = match &self.stage {
            Stage::Done => Due::Nothing,
            Stage::Closing { until } if self.link.drained() || now >= *until => Due::End,
            Stage::Closing { .. } => Due::Nothing,
            _ if stopping => Due::Close(close::SERVER_RESTARTING, "server restarting"),
            Stage::Joining { until } if now >= *until => Due::JoinExpired,
            _ if now >= self.heard + IDLE_TIMEOUT => Due::Close(close::NORMAL, "idle"),
            _ if now >= self.pinged + PING_EVERY => Due::Ping,
            _ => Due::Nothing,
        };
        match due {
            Due::Nothing => {}
            Due::End => self.end(shared),
            Due::Close(code, reason) => {
                if reason == "idle" {
                    tracing::info!(peer = %self.peer, "connection idle: closed");
                }
                self.close(shared, Some(code), reason, now);
            }
            Due::JoinExpired => self.refuse(
                shared,
                Refusal::error(ErrorCode::JoinExpected, "no join within 10 s"),
                now,
            ),
            Due::Ping => {
                self.pinged = now;
                self.link.ping();
            }
        }
    }

    /// The messages whole in the buffer, as far as the stage takes them.
    fn take_messages(&mut self, shared: &Shared, now: Instant) {
        while matches!(self.stage, Stage::Joining { .. } | Stage::Playing { .. }) {
            let message = match self.frames.advance() {
                Ok(false) => return,
                Ok(true) => match self.frames.message() {
                    Some(message) => received(&self.link, message),
                    None => return,
                },
                Err(e) => Err(Refusal::frame(e)),
            };
            match message {
                Ok(Received::Message(message)) => self.on_message(shared, message, now),
                Ok(Received::Control) => {}
                Ok(Received::Close) => self.close(shared, Some(close::NORMAL), "", now),
                Err(refusal) => self.refuse(shared, refusal, now),
            }
        }
    }

    fn on_message(&mut self, shared: &Shared, message: ClientMessage, now: Instant) {
        let Stage::Playing { room, me, limiter } = &mut self.stage else {
            return match message {
                ClientMessage::Join(join) => self.ask_to_join(shared, join, now),
                _ => self.refuse(
                    shared,
                    Refusal::error(ErrorCode::JoinExpected, "the first message must be join"),
                    now,
                ),
            };
        };
        let metrics = &shared.metrics;
        let after = match message {
            ClientMessage::Input { seq, input } => match limiter.check(now.into_std()) {
                Verdict::Accept => match room.input(me.player, me.conn, seq, input) {
                    Ok(()) => {
                        metrics.inputs_accepted.add(1);
                        After::Nothing
                    }
                    Err(SendError::QueueFull) => {
                        metrics.inputs_dropped.add(1);
                        After::Nothing
                    }
                    Err(SendError::RoomGone) => After::RoomGone,
                },
                verdict => limited(verdict, metrics),
            },
            // Restarts share the input bucket: a flood of them would
            // otherwise fill the room's queue and cost other players inputs.
            ClientMessage::Restart => match limiter.check(now.into_std()) {
                Verdict::Accept => match room.try_restart(me.player, me.conn) {
                    Ok(()) => After::Nothing,
                    Err(SendError::QueueFull) => {
                        metrics.inputs_dropped.add(1);
                        After::Nothing
                    }
                    Err(SendError::RoomGone) => After::RoomGone,
                },
                Verdict::Drop { .. } => limited(Verdict::Drop { notify: false }, metrics),
                verdict => limited(verdict, metrics),
            },
            ClientMessage::Ping { echo } => {
                send_frame(&self.link, ServerMessage::Pong { echo }.encode());
                After::Nothing
            }
            ClientMessage::Join(_) => After::Refuse(Refusal::error(
                ErrorCode::AlreadyJoined,
                "join was already accepted",
            )),
        };
        match after {
            After::Nothing => {}
            After::RoomGone => self.room_gone(shared, now),
            After::Refuse(refusal) => self.refuse(shared, refusal, now),
            After::RateNotice => {
                self.log_bad_input("input rate exceeded; excess inputs dropped");
                self.send_error(
                    ErrorCode::InputRateExceeded,
                    "input rate exceeded: excess dropped",
                );
            }
        }
    }

    /// Hands the join to the room (it may have to be found or started first).
    fn ask_to_join(&mut self, shared: &Shared, join: Join, now: Instant) {
        let (room, request) = match self.join_request(join) {
            Ok(asked) => asked,
            Err(refusal) => return self.refuse(shared, refusal, now),
        };
        let (tell, answer) = oneshot::channel();
        let registry = shared.registry.clone();
        shared.tracker.spawn(async move {
            let _ = tell.send(registry.join(&room, request).await);
        });
        self.stage = Stage::Asking(answer);
    }

    fn join_request(&self, join: Join) -> Result<(RoomId, JoinRequest), Refusal> {
        let room = RoomId::parse(&join.room)
            .map_err(|e| Refusal::error(ErrorCode::InvalidRoom, e.to_string()))?;
        let name = PlayerName::parse(&join.name)
            .map_err(|e| Refusal::error(ErrorCode::InvalidName, e.to_string()))?;
        let token = Some(join.token).filter(|t| !t.is_empty());
        Ok((
            room,
            JoinRequest {
                name,
                token,
                outbox: self.link_outbox(),
            },
        ))
    }

    fn joined(&mut self, shared: &Shared, answer: JoinAnswer, now: Instant) {
        match answer {
            Ok((room, me)) => {
                self.stage = Stage::Playing {
                    room,
                    me,
                    limiter: InputLimiter::new(now.into_std()),
                };
                // Whatever came after the join waited for this.
                self.take_messages(shared, now);
                if self.unread {
                    self.read(shared, now);
                }
            }
            Err(e) => {
                if matches!(e, JoinError::Unavailable { .. }) {
                    tracing::error!(peer = %self.peer, error = %e, "join failed");
                }
                self.refuse(shared, Refusal::join(&e), now);
            }
        }
    }

    fn link_outbox(&self) -> Outbox {
        Outbox::new(self.link.clone())
    }

    fn send_error(&self, code: ErrorCode, message: &str) {
        let error = ServerMessage::Error {
            code: code as u16,
            message: message.to_owned(),
        };
        send_frame(&self.link, error.encode());
    }

    /// Tells the client why (error, then close code) and ends the connection.
    fn refuse(&mut self, shared: &Shared, refusal: Refusal, now: Instant) {
        shared
            .metrics
            .bad_frames
            .add(u64::from(refusal.counts_as_bad()));
        self.log_bad_input(&refusal.message);
        if let Some(code) = refusal.code {
            self.send_error(code, &refusal.message);
        }
        let code = refusal.close;
        self.close(shared, Some(code), close_reason(code), now);
    }

    /// Its room no longer runs here. The server is stopping (4000), or the
    /// room stopped under it: a close without a code, which the client
    /// takes for a dropped connection and reconnects.
    fn room_gone(&mut self, shared: &Shared, now: Instant) {
        let code = shared
            .shutdown
            .is_cancelled()
            .then_some(close::SERVER_RESTARTING);
        self.close(shared, code, "server restarting", now);
    }

    /// Sends the close frame; the socket shuts once it is out.
    fn close(&mut self, shared: &Shared, code: Option<u16>, reason: &str, now: Instant) {
        if matches!(self.stage, Stage::Closing { .. } | Stage::Done) {
            return;
        }
        self.leave(shared);
        self.link.close(code, reason);
        self.stage = Stage::Closing {
            until: now + CLOSE_GRACE,
        };
    }

    /// Ends at once: the peer is gone, or the close frame is out.
    fn end(&mut self, shared: &Shared) {
        self.leave(shared);
        self.link.over();
        let _ = self.socket.shutdown(Shutdown::Both);
        self.stage = Stage::Done;
    }

    /// The room hears the player left (its reconnect grace starts).
    fn leave(&mut self, shared: &Shared) {
        let Stage::Playing { room, me, .. } = &self.stage else {
            return;
        };
        let leave = Command::Leave {
            player: me.player,
            conn: me.conn,
        };
        if let Err(SendError::QueueFull) = room.try_send(leave) {
            // It must arrive, or the player would stay connected for ever.
            let (room, me) = (room.clone(), *me);
            shared.tracker.spawn(async move {
                let _ = room.leave(me.player, me.conn).await;
            });
        }
        self.stage = Stage::Done;
    }

    fn log_bad_input(&mut self, why: &str) {
        if !self.bad_input_logged {
            self.bad_input_logged = true;
            tracing::warn!(peer = %self.peer, why, "refused client input (logged once per connection)");
        }
    }
}

/// What a tick finds due.
enum Due {
    Nothing,
    End,
    Close(u16, &'static str),
    JoinExpired,
    Ping,
}

/// What a message from a playing client leads to, besides the room's part.
enum After {
    Nothing,
    RoomGone,
    Refuse(Refusal),
    /// Inputs over the rate were dropped: the client hears it (once a second).
    RateNotice,
}

/// An input or restart the limiter did not accept.
fn limited(verdict: Verdict, metrics: &crate::metrics::Metrics) -> After {
    match verdict {
        Verdict::Accept => After::Nothing,
        Verdict::Drop { notify } => {
            metrics.inputs_dropped.add(1);
            if notify {
                After::RateNotice
            } else {
                After::Nothing
            }
        }
        Verdict::Close => After::Refuse(Refusal::close_only(
            close::TOO_MANY_INPUTS,
            "too many inputs",
        )),
    }
}

/// A frame for the client; dropped when its queue is full (it is behind anyway).
fn send_frame(link: &Link, frame: Vec<u8>) {
    let _ = Sink::try_send(link, Outgoing::Frame(Bytes::from(frame)));
}

/// What one message from the client amounts to.
enum Received {
    Message(ClientMessage),
    Control,
    Close,
}

fn received(link: &Link, message: Message<'_>) -> Result<Received, Refusal> {
    match message {
        Message::Binary(bytes) => ClientMessage::decode(bytes)
            .map(Received::Message)
            .map_err(Refusal::decode),
        Message::Text => Err(Refusal::error(
            ErrorCode::Malformed,
            "text frames are not part of the protocol",
        )),
        Message::Ping(payload) => {
            link.pong(payload);
            Ok(Received::Control)
        }
        Message::Pong => Ok(Received::Control),
        Message::Close(_) => Ok(Received::Close),
    }
}
