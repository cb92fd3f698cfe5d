//! Puts the layers together and runs them until shutdown: stop accepting,
//! close every socket with 4000, stop the rooms, write their last
//! snapshots, release their leases (other nodes take them over at once),
//! then return.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cluster::{node_id, Cluster, ClusterSettings, Registry};
use crate::config::Config;
use crate::http::{self, AppState};
use crate::metrics::Metrics;
use crate::net::{self, NetContext};
use crate::persist::{claim_with_retry, RedisStore, StoreError, StoreOptions};
use crate::ready::{Readiness, Stage};
use crate::room::Persistence;

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
    #[error("cannot watch the players' sockets: {0}")]
    Pollers(std::io::Error),
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
    let cluster = match store.clone() {
        Some(store) => Some(start_cluster(config, store, metrics.clone()).await),
        None => None,
    };
    let registry = match &cluster {
        Some(cluster) => Registry::clustered(
            cluster.clone(),
            Persistence {
                writer: cluster.writer.clone(),
                interval: config.snapshot_interval(),
            },
            config.room_config(),
            config.max_rooms as usize,
            metrics.clone(),
            shutdown.clone(),
            tracker.clone(),
        ),
        None => Registry::new(
            config.room_config(),
            config.max_rooms as usize,
            metrics.clone(),
            shutdown.clone(),
            tracker.clone(),
        ),
    };
    let readiness = Arc::new(Readiness::new(Stage::Hydrating));
    tokio::spawn(hydrate(
        config.clone(),
        cluster.clone(),
        registry.clone(),
        readiness.clone(),
    ));
    tokio::spawn(drain_on(shutdown.clone(), readiness.clone()));
    let shared = net::Shared {
        registry,
        metrics,
        shutdown: shutdown.clone(),
        tracker: tracker.clone(),
    };
    let net = Arc::new(NetContext::start(shared).map_err(ServerError::Pollers)?);
    let state = AppState {
        net,
        connections: Arc::new(Semaphore::new(config.max_connections as usize)),
        store,
        writer: cluster.as_ref().map(|c| c.writer.clone()),
        node: cluster.as_ref().map(|c| c.node.to_string()),
        readiness,
    };
    let app = http::router(state).into_make_service_with_connect_info::<SocketAddr>();
    tracing::info!(%addr, bots = config.bots, update_rate = config.update_rate, "game server listening");
    // A frame goes out when the room's step is done with it: Nagle's
    // algorithm would hold it until the client acknowledged the previous one.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set on a connection");
        }
    });
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
    if let Some(cluster) = cluster {
        cluster.drain(FINAL_FLUSH_LIMIT).await;
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

async fn start_cluster(config: &Config, store: RedisStore, metrics: Arc<Metrics>) -> Arc<Cluster> {
    let settings = ClusterSettings {
        node: node_id::resolve(config.node_id.clone()).await,
        lease_ttl: config.lease_ttl(),
        grace: Duration::from_secs(config.reconnect_grace_secs),
        hydrate: config.hydration_enabled,
    };
    Cluster::start(store, settings, metrics)
}

/// Takes the saved rooms no other node runs, then lets players in.
async fn hydrate(
    config: Config,
    cluster: Option<Arc<Cluster>>,
    registry: Arc<Registry>,
    readiness: Arc<Readiness>,
) {
    match cluster {
        Some(cluster) if config.hydration_enabled => {
            let grace = Duration::from_secs(config.reconnect_grace_secs);
            let hydration =
                claim_with_retry(&cluster.store, &cluster.fence, grace, HYDRATION_LIMIT).await;
            for claimed in hydration.rooms {
                let (room, epoch) = (claimed.room.room_id.clone(), claimed.epoch);
                if let Err(e) = registry.restore(claimed) {
                    tracing::error!(error = %e, "[HYDRATION] room skipped");
                    // Not run here: let another node (or a join) take it.
                    let _ = cluster.store.release(&cluster.fence, &room, epoch).await;
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
