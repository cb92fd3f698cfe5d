//! Puts the layers together and runs them until shutdown: stop accepting,
//! close every socket with 4000, stop the rooms, then return.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::http::{self, AppState};
use crate::metrics::Metrics;
use crate::net::NetContext;
use crate::room::Registry;

/// How long connections and rooms get to finish after shutdown begins.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);

#[derive(Debug, Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("HTTP server on {addr} failed: {source}")]
    Serve {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

pub async fn bind(config: &Config) -> Result<TcpListener, ServerError> {
    let addr = SocketAddr::new(config.bind, config.port);
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })
}

/// Serves on `listener` until `shutdown` is cancelled.
pub async fn run(
    config: &Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    let addr = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: SocketAddr::new(config.bind, config.port),
        source,
    })?;
    let metrics = Arc::new(Metrics::default());
    let tracker = TaskTracker::new();
    let registry = Registry::new(
        config.room_config(),
        config.max_rooms as usize,
        metrics.clone(),
        shutdown.clone(),
        tracker.clone(),
    );
    let net = Arc::new(NetContext {
        registry,
        metrics,
        shutdown: shutdown.clone(),
        tracker: tracker.clone(),
    });
    let state = AppState {
        net,
        connections: Arc::new(Semaphore::new(config.max_connections as usize)),
    };
    let app = http::router(state).into_make_service_with_connect_info::<SocketAddr>();
    tracing::info!(%addr, bots = config.bots, update_rate = config.update_rate, "game server listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .await
        .map_err(|source| ServerError::Serve { addr, source })?;
    tracker.close();
    if tokio::time::timeout(DRAIN_LIMIT, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            tasks = tracker.len(),
            "shutdown: tasks still running after the drain limit"
        );
    }
    tracing::info!("game server stopped");
    Ok(())
}
