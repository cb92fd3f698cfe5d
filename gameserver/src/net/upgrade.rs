//! The WebSocket opening handshake (RFC 6455 4.2): checks the request,
//! answers 101 with the accept key, and hands the connection's own TCP
//! socket to a poller once hyper lets go of it, so that frames are read and
//! written on the socket itself (`frame`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use hyper_util::server::conn::auto::upgrade::downcast;
use thiserror::Error;
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use super::NetContext;

/// The kernel's send buffer per socket (it books twice this). Left to
/// itself it grows to megabytes for a client that stops reading: seconds of
/// stale updates, and that much memory per socket. Past this and
/// `OUTBOX_CAPACITY` messages, a slow client's updates are dropped and it
/// gets a full one when it catches up.
const SEND_BUFFER: usize = 64 * 1024;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum HandshakeError {
    #[error("a WebSocket handshake is a GET")]
    NotGet,
    #[error("the Connection header does not ask for an upgrade")]
    NoUpgrade,
    #[error("the Upgrade header does not name websocket")]
    NotWebSocket,
    #[error("only WebSocket version 13 is spoken")]
    Version,
    #[error("the Sec-WebSocket-Key header is missing")]
    NoKey,
    #[error("this connection cannot be upgraded")]
    NotUpgradable,
}

impl IntoResponse for HandshakeError {
    fn into_response(self) -> Response {
        let status = match self {
            HandshakeError::NotGet => StatusCode::METHOD_NOT_ALLOWED,
            HandshakeError::NotUpgradable => StatusCode::UPGRADE_REQUIRED,
            _ => StatusCode::BAD_REQUEST,
        };
        (status, self.to_string()).into_response()
    }
}

/// A checked handshake, waiting to be answered.
pub struct Handshake {
    accept: HeaderValue,
    on_upgrade: OnUpgrade,
}

impl Handshake {
    pub fn check(request: &mut Request<Body>) -> Result<Handshake, HandshakeError> {
        if request.method() != Method::GET {
            return Err(HandshakeError::NotGet);
        }
        let headers = request.headers();
        if !has_token(headers, header::CONNECTION, "upgrade") {
            return Err(HandshakeError::NoUpgrade);
        }
        if !has_token(headers, header::UPGRADE, "websocket") {
            return Err(HandshakeError::NotWebSocket);
        }
        if headers
            .get(header::SEC_WEBSOCKET_VERSION)
            .map(|v| v.as_bytes())
            != Some(b"13")
        {
            return Err(HandshakeError::Version);
        }
        let key = headers
            .get(header::SEC_WEBSOCKET_KEY)
            .ok_or(HandshakeError::NoKey)?;
        let accept = HeaderValue::from_str(&derive_accept_key(key.as_bytes()))
            .map_err(|_| HandshakeError::NoKey)?;
        let on_upgrade = request
            .extensions_mut()
            .remove::<OnUpgrade>()
            .ok_or(HandshakeError::NotUpgradable)?;
        Ok(Handshake { accept, on_upgrade })
    }

    /// Answers 101 and serves the connection once hyper hands it over;
    /// `permit` is held until it ends.
    pub fn accept(
        self,
        peer: SocketAddr,
        ctx: Arc<NetContext>,
        permit: OwnedSemaphorePermit,
    ) -> Response {
        let tracker = ctx.shared.tracker.clone();
        tracker.spawn(async move {
            let upgraded = match self.on_upgrade.await {
                Ok(upgraded) => upgraded,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "WebSocket upgrade did not complete");
                    return;
                }
            };
            let Ok(parts) = downcast::<TokioIo<TcpStream>>(upgraded) else {
                tracing::error!(%peer, "WebSocket upgrade: the connection is not a TCP socket");
                return;
            };
            // From here the socket is read at the ticks of a lane, not by tokio.
            let socket = match parts.io.into_inner().into_std() {
                Ok(socket) => socket,
                Err(e) => {
                    tracing::error!(%peer, error = %e, "WebSocket upgrade: the socket could not be taken over");
                    return;
                }
            };
            if let Err(e) = socket2::SockRef::from(&socket).set_send_buffer_size(SEND_BUFFER) {
                tracing::debug!(%peer, error = %e, "send buffer not bounded");
            }
            ctx.shared.metrics.connections.inc();
            ctx.pollers.adopt(socket, parts.read_buf.to_vec(), peer, permit);
        });
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, self.accept);
        response
    }
}

/// Whether a comma-separated header holds `token` (case-insensitive).
fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|value| {
        value.to_str().is_ok_and(|v| {
            v.split(',')
                .any(|part| part.trim().eq_ignore_ascii_case(token))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> Request<Body> {
        let mut builder = Request::get("/ws");
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let mut request = builder.body(Body::empty()).unwrap();
        request
            .extensions_mut()
            .insert(hyper::upgrade::on(Request::new(())));
        request
    }

    const GOOD: [(&str, &str); 4] = [
        ("connection", "keep-alive, Upgrade"),
        ("upgrade", "WebSocket"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];

    #[test]
    fn accepts_a_browser_handshake_with_the_rfc_accept_key() {
        let handshake = Handshake::check(&mut request(&GOOD)).expect("a good handshake");
        // RFC 6455 section 1.3's example.
        assert_eq!(handshake.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn refuses_what_is_not_a_websocket_handshake() {
        let without = |name: &str| -> Vec<(&str, &str)> {
            GOOD.iter().copied().filter(|(k, _)| *k != name).collect()
        };
        let cases = [
            (without("connection"), HandshakeError::NoUpgrade),
            (without("upgrade"), HandshakeError::NotWebSocket),
            (without("sec-websocket-version"), HandshakeError::Version),
            (without("sec-websocket-key"), HandshakeError::NoKey),
        ];
        for (headers, error) in cases {
            assert_eq!(Handshake::check(&mut request(&headers)).err(), Some(error));
        }
        let mut post = request(&GOOD);
        *post.method_mut() = Method::POST;
        assert_eq!(
            Handshake::check(&mut post).err(),
            Some(HandshakeError::NotGet)
        );
    }
}
