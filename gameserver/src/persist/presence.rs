//! This node's presence in Redis: one connection that does nothing but stay
//! subscribed to the node's own channel. Redis drops the subscription the
//! moment the process dies (the kernel closes its sockets), long before its
//! leases run out, so another node may take a crashed node's rooms at once
//! (`fence`'s ACQUIRE counts the channel's subscribers).
//!
//! The connection carries no other traffic, so no slow consumer limit or
//! busy reply can close it while the node lives. It never closes itself on a
//! slow answer either: a node that dropped its presence while alive would
//! lose its rooms. It reconnects when the connection is gone or the store
//! met a failover, like the bus (at once, then with the bus's `RetryPause`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::keys::presence_channel;
use super::store::{RedisStore, RetryPause};

/// Keeps the connection from looking idle to anything on the path.
const KEEPALIVE: Duration = Duration::from_secs(10);
/// A keepalive unanswered this long means the connection is gone.
const KEEPALIVE_LIMIT: Duration = Duration::from_secs(60);

/// Since when this node's presence has been subscribed without a break.
#[derive(Clone, Debug, Default)]
pub struct Presence {
    since: Arc<Mutex<Option<Instant>>>,
}

impl Presence {
    /// Subscribes `node`'s presence channel and keeps it subscribed until `stop`.
    pub fn spawn(store: RedisStore, node: String, stop: CancellationToken) -> Presence {
        let presence = Presence::default();
        tokio::spawn(presence.clone().run(store, presence_channel(&node), stop));
        presence
    }

    /// How long the presence has been subscribed on its current connection;
    /// zero while it is not.
    pub fn steady_for(&self) -> Duration {
        self.lock().map_or(Duration::ZERO, |since| since.elapsed())
    }

    fn set(&self, since: Option<Instant>) {
        *self.lock() = since;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        // Nothing panics while holding this lock; recover it if anything ever did.
        self.since.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn run(self, store: RedisStore, channel: String, stop: CancellationToken) {
        let mut failovers = store.failovers();
        let mut pause = RetryPause::default();
        loop {
            failovers.borrow_and_update();
            let why = tokio::select! {
                _ = stop.cancelled() => return,
                why = self.hold(&store, &channel) => why,
                _ = failovers.changed() => "Redis failed over",
            };
            let was_subscribed = self.steady_for() > Duration::ZERO;
            self.set(None);
            tracing::debug!(channel, "presence: {why}; subscribing again");
            if was_subscribed {
                pause.reset();
                continue;
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(pause.after_failure()) => {}
            }
        }
    }

    /// Subscribes and stays subscribed; returns why it stopped.
    async fn hold(&self, store: &RedisStore, channel: &str) -> &'static str {
        let Ok(pubsub) = store.pubsub().await else {
            return "Redis did not answer";
        };
        let (mut sink, mut stream) = pubsub.split();
        let limit = store.options().op_timeout;
        match tokio::time::timeout(limit, sink.subscribe(channel)).await {
            Ok(Ok(())) => {}
            _ => return "SUBSCRIBE failed",
        }
        self.set(Some(Instant::now()));
        let mut keepalive = tokio::time::interval(KEEPALIVE);
        loop {
            tokio::select! {
                message = stream.next() => if message.is_none() {
                    return "the connection was lost";
                },
                _ = keepalive.tick() => {
                    // Any reply will do: subscribed, Redis answers PING with an array.
                    let ping = sink.ping::<redis::Value>();
                    if let Ok(Err(_)) | Err(_) = tokio::time::timeout(KEEPALIVE_LIMIT, ping).await {
                        return "the keepalive was not answered";
                    }
                }
            }
        }
    }
}
