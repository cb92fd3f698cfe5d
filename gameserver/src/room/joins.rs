//! Players coming and going: joins (new, resumed by token, or moved here by
//! a takeover), leaves into the reconnect grace, and the liveness of the
//! nodes that relay players.

use bytes::Bytes;
use tokio::time::Instant;

use super::session::{Conn, Presence, Session, SHIP_UNKNOWN};
use super::task::Room;
use super::{ConnId, JoinError, Joined, Joiner, NodeName, Outgoing, PRESENCE_INTERVAL};
use crate::protocol::{close, ServerMessage, Welcome};
use crate::sim::PlayerId;

/// A relaying node silent this long has lost its players' connections.
const REMOTE_SILENCE: std::time::Duration = PRESENCE_INTERVAL.saturating_mul(3);

/// Why an older connection of a player is closed.
pub const REPLACED: &str = "replaced by a newer connection";

impl Room {
    pub(super) fn join(&mut self, joiner: Joiner, now: Instant) -> Result<Joined, JoinError> {
        if joiner.abandoned() {
            // A reconnect its client gave up on, arriving late (queued while
            // the room was being taken over): it must not replace the
            // connection the client made since.
            return Err(JoinError::Unavailable {
                room: self.id.clone(),
                why: "the connection closed before its join arrived".into(),
            });
        }
        let by_conn = self.sessions.player_of(joiner.conn);
        let by_token = joiner
            .tokens
            .presented
            .and_then(|hash| self.sessions.player_with_token(&hash));
        let (player, resumed) = match (by_conn, by_token) {
            // The same join again (a relaying node did not hear the answer):
            // the same answer.
            (Some(player), _) => (
                player,
                !self.sessions.has_token(player, &joiner.tokens.fresh),
            ),
            (None, Some(player)) if joiner.rejoin.is_some() && self.has_connection(player) => {
                // A connection moved here by a takeover, arriving after its
                // player reconnected (a message delayed by a failover): the
                // reconnect is newer, and keeps the player.
                return Err(JoinError::Unavailable {
                    room: self.id.clone(),
                    why: "the player reconnected since".into(),
                });
            }
            (None, Some(player)) => {
                self.replace_connection(player, joiner.conn, now);
                (player, true)
            }
            (None, None) if joiner.rejoin.is_some() => {
                return Err(JoinError::Unavailable {
                    room: self.id.clone(),
                    why: "the player's token is not known to the room's new owner".into(),
                })
            }
            (None, None) => (self.add_player(&joiner)?, false),
        };
        let ship = self.world.player(player).and_then(|p| p.ship).unwrap_or(0);
        let welcome = joiner.rejoin.is_none().then(|| {
            let texts = joiner.tokens.texts.as_ref();
            let token = match (resumed, texts) {
                (true, Some(t)) => t.presented.clone().unwrap_or_default(),
                (false, Some(t)) => t.fresh.clone(),
                // Written in by the joiner's own node.
                (_, None) => String::new(),
            };
            self.welcome(player, ship, token, resumed)
        });
        let score = self.score_frame();
        let remote_peer = matches!(joiner.peer, super::Peer::Remote(_));
        let Some(session) = self.sessions.get_mut(player) else {
            return Err(JoinError::Unavailable {
                room: self.id.clone(),
                why: "player vanished".into(),
            });
        };
        let was_remote = session.remote_node().is_some();
        session.presence = Presence::Connected(Conn {
            id: joiner.conn,
            peer: joiner.peer,
            needs_full: true,
            since: now,
        });
        match joiner.rejoin {
            Some(seq) => {
                session.last_input_seq = seq;
                session.told_ship = SHIP_UNKNOWN;
            }
            None => session.told_ship = ship,
        }
        // A fresh queue: both fit.
        if let Some(welcome) = welcome {
            session.send(Outgoing::Frame(welcome), &mut self.remote);
        }
        session.send(Outgoing::Frame(score), &mut self.remote);
        self.count_relayed(was_remote, remote_peer);
        tracing::info!(room = %self.id, player, resumed, relayed = remote_peer, moved = joiner.rejoin.is_some(), "player joined");
        Ok(Joined {
            player,
            conn: joiner.conn,
            resumed,
        })
    }

    fn add_player(&mut self, joiner: &Joiner) -> Result<PlayerId, JoinError> {
        if self.sessions.len() >= self.config.max_players {
            return Err(JoinError::RoomFull(self.id.clone()));
        }
        let name = joiner.name.clone().map(|n| n.into_string());
        let player = self.world.add_player(name);
        self.world.spawn_ship(player);
        let session = Session {
            token_hash: joiner.tokens.fresh,
            presence: self.away_until(Instant::now()),
            last_input_seq: 0,
            told_ship: 0,
        };
        self.sessions.insert(player, session);
        self.metrics.players.inc();
        self.score_dirty = true;
        self.snapshot_soon();
        Ok(player)
    }

    fn welcome(&self, player: PlayerId, ship: u32, token: String, resumed: bool) -> Bytes {
        let welcome = ServerMessage::Welcome(Welcome {
            player_id: player,
            ship_id: ship,
            token,
            resumed,
            step: self.world.step_count() as u32,
            constants: self.constants(),
        });
        Bytes::from(welcome.encode())
    }

    /// The player has a connection (here or through another node).
    fn has_connection(&self, player: PlayerId) -> bool {
        self.sessions
            .get(player)
            .is_some_and(|session| session.conn().is_some())
    }

    /// A reconnect with the token of a player still connected wins: the
    /// older socket is closed (unless it is the same connection, moved here
    /// by a takeover).
    fn replace_connection(&mut self, player: PlayerId, conn: ConnId, now: Instant) {
        let away = self.away_until(now);
        let Some(session) = self.sessions.get_mut(player) else {
            return;
        };
        if session.conn().is_some_and(|c| c.id != conn) {
            session.send(
                Outgoing::Close {
                    code: close::REPLACED,
                    reason: REPLACED,
                },
                &mut self.remote,
            );
        }
        let was_remote = session.remote_node().is_some();
        session.presence = away;
        self.count_relayed(was_remote, false);
    }

    pub(super) fn leave(&mut self, player: PlayerId, conn: ConnId, now: Instant) {
        let away = self.away_until(now);
        let grace = self.config.reconnect_grace;
        let Some(session) = self.sessions.current(player, conn) else {
            return;
        };
        let was_remote = session.remote_node().is_some();
        session.presence = away;
        self.count_relayed(was_remote, false);
        tracing::info!(room = %self.id, player, grace_secs = grace.as_secs(), "player disconnected");
        self.snapshot_soon();
    }

    pub(super) fn needs_full(&mut self, conns: &[ConnId]) {
        for &conn in conns {
            let Some(player) = self.sessions.player_of(conn) else {
                continue;
            };
            if let Some(Presence::Connected(c)) =
                self.sessions.get_mut(player).map(|s| &mut s.presence)
            {
                c.needs_full = true;
            }
        }
    }

    /// A relaying node's heartbeat: a connection of it that it no longer
    /// lists (its leave was lost) is gone, unless it joined too recently to
    /// be listed.
    pub(super) fn present(&mut self, node: NodeName, conns: &[ConnId], now: Instant) {
        let gone: Vec<(PlayerId, ConnId)> = self
            .sessions
            .iter()
            .filter_map(|(player, s)| {
                let c = s.conn()?;
                let listed = conns.contains(&c.id);
                let settled = now.duration_since(c.since) > PRESENCE_INTERVAL * 2;
                (s.remote_node() == Some(&node) && !listed && settled).then_some((player, c.id))
            })
            .collect();
        self.present.insert(node, now);
        for (player, conn) in gone {
            self.leave(player, conn, now);
        }
    }

    /// Players of nodes silent past REMOTE_SILENCE (dead, or cut off) leave
    /// into their grace, as if their sockets had closed.
    pub(super) fn drop_silent_nodes(&mut self, now: Instant) {
        let present = &self.present;
        let gone: Vec<(PlayerId, ConnId)> = self
            .sessions
            .iter()
            .filter_map(|(player, s)| {
                let node = s.remote_node()?;
                let c = s.conn()?;
                let heard = present.get(node).map_or(c.since, |&at| at.max(c.since));
                (now.duration_since(heard) > REMOTE_SILENCE).then_some((player, c.id))
            })
            .collect();
        for (player, conn) in gone {
            tracing::warn!(room = %self.id, player, "the node relaying this player went silent");
            self.leave(player, conn, now);
        }
        self.present
            .retain(|_, at| now.duration_since(*at) <= REMOTE_SILENCE);
    }

    fn count_relayed(&self, was_remote: bool, is_remote: bool) {
        match (was_remote, is_remote) {
            (false, true) => self.metrics.players_relayed_in.inc(),
            (true, false) => self.metrics.players_relayed_in.dec(),
            _ => {}
        }
    }
}
