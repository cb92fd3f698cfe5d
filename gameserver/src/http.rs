//! The HTTP surface: the browser client, the room list, the WebSocket upgrade,
//! /health, /ready, /metrics and /cluster.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::sync::Semaphore;

use crate::net::{Handshake, NetContext};
use crate::persist::{RedisHealth, RedisStore, SnapshotWriter};
use crate::ready::Readiness;
use crate::room_list::RoomList;
use crate::static_files;

/// /health answers within this even when Redis hangs (ALB health checks time out at 5 s).
const HEALTH_PROBE_LIMIT: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct AppState {
    pub net: Arc<NetContext>,
    /// One permit per open WebSocket: the process-wide connection limit.
    pub connections: Arc<Semaphore>,
    /// None when Redis is disabled.
    pub store: Option<RedisStore>,
    pub writer: Option<SnapshotWriter>,
    /// This node's id in the cluster; None when Redis is disabled.
    pub node: Option<String>,
    pub readiness: Arc<Readiness>,
}

pub fn router(state: AppState) -> Router {
    let room_list = Arc::new(RoomList::new(state.net.shared.registry.clone()));
    static_files::routes()
        .route("/rooms", get(rooms).with_state(room_list))
        .route("/ws", get(websocket))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/cluster", get(cluster))
        .with_state(state)
}

async fn rooms(State(list): State<Arc<RoomList>>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        list.json().await.to_string(),
    )
        .into_response()
}

async fn websocket(
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    State(state): State<AppState>,
    mut request: Request,
) -> Response {
    let handshake = match Handshake::check(&mut request) {
        Ok(handshake) => handshake,
        Err(refused) => return refused.into_response(),
    };
    if !state.readiness.is_ready() {
        // The browser client retries with backoff; by then the rooms are back.
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: restoring rooms or shutting down",
        )
            .into_response();
    }
    let Ok(permit) = state.connections.clone().try_acquire_owned() else {
        state.net.shared.metrics.connections_refused.add(1);
        tracing::warn!(%peer, "WebSocket refused: connection limit reached");
        return (StatusCode::SERVICE_UNAVAILABLE, "too many connections").into_response();
    };
    handshake.accept(peer, state.net.clone(), permit)
}

async fn health(State(state): State<AppState>) -> Response {
    let health = RedisHealth::probe(state.store.as_ref(), HEALTH_PROBE_LIMIT).await;
    let status =
        StatusCode::from_u16(health.http_status()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        health.body(),
    )
        .into_response()
}

async fn ready(State(state): State<AppState>) -> Response {
    let stage = state.readiness.stage();
    let status = if state.readiness.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = format!(
        r#"{{"ready":{},"stage":"{}"}}"#,
        state.readiness.is_ready(),
        stage.name()
    );
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// This node's rooms and who owns each.
async fn cluster(State(state): State<AppState>) -> Response {
    let body = state
        .net
        .shared
        .registry
        .listing_json(state.node.as_deref());
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    let mut body = state.net.shared.metrics.render();
    if let Some(writer) = &state.writer {
        body.push_str(&render_snapshot_stats(writer));
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

fn render_snapshot_stats(writer: &SnapshotWriter) -> String {
    use std::sync::atomic::Ordering::Relaxed;
    let stats = writer.stats();
    let counters = [
        (
            "spaaace_snapshots_submitted_total",
            "Snapshots rooms handed to the writer.",
            stats.submitted.load(Relaxed),
        ),
        (
            "spaaace_snapshots_superseded_total",
            "Snapshots replaced by a newer one before being written.",
            stats.superseded.load(Relaxed),
        ),
        (
            "spaaace_snapshots_written_total",
            "Snapshots written to Redis.",
            stats.written.load(Relaxed),
        ),
        (
            "spaaace_snapshot_bytes_written_total",
            "Bytes of snapshots written to Redis.",
            stats.bytes_written.load(Relaxed),
        ),
        (
            "spaaace_snapshot_write_failures_total",
            "Snapshot batches Redis did not take (retried).",
            stats.failed_batches.load(Relaxed),
        ),
    ];
    let mut out = String::new();
    for (name, help, value) in counters {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n"
        ));
    }
    let backlog = writer.backlog();
    out.push_str(&format!("# HELP spaaace_snapshot_backlog Snapshots waiting for Redis.\n# TYPE spaaace_snapshot_backlog gauge\nspaaace_snapshot_backlog {backlog}\n"));
    out
}
