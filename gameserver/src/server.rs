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
use crate::persist::{
    hydrate_with_retry, RedisStore, SnapshotWriter, StoreError, StoreOptions, WriterOptions,
};
use crate::ready::{Readiness, Stage};
use crate::room::{Persistence, Registry};

/// How long connections and rooms get to finish after shutdown begins.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);
/// How long the last snapshots get to reach Redis; with DRAIN_LIMIT this stays
/// well inside the 10 s ECS gives between SIGTERM and SIGKILL.
const FINAL_FLUSH_LIMIT: Duration = Duration::from_secs(3);
/// A Redis that does not answer at start delays the game at most this long.
const HYDRATION_LIMIT: Duration = Duration::from_secs(10);

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
    #[error("Redis is misconfigured: {0}")]
    Redis(#[from] StoreError),
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
    let store = open_store(config)?;
    let writer = store
        .clone()
        .map(|store| SnapshotWriter::spawn(store, WriterOptions::default()).0);
    let persistence = writer.clone().map(|writer| Persistence {
        writer,
        interval: config.snapshot_interval(),
    });
    let registry = Registry::with_persistence(
        config.room_config(),
        config.max_rooms as usize,
        metrics.clone(),
        shutdown.clone(),
        tracker.clone(),
        persistence,
    );
    let readiness = Arc::new(Readiness::new(Stage::Hydrating));
    tokio::spawn(hydrate(
        config.clone(),
        store.clone(),
        registry.clone(),
        readiness.clone(),
    ));
    tokio::spawn(drain_on(shutdown.clone(), readiness.clone()));
    let net = Arc::new(NetContext {
        registry,
        metrics,
        shutdown: shutdown.clone(),
        tracker: tracker.clone(),
    });
    let state = AppState {
        net,
        connections: Arc::new(Semaphore::new(config.max_connections as usize)),
        store,
        writer: writer.clone(),
        readiness,
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
    if let Some(writer) = writer {
        match writer.close(FINAL_FLUSH_LIMIT).await {
            Ok(()) => tracing::info!("shutdown: final snapshots written"),
            Err(e) => tracing::error!(error = %e, "shutdown: final snapshots lost"),
        }
    }
    tracing::info!("game server stopped");
    Ok(())
}

fn open_store(config: &Config) -> Result<Option<RedisStore>, ServerError> {
    if !config.redis_enabled {
        tracing::warn!("REDIS_ENABLED=false: no snapshots; rooms will not survive a restart");
        return Ok(None);
    }
    let store = RedisStore::open_with_password(
        config.redis_url.expose(),
        config.redis_password.as_ref().map(|p| p.expose()),
        StoreOptions::default(),
    )?;
    tracing::info!(redis = %store.target(), interval_ms = config.snapshot_interval_ms, "snapshots go to Redis");
    Ok(Some(store))
}

/// Restores saved rooms, then lets players in.
async fn hydrate(
    config: Config,
    store: Option<RedisStore>,
    registry: Arc<Registry>,
    readiness: Arc<Readiness>,
) {
    match store {
        Some(store) if config.hydration_enabled => {
            let grace = Duration::from_secs(config.reconnect_grace_secs);
            let hydration = hydrate_with_retry(&store, grace, HYDRATION_LIMIT).await;
            for room in hydration.rooms {
                if let Err(e) = registry.restore(room) {
                    tracing::error!(error = %e, "[HYDRATION] room skipped");
                }
            }
        }
        Some(_) => tracing::info!("[HYDRATION] disabled (GAME_HYDRATION_ENABLED=false): saved rooms ignored, starting fresh"),
        None => tracing::info!("[HYDRATION] Redis disabled: starting fresh"),
    }
    readiness.advance(Stage::Ready);
}

async fn drain_on(shutdown: CancellationToken, readiness: Arc<Readiness>) {
    shutdown.cancelled().await;
    readiness.advance(Stage::Draining);
}
