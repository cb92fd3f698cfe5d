//! A protocol-level client: connects over a real WebSocket, joins, sends
//! inputs and keeps a mirror of the world from the updates, as the browser
//! does. Used by the integration tests, the load tool and the benchmark.
//! `reconnect` adds what a browser does after a drop; `pilot` steers.

pub mod lateness;
pub mod pilot;
pub mod reconnect;
pub mod swarm;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use thiserror::Error;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::header::{COOKIE, SET_COOKIE};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::protocol::{
    ClientMessage, DecodeError, Join, MirrorError, ScoreRow, ServerMessage, Welcome, WorldMirror,
};
use crate::sim::Input;

/// What one socket read may take. tungstenite zero-fills this much of its
/// buffer before every read (128 KiB by default, most of a player's CPU);
/// a frame longer than this is read in several pieces.
const READ_CHUNK: usize = 8 * 1024;

#[derive(Debug, Error)]
pub enum ClientError {
    #[error("connecting to {url} failed: {source}")]
    Connect {
        url: String,
        source: Box<tokio_tungstenite::tungstenite::Error>,
    },
    #[error("sending to the server failed: {0}")]
    Send(Box<tokio_tungstenite::tungstenite::Error>),
    #[error("reading from the server failed: {0}")]
    Receive(Box<tokio_tungstenite::tungstenite::Error>),
    #[error("the server sent a frame that does not decode: {0}")]
    Decode(#[from] DecodeError),
    #[error("the server's update does not fit the mirrored world: {0}")]
    Mirror(#[from] MirrorError),
    #[error("the server closed the connection (code {code:?}: {reason})")]
    Closed { code: Option<u16>, reason: String },
    #[error("the server answered join with error {code}: {message}")]
    Refused { code: u16, message: String },
    #[error("the server sent a text frame, which the protocol does not use")]
    TextFrame,
    #[error("nothing matched within {0:?}")]
    Timeout(Duration),
}

/// What arrives on the socket.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Message(ServerMessage),
    Closed { code: Option<u16>, reason: String },
}

/// A raw protocol connection (the bad-input tests send arbitrary frames on it).
pub struct Connection {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub bytes_received: u64,
    pub frames_received: u64,
}

impl Connection {
    pub async fn connect(url: &str) -> Result<Connection, ClientError> {
        Ok(Self::connect_with_cookie(url, None).await?.0)
    }

    /// Connects presenting `cookie` (`name=value`, as a browser sends a load
    /// balancer's sticky cookie); returns the connection and the first cookie
    /// the response sets, as `name=value`.
    pub async fn connect_with_cookie(
        url: &str,
        cookie: Option<&str>,
    ) -> Result<(Connection, Option<String>), ClientError> {
        let failed = |e| ClientError::Connect {
            url: url.to_owned(),
            source: Box::new(e),
        };
        let mut request = url.into_client_request().map_err(failed)?;
        if let Some(value) = cookie.and_then(|c| HeaderValue::from_str(c).ok()) {
            request.headers_mut().insert(COOKIE, value);
        }
        let config = WebSocketConfig::default().read_buffer_size(READ_CHUNK);
        // Inputs go out one by one as a browser sends them, never held back.
        let (ws, response) =
            tokio_tungstenite::connect_async_with_config(request, Some(config), true)
                .await
                .map_err(failed)?;
        let set_cookie = response
            .headers()
            .get(SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|pair| pair.trim().to_owned());
        let conn = Connection {
            ws,
            bytes_received: 0,
            frames_received: 0,
        };
        Ok((conn, set_cookie))
    }

    /// This end's address, as the server sees it in its logs.
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        match self.ws.get_ref() {
            MaybeTlsStream::Plain(tcp) => tcp.local_addr().ok(),
            _ => None,
        }
    }

    pub async fn send(&mut self, message: &ClientMessage) -> Result<(), ClientError> {
        self.send_binary(message.encode()).await
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) -> Result<(), ClientError> {
        self.ws
            .send(Message::Binary(bytes.into()))
            .await
            .map_err(|e| ClientError::Send(Box::new(e)))
    }

    pub async fn send_text(&mut self, text: &str) -> Result<(), ClientError> {
        self.ws
            .send(Message::Text(text.into()))
            .await
            .map_err(|e| ClientError::Send(Box::new(e)))
    }

    /// The next message or the close; WebSocket pings and pongs are skipped.
    pub async fn next_event(&mut self) -> Result<Event, ClientError> {
        loop {
            let frame = match self.ws.next().await {
                None => {
                    return Ok(Event::Closed {
                        code: None,
                        reason: String::new(),
                    })
                }
                Some(frame) => frame.map_err(|e| ClientError::Receive(Box::new(e)))?,
            };
            match frame {
                Message::Binary(bytes) => {
                    self.bytes_received += bytes.len() as u64;
                    self.frames_received += 1;
                    return Ok(Event::Message(ServerMessage::decode(&bytes)?));
                }
                Message::Close(frame) => {
                    let (code, reason) = match frame {
                        Some(f) => (Some(u16::from(f.code)), f.reason.to_string()),
                        None => (None, String::new()),
                    };
                    return Ok(Event::Closed { code, reason });
                }
                Message::Text(_) => return Err(ClientError::TextFrame),
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
            }
        }
    }

    /// Events until the close, at most `limit` long in all.
    pub async fn events_until_close(
        &mut self,
        limit: Duration,
    ) -> Result<(Vec<ServerMessage>, Option<u16>), ClientError> {
        let mut messages = Vec::new();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match tokio::time::timeout_at(deadline, self.next_event()).await {
                Err(_) => return Err(ClientError::Timeout(limit)),
                Ok(Ok(Event::Message(m))) => messages.push(m),
                Ok(Ok(Event::Closed { code, .. })) => return Ok((messages, code)),
                // A reset after the close frame counts as closed without a code.
                Ok(Err(ClientError::Receive(_))) => return Ok((messages, None)),
                Ok(Err(e)) => return Err(e),
            }
        }
    }
}

/// What one player knows: its welcome, the mirrored world, the scoreboard.
#[derive(Debug, Clone)]
pub struct PlayerView {
    pub welcome: Welcome,
    pub world: WorldMirror,
    pub scores: Vec<ScoreRow>,
    pub my_ship: u32,
    pub last_input_seq: u32,
    pub updates: u64,
}

impl PlayerView {
    fn new(welcome: Welcome) -> PlayerView {
        PlayerView {
            my_ship: welcome.ship_id,
            welcome,
            world: WorldMirror::default(),
            scores: Vec::new(),
            last_input_seq: 0,
            updates: 0,
        }
    }

    pub fn apply(&mut self, message: &ServerMessage) -> Result<(), ClientError> {
        match message {
            ServerMessage::Update {
                last_input_seq,
                body,
            } => {
                self.world.apply(body)?;
                self.last_input_seq = *last_input_seq;
                self.updates += 1;
            }
            ServerMessage::Score(rows) => self.scores = rows.clone(),
            ServerMessage::YourShip { ship_id } => self.my_ship = *ship_id,
            ServerMessage::Welcome(_)
            | ServerMessage::Pong { .. }
            | ServerMessage::Error { .. }
            | ServerMessage::Killed { .. } => {}
        }
        Ok(())
    }

    pub fn score_of_player(&self, player: u32) -> Option<&ScoreRow> {
        self.scores.iter().find(|r| r.player_id == player)
    }
}

/// A joined player.
pub struct GameClient {
    pub conn: Connection,
    pub view: PlayerView,
    next_seq: u32,
}

impl GameClient {
    /// Connects and joins; `name` and `token` may be empty.
    pub async fn join(
        url: &str,
        room: &str,
        name: &str,
        token: &str,
    ) -> Result<GameClient, ClientError> {
        Self::join_on(Connection::connect(url).await?, room, name, token).await
    }

    /// Joins over an open connection; `name` and `token` may be empty.
    pub async fn join_on(
        mut conn: Connection,
        room: &str,
        name: &str,
        token: &str,
    ) -> Result<GameClient, ClientError> {
        let join = Join {
            room: room.to_owned(),
            name: name.to_owned(),
            token: token.to_owned(),
        };
        conn.send(&ClientMessage::Join(join)).await?;
        match conn.next_event().await? {
            Event::Message(ServerMessage::Welcome(welcome)) => Ok(GameClient {
                conn,
                view: PlayerView::new(welcome),
                next_seq: 1,
            }),
            Event::Message(ServerMessage::Error { code, message }) => {
                Err(ClientError::Refused { code, message })
            }
            Event::Message(other) => Err(ClientError::Refused {
                code: 0,
                message: format!("expected welcome, got {other:?}"),
            }),
            Event::Closed { code, reason } => Err(ClientError::Closed { code, reason }),
        }
    }

    pub fn player_id(&self) -> u32 {
        self.view.welcome.player_id
    }

    /// Sends one input; returns its sequence number.
    pub async fn send_input(&mut self, input: Input) -> Result<u32, ClientError> {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.conn.send(&ClientMessage::Input { seq, input }).await?;
        Ok(seq)
    }

    pub async fn restart(&mut self) -> Result<(), ClientError> {
        self.conn.send(&ClientMessage::Restart).await
    }

    /// Receives one message and applies it to the view.
    pub async fn pump(&mut self) -> Result<ServerMessage, ClientError> {
        match self.conn.next_event().await? {
            Event::Message(message) => {
                self.view.apply(&message)?;
                Ok(message)
            }
            Event::Closed { code, reason } => Err(ClientError::Closed { code, reason }),
        }
    }

    /// Pumps until `done` holds for the view and the message just applied.
    pub async fn pump_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&PlayerView, &ServerMessage) -> bool,
    ) -> Result<ServerMessage, ClientError> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let message = tokio::time::timeout_at(deadline, self.pump())
                .await
                .map_err(|_| ClientError::Timeout(limit))??;
            if done(&self.view, &message) {
                return Ok(message);
            }
        }
    }
}
