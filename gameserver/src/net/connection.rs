//! A connection's receiving half: the join handshake, then inputs, restarts
//! and pings, every frame checked against docs/protocol.md. A bad frame costs
//! only this connection, and it is logged once, not once per frame.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::frame::{FrameError, FrameReader, Message, WS_PROTOCOL_ERROR};
use super::heard::LastHeard;
use super::incoming::{Incoming, ReadError};
use super::limits::{InputLimiter, Verdict};
use super::writer::{Link, Writer};
use super::NetContext;
use crate::names::{PlayerName, RoomId};
use crate::protocol::{close, ClientMessage, DecodeError, ErrorCode, Join, ServerMessage};
use crate::room::{JoinError, JoinRequest, Joined, Outbox, Outgoing, RoomHandle, SendError};

const JOIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the writer to deliver a closing error.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Why a connection is being refused, as the client will hear it.
struct Refusal {
    code: Option<ErrorCode>,
    close: u16,
    message: String,
}

impl Refusal {
    fn error(code: ErrorCode, message: impl Into<String>) -> Refusal {
        Refusal {
            close: code.close_code().unwrap_or(close::PROTOCOL_VIOLATION),
            code: Some(code),
            message: message.into(),
        }
    }

    fn close_only(close: u16, message: impl Into<String>) -> Refusal {
        Refusal {
            code: None,
            close,
            message: message.into(),
        }
    }

    /// A frame the WebSocket layer refuses: 1009 when it is too large for
    /// the protocol, 1002 when it breaks WebSocket itself.
    fn frame(e: FrameError) -> Refusal {
        let code = match e {
            FrameError::TooLarge(_) => close::TOO_LARGE,
            _ => WS_PROTOCOL_ERROR,
        };
        Refusal::close_only(code, e.to_string())
    }

    fn decode(e: DecodeError) -> Refusal {
        let code = match e {
            DecodeError::UnknownType(_) => ErrorCode::UnknownType,
            DecodeError::UnsupportedVersion(_) => ErrorCode::UnsupportedVersion,
            _ => ErrorCode::Malformed,
        };
        Refusal::error(code, e.to_string())
    }
}

struct Connection {
    peer: SocketAddr,
    ctx: Arc<NetContext>,
    outbox: Outbox,
    link: Arc<Link>,
    heard: Arc<LastHeard>,
    done: CancellationToken,
    bad_input_logged: bool,
}

/// Serves one upgraded socket; `early` holds what the client sent right
/// after its HTTP request.
pub async fn serve(socket: TcpStream, early: &[u8], peer: SocketAddr, ctx: Arc<NetContext>) {
    let (read, write) = socket.into_split();
    let link = Arc::new(Link::new(write, ctx.metrics.clone()));
    let done = CancellationToken::new();
    let heard = Arc::new(LastHeard::new(tokio::time::Instant::now()));
    let writer = Writer {
        peer,
        link: link.clone(),
        heard: heard.clone(),
        shutdown: ctx.shutdown.clone(),
        done: done.clone(),
    };
    ctx.tracker.spawn(writer.run());
    let mut conn = Connection {
        peer,
        ctx,
        outbox: Outbox::new(link.clone()),
        link,
        heard,
        done,
        bad_input_logged: false,
    };
    match FrameReader::with_bytes(early) {
        Ok(frames) => conn.run(&mut Incoming::new(read, frames)).await,
        Err(e) => conn.refuse(Refusal::frame(e)).await,
    }
}

impl Connection {
    async fn run(&mut self, stream: &mut Incoming) {
        let joined = match self.handshake(stream).await {
            Ok(Some(joined)) => joined,
            Ok(None) => return self.done.cancel(),
            Err(refusal) => return self.refuse(refusal).await,
        };
        let (handle, me) = joined;
        let outcome = self.play(stream, &handle, me).await;
        let _ = handle.leave(me.player, me.conn).await;
        match outcome {
            Err(refusal) => self.refuse(refusal).await,
            Ok(()) => self.done.cancel(),
        }
    }

    /// Waits for `join`. Ok(None): the client left or the server is stopping.
    async fn handshake(
        &mut self,
        stream: &mut Incoming,
    ) -> Result<Option<(RoomHandle, Joined)>, Refusal> {
        let done = self.done.clone();
        let deadline = tokio::time::Instant::now() + JOIN_TIMEOUT;
        let join = loop {
            let message = tokio::select! {
                _ = done.cancelled() => return Ok(None),
                next = tokio::time::timeout_at(deadline, stream.next()) => match next {
                    Err(_) => return Err(Refusal::error(ErrorCode::JoinExpected, "no join within 10 s")),
                    Ok(next) => match self.received(next)? {
                        Received::Message(message) => message,
                        Received::Control => continue,
                        Received::Gone => return Ok(None),
                    },
                },
            };
            match message {
                ClientMessage::Join(join) => break join,
                _ => {
                    return Err(Refusal::error(
                        ErrorCode::JoinExpected,
                        "the first message must be join",
                    ))
                }
            }
        };
        let (room, request) = self.join_request(join)?;
        match self.ctx.registry.join(&room, request).await {
            Ok(joined) => Ok(Some(joined)),
            Err(e @ JoinError::RoomFull(_)) => {
                Err(Refusal::error(ErrorCode::RoomFull, e.to_string()))
            }
            Err(e @ JoinError::ServerFull(_)) => {
                Err(Refusal::error(ErrorCode::ServerFull, e.to_string()))
            }
            Err(e @ JoinError::Unavailable { .. }) => {
                tracing::error!(peer = %self.peer, error = %e, "join failed");
                Err(Refusal::close_only(
                    close::INTERNAL_ERROR,
                    "room unavailable, try again",
                ))
            }
        }
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
                outbox: self.outbox.clone(),
            },
        ))
    }

    async fn play(
        &mut self,
        stream: &mut Incoming,
        room: &RoomHandle,
        me: Joined,
    ) -> Result<(), Refusal> {
        let mut limiter = InputLimiter::new(Instant::now());
        // Nothing but the socket is waited on per frame: the writer closes
        // an idle connection, and ends the reading when the connection ends.
        loop {
            let next = stream.next().await;
            let now = Instant::now();
            self.heard.heard(now.into());
            let message = match self.received(next)? {
                Received::Message(message) => message,
                Received::Control => continue,
                Received::Gone => return Ok(()),
            };
            match message {
                ClientMessage::Input { seq, input } => match limiter.check(now) {
                    Verdict::Accept => match room.input(me.player, me.conn, seq, input) {
                        Ok(()) => self.ctx.metrics.inputs_accepted.add(1),
                        Err(SendError::QueueFull) => self.ctx.metrics.inputs_dropped.add(1),
                        Err(SendError::RoomGone) => return Ok(()),
                    },
                    Verdict::Drop { notify } => {
                        self.ctx.metrics.inputs_dropped.add(1);
                        if notify {
                            self.log_bad_input("input rate exceeded; excess inputs dropped");
                            self.send_error(
                                ErrorCode::InputRateExceeded,
                                "input rate exceeded: excess dropped",
                            );
                        }
                    }
                    Verdict::Close => {
                        return Err(Refusal::close_only(
                            close::TOO_MANY_INPUTS,
                            "too many inputs",
                        ));
                    }
                },
                // Restarts share the input bucket: a flood of them would
                // otherwise fill the room's queue and cost other players inputs.
                ClientMessage::Restart => match limiter.check(now) {
                    Verdict::Accept => {
                        if room.restart(me.player, me.conn).await.is_err() {
                            return Ok(());
                        }
                    }
                    Verdict::Drop { .. } => self.ctx.metrics.inputs_dropped.add(1),
                    Verdict::Close => {
                        return Err(Refusal::close_only(
                            close::TOO_MANY_INPUTS,
                            "too many inputs",
                        ));
                    }
                },
                ClientMessage::Ping { echo } => {
                    let pong = ServerMessage::Pong { echo }.encode();
                    let _ = self.outbox.try_send(Outgoing::Frame(Bytes::from(pong)));
                }
                ClientMessage::Join(_) => {
                    return Err(Refusal::error(
                        ErrorCode::AlreadyJoined,
                        "join was already accepted",
                    ));
                }
            }
        }
    }

    /// What a read brought: a protocol message, a control frame dealt with
    /// here (a ping is answered), or the end of the client's side.
    fn received(
        &mut self,
        next: Result<Option<Message<'_>>, ReadError>,
    ) -> Result<Received, Refusal> {
        let message = match next {
            Ok(Some(message)) => message,
            // The peer is gone: nothing to tell it.
            Ok(None) | Err(ReadError::Io(_)) => return Ok(Received::Gone),
            Err(ReadError::Frame(e)) => return Err(Refusal::frame(e)),
        };
        match message {
            Message::Binary(bytes) => ClientMessage::decode(bytes)
                .map(Received::Message)
                .map_err(Refusal::decode),
            Message::Text => Err(Refusal::error(
                ErrorCode::Malformed,
                "text frames are not part of the protocol",
            )),
            Message::Ping(payload) => {
                self.link.pong(payload);
                Ok(Received::Control)
            }
            Message::Pong => Ok(Received::Control),
            // The writer answers it with a close frame as the connection ends.
            Message::Close(_) => Ok(Received::Gone),
        }
    }

    fn send_error(&self, code: ErrorCode, message: &str) {
        let frame = ServerMessage::Error {
            code: code as u16,
            message: message.to_owned(),
        }
        .encode();
        let _ = self.outbox.try_send(Outgoing::Frame(Bytes::from(frame)));
    }

    /// Tells the client why (error, then close code) and ends the connection.
    async fn refuse(&mut self, refusal: Refusal) {
        self.ctx
            .metrics
            .bad_frames
            .add(u64::from(refusal.close != close::NORMAL));
        self.log_bad_input(&refusal.message);
        if let Some(code) = refusal.code {
            self.send_error(code, &refusal.message);
        }
        let reason = close_reason(refusal.close);
        if self
            .outbox
            .try_send(Outgoing::Close {
                code: refusal.close,
                reason,
            })
            .is_ok()
        {
            // The writer ends the connection once the close frame is out.
            let _ = tokio::time::timeout(CLOSE_GRACE, self.done.cancelled()).await;
        }
        self.done.cancel();
    }

    fn log_bad_input(&mut self, why: &str) {
        if !self.bad_input_logged {
            self.bad_input_logged = true;
            tracing::warn!(peer = %self.peer, why, "refused client input (logged once per connection)");
        }
    }
}

/// What one read from the client amounts to.
enum Received {
    Message(ClientMessage),
    Control,
    Gone,
}

fn close_reason(code: u16) -> &'static str {
    match code {
        close::TOO_LARGE => "frame too large",
        close::PROTOCOL_VIOLATION => "protocol violation",
        close::TOO_MANY_INPUTS => "too many inputs",
        close::FULL => "server or room full",
        close::INVALID_ROOM_OR_NAME => "invalid room id or name",
        close::UNSUPPORTED_VERSION => "unsupported protocol version",
        close::INTERNAL_ERROR => "internal error",
        WS_PROTOCOL_ERROR => "WebSocket protocol error",
        _ => "",
    }
}
