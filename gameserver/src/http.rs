//! The HTTP surface: the browser client, the WebSocket upgrade, /health and /metrics.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::sync::Semaphore;

use crate::net::{self, NetContext};

const INDEX_HTML: &str = include_str!("../static/index.html");
const CLIENT_JS: &str = include_str!("../static/client.js");
/// tungstenite's own bound on what it buffers; the protocol's 256-byte limit
/// is checked per frame so that the client gets close code 1009.
const WS_BUFFER_LIMIT: usize = 64 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub net: Arc<NetContext>,
    /// One permit per open WebSocket: the process-wide connection limit.
    pub connections: Arc<Semaphore>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/client.js", get(client_js))
        .route("/ws", get(websocket))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn index() -> Response {
    static_file(INDEX_HTML, "text/html; charset=utf-8")
}

async fn client_js() -> Response {
    static_file(CLIENT_JS, "text/javascript; charset=utf-8")
}

fn static_file(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

async fn websocket(
    ws: WebSocketUpgrade,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    State(state): State<AppState>,
) -> Response {
    let Ok(permit) = state.connections.clone().try_acquire_owned() else {
        state.net.metrics.connections_refused.add(1);
        tracing::warn!(%peer, "WebSocket refused: connection limit reached");
        return (StatusCode::SERVICE_UNAVAILABLE, "too many connections").into_response();
    };
    let ctx = state.net.clone();
    ws.max_message_size(WS_BUFFER_LIMIT)
        .max_frame_size(WS_BUFFER_LIMIT)
        .on_upgrade(move |socket| {
            let tracker = ctx.tracker.clone();
            tracker.track_future(async move {
                ctx.metrics.connections.inc();
                net::serve(socket, peer, ctx.clone()).await;
                ctx.metrics.connections.dec();
                drop(permit);
            })
        })
}

async fn health() -> Response {
    let body = r#"{"status":"healthy","redis":"disabled"}"#;
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    let body = state.net.metrics.render();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}
