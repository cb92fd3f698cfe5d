//! The WebSocket endpoint: the opening handshake (`upgrade`), then on the
//! connection's own TCP socket the frames (`frame`), one reader task
//! (`connection`) and one writer task (`writer`) per connection, with the
//! per-connection limits of docs/protocol.md.

mod connection;
mod frame;
mod heard;
mod incoming;
mod limits;
mod upgrade;
mod writer;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use upgrade::{Handshake, HandshakeError};

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
