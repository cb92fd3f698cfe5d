//! A connection's receiving half: the join handshake, then inputs, restarts
//! and pings, every frame checked against docs/protocol.md. A bad frame costs
//! only this connection, and it is logged once, not once per frame.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket};
use bytes::Bytes;
use futures_util::stream::SplitStream;
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::limits::{InputLimiter, Verdict};
use super::writer::Writer;
use super::NetContext;
use crate::names::{PlayerName, RoomId};
use crate::protocol::{
    close, ClientMessage, DecodeError, ErrorCode, Join, ServerMessage, MAX_CLIENT_FRAME_BYTES,
};
use crate::room::{
    JoinError, JoinRequest, Joined, Outbox, Outgoing, RoomHandle, SendError, OUTBOX_CAPACITY,
};

const JOIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Nothing at all from the client (not even a pong to our pings) for this long ends it.
const IDLE_TIMEOUT: Duration = Duration::from_secs(35);
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
    done: CancellationToken,
    bad_input_logged: bool,
}

pub async fn serve(socket: WebSocket, peer: SocketAddr, ctx: Arc<NetContext>) {
    let (sink, mut stream) = socket.split();
    let (outbox, rx) = mpsc::channel(OUTBOX_CAPACITY);
    let done = CancellationToken::new();
    let writer = Writer {
        sink,
        outbox: rx,
        shutdown: ctx.shutdown.clone(),
        done: done.clone(),
        metrics: ctx.metrics.clone(),
    };
    ctx.tracker.spawn(writer.run());
    let mut conn = Connection {
        peer,
        ctx,
        outbox,
        done,
        bad_input_logged: false,
    };
    conn.run(&mut stream).await;
}

impl Connection {
    async fn run(&mut self, stream: &mut SplitStream<WebSocket>) {
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
        stream: &mut SplitStream<WebSocket>,
    ) -> Result<Option<(RoomHandle, Joined)>, Refusal> {
        let frame = tokio::select! {
            _ = self.done.cancelled() => return Ok(None),
            next = tokio::time::timeout(JOIN_TIMEOUT, stream.next()) => match next {
                Err(_) => return Err(Refusal::error(ErrorCode::JoinExpected, "no join within 10 s")),
                Ok(None) => return Ok(None),
                Ok(Some(Err(e))) => return read_failed(e).map(|()| None),
                Ok(Some(Ok(message))) => message,
            },
        };
        let join = match self.decode(frame)? {
            Some(ClientMessage::Join(join)) => join,
            Some(_) => {
                return Err(Refusal::error(
                    ErrorCode::JoinExpected,
                    "the first message must be join",
                ))
            }
            None => return Ok(None),
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
        stream: &mut SplitStream<WebSocket>,
        room: &RoomHandle,
        me: Joined,
    ) -> Result<(), Refusal> {
        let mut limiter = InputLimiter::new(Instant::now());
        // One timer and one cancellation wait for the whole connection: made
        // afresh for every frame, they cost more than the frame.
        let done = self.done.clone();
        let cancelled = done.cancelled();
        tokio::pin!(cancelled);
        let mut heard = tokio::time::Instant::now();
        let idle = tokio::time::sleep_until(heard + IDLE_TIMEOUT);
        tokio::pin!(idle);
        loop {
            let frame = tokio::select! {
                _ = &mut cancelled => return Ok(()),
                _ = &mut idle => {
                    if heard.elapsed() >= IDLE_TIMEOUT {
                        return Err(Refusal::close_only(close::NORMAL, "idle"));
                    }
                    idle.as_mut().reset(heard + IDLE_TIMEOUT);
                    continue;
                }
                next = stream.next() => match next {
                    None => return Ok(()),
                    Some(Err(e)) => return read_failed(e),
                    Some(Ok(message)) => message,
                },
            };
            let now = Instant::now();
            heard = now.into();
            let Some(message) = self.decode(frame)? else {
                continue;
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

    /// Ok(None) for frames that carry no message (pings, pongs, close).
    fn decode(&mut self, frame: Message) -> Result<Option<ClientMessage>, Refusal> {
        match frame {
            Message::Binary(bytes) if bytes.len() > MAX_CLIENT_FRAME_BYTES => {
                Err(Refusal::close_only(
                    close::TOO_LARGE,
                    format!(
                        "frame of {} bytes exceeds {MAX_CLIENT_FRAME_BYTES}",
                        bytes.len()
                    ),
                ))
            }
            Message::Binary(bytes) => ClientMessage::decode(&bytes)
                .map(Some)
                .map_err(Refusal::decode),
            Message::Text(_) => Err(Refusal::error(
                ErrorCode::Malformed,
                "text frames are not part of the protocol",
            )),
            Message::Ping(_) | Message::Pong(_) | Message::Close(_) => Ok(None),
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

/// A frame beyond what the WebSocket layer buffers is refused as too large
/// (1009) like any frame over the protocol's limit; other read errors mean
/// the peer is gone.
fn read_failed(e: axum::Error) -> Result<(), Refusal> {
    let inner = e.into_inner();
    match inner.downcast_ref::<tokio_tungstenite::tungstenite::Error>() {
        Some(tokio_tungstenite::tungstenite::Error::Capacity(c)) => Err(Refusal::close_only(
            close::TOO_LARGE,
            format!("frame over the WebSocket buffer limit: {c}"),
        )),
        _ => Ok(()),
    }
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
        _ => "",
    }
}
