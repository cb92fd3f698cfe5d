//! The WebSocket endpoint: the opening handshake (`upgrade`); then each
//! connection's socket is served by the poller of a lane (`poller`), read at
//! every tick before the lane's rooms step (`client`: the join, inputs and
//! the per-connection limits of docs/protocol.md; `frame`: WebSocket
//! framing), and written by whoever sends to it (`link`).

mod client;
mod frame;
mod limits;
mod link;
mod poller;
mod refusal;
mod upgrade;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use poller::Pollers;
pub use upgrade::{Handshake, HandshakeError};

use crate::cluster::Registry;
use crate::metrics::Metrics;

/// What the connections need from the server.
#[derive(Clone)]
pub struct Shared {
    pub registry: Arc<Registry>,
    pub metrics: Arc<Metrics>,
    /// Cancelled when the server stops: sockets close with 4000.
    pub shutdown: CancellationToken,
    pub tracker: TaskTracker,
}

/// The WebSocket endpoint's state: what connections share, and the pollers
/// that serve them.
pub struct NetContext {
    pub shared: Shared,
    pub pollers: Pollers,
}

impl NetContext {
    /// Starts a poller on each lane of the registry's rooms.
    pub fn start(shared: Shared) -> std::io::Result<NetContext> {
        let pollers = Pollers::start(shared.registry.lanes(), &shared)?;
        Ok(NetContext { shared, pollers })
    }
}
