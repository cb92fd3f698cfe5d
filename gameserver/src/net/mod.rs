//! The WebSocket endpoint: one reader and one writer task per connection,
//! with the per-connection limits of docs/protocol.md.

mod connection;
mod limits;
mod writer;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use connection::serve;

use crate::cluster::Registry;
use crate::metrics::Metrics;

/// What every connection needs from the server.
pub struct NetContext {
    pub registry: Arc<Registry>,
    pub metrics: Arc<Metrics>,
    /// Cancelled when the server stops: sockets close with 4000.
    pub shutdown: CancellationToken,
    pub tracker: TaskTracker,
}
