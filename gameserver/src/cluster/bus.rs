//! The node's pub/sub: one dedicated SUBSCRIBE connection for every room
//! channel this node listens on (the commands of rooms it owns, the events of
//! rooms it relays), and one publisher task that sends PUBLISHes in order,
//! batched into one round trip, over the store's connection.
//!
//! The subscriber reconnects (resolving Redis's name again) when its
//! connection drops and when the store met a failover; then it subscribes to
//! every channel again and tells each relay that messages may have been lost.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::StreamExt;
use redis::aio::PubSubSink;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::wire::{FromOwner, ToOwner};
use crate::metrics::Metrics;
use crate::names::RoomId;
use crate::persist::{RedisStore, RetryPause};
use crate::room::{Command, JoinReply, Joiner, Peer, RoomHandle, Tokens};

/// Messages waiting to be published; beyond this they are dropped (an
/// update lost shows as a gap and the relay asks for a full one).
const PUBLISH_QUEUE: usize = 8192;
/// PUBLISHes sent in one round trip at most.
const PUBLISH_BATCH: usize = 256;
/// A relay's inbox; beyond this its messages are dropped (a gap, as above).
pub const RELAY_INBOX: usize = 1024;

/// Where the messages of one channel go.
#[derive(Clone)]
pub enum Route {
    /// Commands for a room this node owns.
    Room(RoomHandle),
    /// Events for a room this node relays.
    Relay {
        room: RoomId,
        inbox: mpsc::Sender<RelayInput>,
    },
}

/// What a relay hears from the bus.
#[derive(Debug)]
pub enum RelayInput {
    Owner(FromOwner),
    /// The subscription was re-made: messages may have been lost.
    Resync,
}

pub struct Bus {
    store: RedisStore,
    metrics: Arc<Metrics>,
    /// Held while the routes change or the connection is re-made, so no
    /// channel is ever left unsubscribed.
    sink: tokio::sync::Mutex<Option<PubSubSink>>,
    routes: Mutex<HashMap<String, Route>>,
}

impl Bus {
    pub fn spawn(store: RedisStore, metrics: Arc<Metrics>, stop: CancellationToken) -> Arc<Bus> {
        let bus = Arc::new(Bus {
            store,
            metrics,
            sink: tokio::sync::Mutex::new(None),
            routes: Mutex::default(),
        });
        tokio::spawn(bus.clone().run(stop));
        bus
    }

    /// Routes `channel` and subscribes to it, waiting for Redis to confirm
    /// (a relay must listen before it speaks) unless Redis is away: then
    /// the subscription is made when the connection is back.
    pub async fn subscribe(&self, channel: String, route: Route) {
        let mut sink = self.sink.lock().await;
        self.lock_routes().insert(channel.clone(), route);
        if let Some(sink) = sink.as_mut() {
            let limit = self.store.options().op_timeout;
            if let Ok(Err(e)) = tokio::time::timeout(limit, sink.subscribe(&channel)).await {
                tracing::debug!(channel, error = %e, "SUBSCRIBE failed; made again on reconnect");
            }
        }
    }

    pub async fn unsubscribe(&self, channel: &str) {
        let mut sink = self.sink.lock().await;
        self.lock_routes().remove(channel);
        if let Some(sink) = sink.as_mut() {
            let limit = self.store.options().op_timeout;
            let _ = tokio::time::timeout(limit, sink.unsubscribe(channel)).await;
        }
    }

    async fn run(self: Arc<Self>, stop: CancellationToken) {
        let mut failovers = self.store.failovers();
        let mut pause = RetryPause::default();
        let mut first = true;
        loop {
            let connected = tokio::select! {
                _ = stop.cancelled() => return,
                connected = self.connect() => connected,
            };
            let Some(mut stream) = connected else {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(pause.after_failure()) => {}
                }
                continue;
            };
            pause.reset();
            if !first {
                tracing::info!("pub/sub reconnected");
                self.resync_relays();
            }
            first = false;
            failovers.borrow_and_update();
            let why = loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = failovers.changed() => break "Redis failed over",
                    message = stream.next() => match message {
                        Some(message) => self.dispatch(&message),
                        None => break "the connection was lost",
                    },
                }
            };
            *self.sink.lock().await = None;
            tracing::warn!("pub/sub: {why}; reconnecting");
        }
    }

    /// A new connection subscribed to every routed channel. Connecting
    /// happens outside the lock; subscribing under it, so a route added
    /// meanwhile is either in this list or finds the new sink.
    async fn connect(&self) -> Option<redis::aio::PubSubStream> {
        let pubsub = match self.store.pubsub().await {
            Ok(pubsub) => pubsub,
            Err(e) => {
                tracing::debug!(error = %e, "pub/sub connection failed");
                return None;
            }
        };
        let (mut new_sink, stream) = pubsub.split();
        let mut sink = self.sink.lock().await;
        let channels: Vec<String> = self.lock_routes().keys().cloned().collect();
        if !channels.is_empty() {
            let limit = self.store.options().op_timeout;
            match tokio::time::timeout(limit, new_sink.subscribe(&channels)).await {
                Ok(Ok(())) => {}
                _ => return None,
            }
        }
        *sink = Some(new_sink);
        Some(stream)
    }

    fn resync_relays(&self) {
        for route in self.lock_routes().values() {
            if let Route::Relay { inbox, .. } = route {
                let _ = inbox.try_send(RelayInput::Resync);
            }
        }
    }

    fn dispatch(&self, message: &redis::Msg) {
        let channel = message.get_channel_name();
        let Some(route) = self.lock_routes().get(channel).cloned() else {
            return;
        };
        let payload = message.get_payload_bytes();
        let delivered = match route {
            Route::Room(handle) => match ToOwner::decode(payload) {
                Ok(command) => handle.try_send(room_command(command)).is_ok(),
                Err(e) => return bad_message(channel, &e),
            },
            Route::Relay { room, inbox } => match FromOwner::decode(payload, &room) {
                Ok(event) => inbox.try_send(RelayInput::Owner(event)).is_ok(),
                Err(e) => return bad_message(channel, &e),
            },
        };
        if !delivered {
            self.metrics.relay_dropped.add(1);
        }
    }

    fn lock_routes(&self) -> std::sync::MutexGuard<'_, HashMap<String, Route>> {
        // Nothing panics while holding this lock; recover the map if anything ever did.
        self.routes.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn bad_message(channel: &str, e: &crate::protocol::DecodeError) {
    tracing::warn!(channel, error = %e, "dropped a message between nodes that does not decode");
}

/// A relayed player's command as the room takes it.
fn room_command(command: ToOwner) -> Command {
    match command {
        ToOwner::Join {
            node,
            conn,
            name,
            presented,
            fresh,
            rejoin,
        } => Command::Join {
            joiner: Joiner {
                conn,
                name: super::wire::player_name(name.as_deref()),
                tokens: Tokens {
                    presented,
                    fresh,
                    texts: None,
                },
                peer: Peer::Remote(node),
                rejoin,
            },
            reply: JoinReply::Remote,
        },
        ToOwner::Input {
            conn,
            player,
            seq,
            input,
        } => Command::Input {
            player,
            conn,
            seq,
            input,
        },
        ToOwner::Restart { conn, player } => Command::Restart { player, conn },
        ToOwner::Leave { conn, player } => Command::Leave { player, conn },
        ToOwner::NeedFull { conns } => Command::NeedFull { conns },
        ToOwner::Present { node, conns } => Command::Present { node, conns },
    }
}

/// Publishes in order, in batches, off every room's path.
#[derive(Clone)]
pub struct Publisher {
    tx: mpsc::Sender<(String, Bytes)>,
}

impl Publisher {
    pub fn spawn(store: RedisStore, metrics: Arc<Metrics>) -> Publisher {
        let (tx, rx) = mpsc::channel(PUBLISH_QUEUE);
        tokio::spawn(publish(store, metrics, rx));
        Publisher { tx }
    }

    /// Never waits; a message that does not fit is dropped and counted.
    pub fn send(&self, channel: String, payload: Bytes, metrics: &Metrics) {
        if self.tx.try_send((channel, payload)).is_err() {
            metrics.relay_dropped.add(1);
        }
    }
}

async fn publish(
    store: RedisStore,
    metrics: Arc<Metrics>,
    mut rx: mpsc::Receiver<(String, Bytes)>,
) {
    let mut batch = Vec::with_capacity(PUBLISH_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < PUBLISH_BATCH {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        if let Err(e) = store.publish(&batch).await {
            metrics.relay_dropped.add(batch.len() as u64);
            tracing::debug!(error = %e, "messages between nodes not published");
        }
        batch.clear();
    }
}
