//! What the browser client does after a drop (`static/js/connection.js`):
//! reconnect through the load balancer with its sticky cookie and its token,
//! backing off, and resume as the same player. Each thing the player lives
//! through is handed to an observer with the moment it happened, so a
//! rehearsal measures outages from the protocol, not from the server's logs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::pilot::Pilot;
use super::{ClientError, Connection, GameClient};
use crate::protocol::{close, ServerMessage, UpdateKind};

/// A connection from which nothing arrives this long is dead (connection.js
/// `SILENT_LIMIT_MS`): updates come many times a second.
const SILENT_LIMIT: Duration = Duration::from_secs(6);

/// The browser's reconnect delays: after a 4000 (a planned restart) the first
/// retry comes at once, otherwise 250 ms doubling up to 5 s; each delay is
/// drawn between half and all of that, so players of one dead node do not
/// come back in one wave.
#[derive(Debug, Default, Clone)]
pub struct Backoff {
    attempt: u32,
}

impl Backoff {
    const RESTART_FIRST: Duration = Duration::from_millis(150);
    const BASE: Duration = Duration::from_millis(250);
    const MAX: Duration = Duration::from_secs(5);
    const MAX_ATTEMPT: u32 = 10;

    /// The delay before the next attempt after a close with `code` (None: the
    /// connection failed or dropped); `jitter` in [0, 1].
    pub fn next_delay(&mut self, code: Option<u16>, jitter: f64) -> Duration {
        let base = if code == Some(close::SERVER_RESTARTING) && self.attempt == 0 {
            Self::RESTART_FIRST
        } else {
            Self::BASE.saturating_mul(1 << self.attempt).min(Self::MAX)
        };
        self.attempt = (self.attempt + 1).min(Self::MAX_ATTEMPT);
        base / 2 + base.mul_f64(jitter.clamp(0.0, 1.0) / 2.0)
    }

    /// A welcome resets the backoff.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// The load balancer's sticky cookie as a browser keeps it. Players that
/// share one jar behave as tabs of one browser: they land on one node.
#[derive(Clone, Debug, Default)]
pub struct CookieJar(Arc<Mutex<Option<String>>>);

impl CookieJar {
    pub fn get(&self) -> Option<String> {
        self.lock().clone()
    }

    pub fn set(&self, cookie: String) {
        *self.lock() = Some(cookie);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Who the player is and how it plays.
#[derive(Clone, Debug)]
pub struct PlayerPlan {
    /// The WebSocket endpoint, normally the load balancer's.
    pub url: String,
    pub room: String,
    pub name: String,
    /// One input (or a restart while shipless) this often.
    pub input_period: Duration,
    /// Seeds its pilot and its backoff jitter.
    pub seed: u32,
}

/// One thing the player lived through.
#[derive(Clone, Debug, PartialEq)]
pub enum Observation {
    /// The WebSocket did not open (refused, or the load balancer answered
    /// with an HTTP error).
    ConnectFailed {
        error: String,
    },
    Welcome {
        player_id: u32,
        ship_id: u32,
        resumed: bool,
        step: u32,
    },
    /// The server answered `join` with an `error` (the close follows).
    Refused {
        code: u16,
        message: String,
    },
    Update {
        step: u32,
        full: bool,
    },
    /// Its own row of a `score` message (only while it has a ship).
    Score {
        kills: u32,
        deaths: u32,
    },
    /// `your_ship` (0: destroyed).
    Ship {
        ship_id: u32,
    },
    /// `killed`: a missile destroyed a ship (sent at the step of the hit,
    /// before any score message tells of it).
    Killed {
        victim_ship: u32,
        shooter_ship: u32,
    },
    /// The connection ended: a close frame's code, or None when it dropped
    /// or fell silent.
    Closed {
        code: Option<u16>,
        reason: String,
    },
}

#[derive(Clone, Debug)]
pub struct Observed {
    pub at: Instant,
    pub what: Observation,
}

/// Why a player stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Told to stop.
    Stopped,
    /// A 4006 (another tab took the player over) or a 1000 (the server ended
    /// a long silence): the browser waits for its user instead of retrying.
    Paused { reason: String },
    /// A close the browser does not retry (protocol error, full, bad name).
    Failed { code: u16, reason: String },
}

/// Close codes after which the browser gives up (protocol.js `FATAL_CLOSES`).
fn is_fatal(code: u16) -> bool {
    matches!(
        code,
        close::TOO_LARGE
            | close::PROTOCOL_VIOLATION
            | close::TOO_MANY_INPUTS
            | close::FULL
            | close::INVALID_ROOM_OR_NAME
            | close::UNSUPPORTED_VERSION
    )
}

/// What a player received and sent over all its connections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    pub bytes_received: u64,
    pub frames_received: u64,
    pub inputs_sent: u64,
}

pub struct ReconnectingPlayer {
    plan: PlayerPlan,
    jar: CookieJar,
    /// Empty until the first welcome.
    token: String,
    pilot: Pilot,
    backoff: Backoff,
    traffic: Traffic,
}

impl ReconnectingPlayer {
    pub fn new(plan: PlayerPlan, jar: CookieJar) -> ReconnectingPlayer {
        ReconnectingPlayer {
            pilot: Pilot::new(plan.seed),
            plan,
            jar,
            token: String::new(),
            backoff: Backoff::default(),
            traffic: Traffic::default(),
        }
    }

    /// Plays, reconnecting after every drop, until `stop` or a close the
    /// browser would not retry.
    pub async fn run(
        mut self,
        stop: CancellationToken,
        observe: impl FnMut(Observed),
    ) -> (Ending, Traffic) {
        let ending = self.run_sessions(stop, observe).await;
        (ending, self.traffic)
    }

    async fn run_sessions(
        &mut self,
        stop: CancellationToken,
        mut observe: impl FnMut(Observed),
    ) -> Ending {
        let mut see = |what| {
            observe(Observed {
                at: Instant::now(),
                what,
            })
        };
        loop {
            let code = match self.session(&stop, &mut see).await {
                Err(ending) => return ending,
                Ok(code) => code,
            };
            let jitter = (self.pilot.random() % 1024) as f64 / 1023.0;
            let delay = self.backoff.next_delay(code, jitter);
            tokio::select! {
                _ = stop.cancelled() => return Ending::Stopped,
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// One connection, from opening it to its end: Ok(close code) to retry,
    /// Err when the browser would stop (or `stop` came).
    async fn session(
        &mut self,
        stop: &CancellationToken,
        see: &mut impl FnMut(Observation),
    ) -> Result<Option<u16>, Ending> {
        let joined = tokio::select! {
            _ = stop.cancelled() => return Err(Ending::Stopped),
            joined = self.connect_and_join() => joined,
        };
        let mut client = match joined {
            Ok(client) => client,
            Err(e) => return ended(e, see),
        };
        let welcome = &client.view.welcome;
        self.token.clone_from(&welcome.token);
        self.backoff.reset();
        see(Observation::Welcome {
            player_id: welcome.player_id,
            ship_id: welcome.ship_id,
            resumed: welcome.resumed,
            step: welcome.step,
        });
        let outcome = self.play(&mut client, stop, see).await;
        self.traffic.bytes_received += client.conn.bytes_received;
        self.traffic.frames_received += client.conn.frames_received;
        match outcome {
            Ok(Played::Stopped) => Err(Ending::Stopped),
            Ok(Played::FellSilent) => {
                see(Observation::Closed {
                    code: None,
                    reason: "no data from server".into(),
                });
                Ok(None)
            }
            Err(e) => ended(e, see),
        }
    }

    async fn connect_and_join(&mut self) -> Result<GameClient, ClientError> {
        let cookie = self.jar.get();
        let (conn, set_cookie) =
            Connection::connect_with_cookie(&self.plan.url, cookie.as_deref()).await?;
        if let Some(set_cookie) = set_cookie {
            self.jar.set(set_cookie);
        }
        GameClient::join_on(conn, &self.plan.room, &self.plan.name, &self.token).await
    }

    async fn play(
        &mut self,
        client: &mut GameClient,
        stop: &CancellationToken,
        see: &mut impl FnMut(Observation),
    ) -> Result<Played, ClientError> {
        let mut tick = tokio::time::interval(self.plan.input_period);
        let mut last_heard = Instant::now();
        loop {
            tokio::select! {
                _ = stop.cancelled() => return Ok(Played::Stopped),
                _ = tokio::time::sleep_until(last_heard + SILENT_LIMIT) => return Ok(Played::FellSilent),
                _ = tick.tick() => {
                    if client.view.my_ship == 0 {
                        client.restart().await?;
                    } else {
                        client.send_input(self.pilot.next_input()).await?;
                        self.traffic.inputs_sent += 1;
                    }
                }
                message = client.pump() => {
                    last_heard = Instant::now();
                    if let Some(what) = observation_of(&message?, client.player_id()) {
                        see(what);
                    }
                }
            }
        }
    }
}

enum Played {
    Stopped,
    FellSilent,
}

/// How a connection's error ends the session, as the browser treats it.
fn ended(e: ClientError, see: &mut impl FnMut(Observation)) -> Result<Option<u16>, Ending> {
    match e {
        ClientError::Refused { code, message } => {
            see(Observation::Refused {
                code,
                message: message.clone(),
            });
            Err(Ending::Failed {
                code,
                reason: message,
            })
        }
        ClientError::Closed { code, reason } => {
            see(Observation::Closed {
                code,
                reason: reason.clone(),
            });
            match code {
                Some(close::NORMAL | close::REPLACED) => Err(Ending::Paused { reason }),
                Some(code) if is_fatal(code) => Err(Ending::Failed { code, reason }),
                code => Ok(code),
            }
        }
        ClientError::Connect { .. } => {
            see(Observation::ConnectFailed {
                error: e.to_string(),
            });
            Ok(None)
        }
        other => {
            see(Observation::Closed {
                code: None,
                reason: other.to_string(),
            });
            Ok(None)
        }
    }
}

fn observation_of(message: &ServerMessage, player: u32) -> Option<Observation> {
    match message {
        ServerMessage::Update { body, .. } => Some(Observation::Update {
            step: body.step,
            full: body.kind == UpdateKind::Full,
        }),
        ServerMessage::Score(rows) => {
            rows.iter()
                .find(|r| r.player_id == player)
                .map(|r| Observation::Score {
                    kills: r.kills,
                    deaths: r.deaths,
                })
        }
        ServerMessage::YourShip { ship_id } => Some(Observation::Ship { ship_id: *ship_id }),
        ServerMessage::Killed {
            victim_ship,
            shooter_ship,
            ..
        } => Some(Observation::Killed {
            victim_ship: *victim_ship,
            shooter_ship: *shooter_ship,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_follows_the_browser() {
        let mut b = Backoff::default();
        // A planned restart: the first retry within 75-150 ms.
        assert_eq!(
            b.next_delay(Some(close::SERVER_RESTARTING), 1.0),
            Duration::from_millis(150)
        );
        assert_eq!(b.next_delay(None, 0.0), Duration::from_millis(250));
        assert_eq!(b.next_delay(None, 1.0), Duration::from_millis(1000));
        for _ in 0..10 {
            b.next_delay(None, 1.0);
        }
        assert_eq!(b.next_delay(None, 1.0), Duration::from_secs(5));
        b.reset();
        assert_eq!(b.next_delay(None, 0.0), Duration::from_millis(125));
        // A 4000 after failed attempts is not a fresh start.
        assert_eq!(
            b.next_delay(Some(close::SERVER_RESTARTING), 1.0),
            Duration::from_millis(500)
        );
    }

    #[test]
    fn a_shared_jar_is_one_browser() {
        let jar = CookieJar::default();
        let tab = jar.clone();
        assert_eq!(tab.get(), None);
        jar.set("AWSALB=b".into());
        assert_eq!(tab.get().as_deref(), Some("AWSALB=b"));
    }

    #[test]
    fn closes_the_browser_gives_up_on() {
        let mut seen = Vec::new();
        let mut see = |o| seen.push(o);
        let closed = |code| ClientError::Closed {
            code: Some(code),
            reason: "r".into(),
        };
        assert_eq!(ended(closed(4000), &mut see), Ok(Some(4000)));
        assert_eq!(ended(closed(1011), &mut see), Ok(Some(1011)));
        assert!(matches!(
            ended(closed(1000), &mut see),
            Err(Ending::Paused { .. })
        ));
        assert!(matches!(
            ended(closed(4006), &mut see),
            Err(Ending::Paused { .. })
        ));
        assert!(matches!(
            ended(closed(4003), &mut see),
            Err(Ending::Failed { code: 4003, .. })
        ));
        assert_eq!(seen.len(), 5);
    }
}
