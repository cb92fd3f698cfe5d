//! A connection's sending side, shared by all who send to it (the room's
//! step, a relay, the connection itself). A message is framed into the
//! connection's buffer and, when nothing was waiting there, written to the
//! socket at once: no task wakes up and no queue is crossed. What the
//! socket does not take stays for the connection's poller, which tries
//! again at every tick; meanwhile further messages only join the buffer,
//! and past `OUTBOX_CAPACITY` of them a room's updates for it are dropped
//! (a full one follows) rather than piling up.

use std::io::{self, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc::error::TrySendError;

use super::frame::{put_binary, put_close, put_ping, put_pong};
use crate::metrics::Metrics;
use crate::protocol::kind;
use crate::room::{Outgoing, Sink, OUTBOX_CAPACITY};

/// A buffer grown past this by a backlog is given back once it drains.
const KEPT_BUFFER: usize = 16 * 1024;

pub struct Link {
    socket: Arc<TcpStream>,
    state: Mutex<State>,
    /// Set when the poller has something to do: bytes the socket did not
    /// take, or a close asked for.
    attention: AtomicBool,
    metrics: Arc<Metrics>,
}

#[derive(Default)]
struct State {
    /// Framed and not yet written.
    out: Vec<u8>,
    /// Messages whose bytes are (partly) in `out`.
    queued: usize,
    /// A room asked to close the connection with this.
    close: Option<(u16, &'static str)>,
    /// Closing or failed: nothing more is taken.
    over: bool,
    /// The client left, or is leaving, before its join was answered.
    left: bool,
    /// A room is sending a step's messages: they are written at `release`.
    held: bool,
    /// The socket took less than it was given: the poller writes the rest.
    stalled: bool,
}

impl Link {
    pub fn new(socket: Arc<TcpStream>, metrics: Arc<Metrics>) -> Link {
        Link {
            socket,
            state: Mutex::default(),
            attention: AtomicBool::new(false),
            metrics,
        }
    }

    /// Whether the poller should `attend` to it.
    pub fn wants_attention(&self) -> bool {
        self.attention.load(Ordering::Relaxed)
    }

    /// Writes what waits; returns the close a room asked for, if any.
    pub fn attend(&self) -> Option<(u16, &'static str)> {
        self.attention.store(false, Ordering::Relaxed);
        let mut state = self.lock();
        self.write_some(&mut state);
        if !state.out.is_empty() {
            self.attention.store(true, Ordering::Relaxed);
        }
        state.close.take()
    }

    /// Whether everything framed has been written.
    pub fn drained(&self) -> bool {
        self.lock().out.is_empty()
    }

    /// Answers a ping of the client's.
    pub fn pong(&self, payload: &[u8]) {
        self.control(|out| put_pong(out, payload));
    }

    pub fn ping(&self) {
        self.control(put_ping);
    }

    /// The last frame (without a code: the client takes it for a dropped
    /// connection): nothing is taken after it.
    pub fn close(&self, code: Option<u16>, reason: &str) {
        self.control(|out| put_close(out, code, reason));
        self.over();
    }

    /// Nothing more is taken (the socket is gone).
    pub fn over(&self) {
        self.lock().over = true;
    }

    /// The client is gone or going while its join waits: the join must go
    /// no further (`Sink::is_closed`), though a close may still be sent.
    pub fn left(&self) {
        self.lock().left = true;
    }

    fn control(&self, frame: impl FnOnce(&mut Vec<u8>)) {
        let mut state = self.lock();
        if state.over {
            return;
        }
        frame(&mut state.out);
        self.write_if_free(&mut state);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding it; a poisoned buffer is still whole frames.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes the buffer unless it is held, or the socket is full (then
    /// the poller writes it).
    fn write_if_free(&self, state: &mut State) {
        if !state.held && !state.stalled {
            self.write_some(state);
        }
        if !state.out.is_empty() {
            self.attention.store(true, Ordering::Relaxed);
        }
    }

    /// Writes what the socket takes now. A socket that fails takes nothing
    /// more; the poller sees it end when it reads.
    fn write_some(&self, state: &mut State) {
        let mut written = 0;
        while written < state.out.len() {
            match (&*self.socket).write(&state.out[written..]) {
                Ok(0) => {
                    state.over = true;
                    break;
                }
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    state.stalled = true;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    state.over = true;
                    written = state.out.len();
                }
            }
        }
        state.out.drain(..written);
        if state.out.is_empty() {
            state.queued = 0;
            state.stalled = false;
            if state.out.capacity() > KEPT_BUFFER {
                state.out = Vec::new();
            }
        }
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
        let len = match message {
            Outgoing::Close { code, reason } => {
                state.close = Some((code, reason));
                self.attention.store(true, Ordering::Relaxed);
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
        self.write_if_free(&mut state);
        Ok(())
    }

    fn capacity(&self) -> usize {
        OUTBOX_CAPACITY.saturating_sub(self.lock().queued)
    }

    fn is_closed(&self) -> bool {
        let state = self.lock();
        state.over || state.left || state.close.is_some()
    }

    fn hold(&self) {
        self.lock().held = true;
    }

    fn release(&self) {
        let mut state = self.lock();
        state.held = false;
        self.write_if_free(&mut state);
    }
}
