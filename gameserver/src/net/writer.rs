//! A connection's sending half. Whoever sends to it (the room's step, a
//! relay, the reader) frames its message into the connection's buffer and,
//! when nothing is waiting there, writes it to the socket at once: no task
//! wakes up and no queue is crossed per message. Only what the socket does
//! not take goes to the connection's writer task, which waits until the
//! socket is writable; until then further messages only join the buffer,
//! and past `OUTBOX_CAPACITY` of them a room's updates for it are dropped
//! (a full one follows) rather than piling up. The writer task also sends
//! heartbeats, closes a connection that fell silent, and closes with the
//! right code (4000 when the server stops); when it ends, so does the
//! reading.

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use socket2::SockRef;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::frame::{put_binary, put_close, put_ping, put_pong};
use super::heard::LastHeard;
use crate::metrics::Metrics;
use crate::protocol::{close, kind};
use crate::room::{Outgoing, Sink, OUTBOX_CAPACITY};

/// A WebSocket ping this often; a socket silent for `IDLE_TIMEOUT` is closed.
pub const PING_EVERY: Duration = Duration::from_secs(10);
const CLOSE_FLUSH_LIMIT: Duration = Duration::from_secs(1);

/// One connection's socket, write side, shared by all who send to it.
pub struct Link {
    socket: OwnedWriteHalf,
    state: Mutex<State>,
    /// Tells the writer task there is something for it: bytes the socket
    /// did not take, or a close.
    wake: Notify,
    metrics: Arc<Metrics>,
}

#[derive(Default)]
struct State {
    /// Framed and not yet written.
    out: Vec<u8>,
    /// Messages whose bytes are (partly) in `out`.
    queued: usize,
    /// A close was asked for: nothing more is taken.
    close: Option<(u16, &'static str)>,
    /// The socket failed or the writer ended.
    over: bool,
}

impl Link {
    pub fn new(socket: OwnedWriteHalf, metrics: Arc<Metrics>) -> Link {
        Link {
            socket,
            state: Mutex::default(),
            wake: Notify::new(),
            metrics,
        }
    }

    /// Answers a ping of the client's.
    pub fn pong(&self, payload: &[u8]) {
        let mut state = self.lock();
        if !state.over {
            let idle = state.out.is_empty();
            put_pong(&mut state.out, payload);
            self.write_if(idle, &mut state);
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding it; a poisoned buffer is still whole frames.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// After framing into a buffer that was `idle` (empty), writes it;
    /// leaves what the socket does not take to the writer task.
    fn write_if(&self, idle: bool, state: &mut State) {
        if !idle {
            return;
        }
        if self.write_some(state).is_err() {
            state.over = true;
        }
        if !state.out.is_empty() || state.over {
            self.wake.notify_one();
        }
    }

    /// Writes what the socket takes now.
    fn write_some(&self, state: &mut State) -> io::Result<()> {
        let mut written = 0;
        while written < state.out.len() {
            match self.socket.try_write(&state.out[written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        state.out.drain(..written);
        if state.out.is_empty() {
            state.queued = 0;
        }
        Ok(())
    }
}

impl Sink for Link {
    fn try_send(&self, message: Outgoing) -> Result<(), TrySendError<Outgoing>> {
        let mut state = self.lock();
        if state.over || state.close.is_some() {
            return Err(TrySendError::Closed(message));
        }
        if state.queued >= OUTBOX_CAPACITY {
            return Err(TrySendError::Full(message));
        }
        let idle = state.out.is_empty();
        let len = match message {
            Outgoing::Close { code, reason } => {
                state.close = Some((code, reason));
                self.wake.notify_one();
                return Ok(());
            }
            Outgoing::Frame(bytes) => {
                put_binary(&mut state.out, &[&bytes]);
                bytes.len()
            }
            Outgoing::Update {
                last_input_seq,
                body,
            } => {
                let seq = last_input_seq.to_le_bytes();
                put_binary(&mut state.out, &[&[kind::UPDATE], &seq, &body]);
                5 + body.len()
            }
        };
        self.metrics.bytes_sent.add(len as u64);
        state.queued += 1;
        self.write_if(idle, &mut state);
        Ok(())
    }

    fn capacity(&self) -> usize {
        OUTBOX_CAPACITY.saturating_sub(self.lock().queued)
    }
}

pub struct Writer {
    pub peer: SocketAddr,
    pub link: Arc<Link>,
    pub heard: Arc<LastHeard>,
    /// The whole server is stopping.
    pub shutdown: CancellationToken,
    /// This connection is over (either half may say so).
    pub done: CancellationToken,
}

/// What the writer task was woken for.
enum Woken {
    Flush,
    Ping,
    Idle,
    Close(u16, &'static str),
}

impl Writer {
    pub async fn run(self) {
        let close = self.serve().await;
        let link = &self.link;
        if let Some((code, reason)) = close {
            {
                let mut state = link.lock();
                put_close(&mut state.out, code, reason);
                state.over = true;
            }
            let _ = tokio::time::timeout(CLOSE_FLUSH_LIMIT, self.flush()).await;
        }
        link.lock().over = true;
        // FIN now, whoever still holds the link; the reader stops at once
        // (its socket reads end of stream).
        let _ = SockRef::from(link.socket.as_ref()).shutdown(Shutdown::Both);
        self.done.cancel();
    }

    /// Until the connection ends; Some(close frame) to send.
    async fn serve(&self) -> Option<(u16, &'static str)> {
        let mut ping =
            tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
        let stopping = self.shutdown.cancelled();
        let ended = self.done.cancelled();
        let idle = tokio::time::sleep_until(self.heard.idle_at());
        tokio::pin!(stopping, ended, idle);
        loop {
            let woken = tokio::select! {
                biased;
                _ = &mut stopping => Woken::Close(close::SERVER_RESTARTING, "server restarting"),
                // The client closed or was refused: a close frame answers or ends it.
                _ = &mut ended => Woken::Close(close::NORMAL, ""),
                _ = self.link.wake.notified() => Woken::Flush,
                _ = ping.tick() => Woken::Ping,
                _ = &mut idle => Woken::Idle,
            };
            match woken {
                Woken::Close(code, reason) => return Some((code, reason)),
                Woken::Ping => {
                    let mut state = self.link.lock();
                    let idle = state.out.is_empty();
                    put_ping(&mut state.out);
                    self.link.write_if(idle, &mut state);
                }
                Woken::Idle => {
                    let idle_at = self.heard.idle_at();
                    if idle_at <= tokio::time::Instant::now() {
                        tracing::info!(peer = %self.peer, "connection idle: closed");
                        return Some((close::NORMAL, "idle"));
                    }
                    idle.as_mut().reset(idle_at);
                }
                Woken::Flush => {}
            }
            let asked = self.link.lock().close;
            if let Some(close) = asked {
                return Some(close);
            }
            tokio::select! {
                biased;
                _ = &mut stopping => return Some((close::SERVER_RESTARTING, "server restarting")),
                _ = &mut ended => return Some((close::NORMAL, "")),
                flushed = self.flush() => if flushed.is_err() {
                    return None;
                },
            }
        }
    }

    /// Writes all of the buffer, waiting for the socket as it needs; more
    /// may join the buffer meanwhile.
    async fn flush(&self) -> io::Result<()> {
        loop {
            {
                let mut state = self.link.lock();
                let written = self.link.write_some(&mut state);
                if written.is_err() {
                    state.over = true;
                }
                written?;
                if state.out.is_empty() {
                    return Ok(());
                }
            }
            self.link.socket.writable().await?;
        }
    }
}
