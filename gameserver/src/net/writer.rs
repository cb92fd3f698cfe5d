//! A connection's sending half: drains its outbox onto the socket, sends
//! heartbeats, and closes with the right code (4000 when the server stops).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::stream::SplitSink;
use futures_util::SinkExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::protocol::{close, encode_update_frame};
use crate::room::Outgoing;

/// A WebSocket ping this often; the reader closes a socket silent for `IDLE_TIMEOUT`.
pub const PING_EVERY: Duration = Duration::from_secs(10);
const CLOSE_FLUSH_LIMIT: Duration = Duration::from_secs(1);

pub struct Writer {
    pub sink: SplitSink<WebSocket, Message>,
    pub outbox: mpsc::Receiver<Outgoing>,
    /// The whole server is stopping.
    pub shutdown: CancellationToken,
    /// This connection is over (either half may say so).
    pub done: CancellationToken,
    pub metrics: Arc<Metrics>,
}

impl Writer {
    pub async fn run(mut self) {
        let mut ping =
            tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
        // Waited for once, not once per frame.
        let (shutdown, done) = (self.shutdown.clone(), self.done.clone());
        let stopping = shutdown.cancelled();
        let ended = done.cancelled();
        tokio::pin!(stopping, ended);
        let close = loop {
            let message = tokio::select! {
                biased;
                _ = &mut stopping => break Some((close::SERVER_RESTARTING, "server restarting")),
                _ = &mut ended => break None,
                next = self.outbox.recv() => match next {
                    None => break Some((close::NORMAL, "")),
                    Some(Outgoing::Close { code, reason }) => break Some((code, reason)),
                    Some(Outgoing::Frame(bytes)) => Message::Binary(bytes),
                    Some(Outgoing::Update { last_input_seq, body }) => {
                        Message::Binary(encode_update_frame(last_input_seq, &body).into())
                    }
                },
                _ = ping.tick() => Message::Ping(Default::default()),
            };
            if let Message::Binary(bytes) = &message {
                self.metrics.bytes_sent.add(bytes.len() as u64);
            }
            if self.sink.send(message).await.is_err() {
                break None;
            }
        };
        if let Some((code, reason)) = close {
            let frame = CloseFrame {
                code,
                reason: reason.into(),
            };
            let _ = self.sink.send(Message::Close(Some(frame))).await;
        }
        // Completes the close handshake (or answers the peer's close) without
        // waiting long on a peer that is already gone.
        let _ = tokio::time::timeout(CLOSE_FLUSH_LIMIT, self.sink.close()).await;
        self.done.cancel();
    }
}
