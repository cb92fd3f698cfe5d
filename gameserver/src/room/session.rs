//! A room's human players: whether each is connected (and where) or waiting
//! out its reconnect grace, its token hash, and what it has been told.

use std::collections::HashMap;

use tokio::sync::mpsc::error::TrySendError;
use tokio::time::Instant;

use super::{ConnId, NodeName, Outgoing, Peer, RemoteEvent, CONTROL_RESERVE};
use crate::sim::{ObjectId, PlayerId};
use crate::token::TokenHash;

/// `told_ship` of a player moved here by a takeover: whatever its ship is,
/// tell it again.
pub const SHIP_UNKNOWN: ObjectId = ObjectId::MAX;

pub struct Conn {
    pub id: ConnId,
    pub peer: Peer,
    /// Set on join and after a dropped update: the next update must be full.
    pub needs_full: bool,
    pub since: Instant,
}

/// A player is connected, or away until its grace runs out: never both,
/// never neither.
pub enum Presence {
    Connected(Conn),
    Away { until: Instant },
}

pub struct Session {
    pub token_hash: TokenHash,
    pub presence: Presence,
    pub last_input_seq: u32,
    /// The ship the client was last told about (0: none).
    pub told_ship: ObjectId,
}

/// What came of queueing an update for one connection.
pub enum Queued {
    Sent,
    Dropped,
    /// A relayed connection: it goes in the room's one publication.
    Remote,
}

impl Session {
    pub fn conn(&self) -> Option<&Conn> {
        match &self.presence {
            Presence::Connected(conn) => Some(conn),
            Presence::Away { .. } => None,
        }
    }

    pub fn conn_is(&self, conn: ConnId) -> bool {
        self.conn().is_some_and(|c| c.id == conn)
    }

    /// The node relaying this player, if it is connected through one.
    pub fn remote_node(&self) -> Option<&NodeName> {
        match self.conn().map(|c| &c.peer) {
            Some(Peer::Remote(node)) => Some(node),
            _ => None,
        }
    }

    /// Queues a control message: on the socket's queue, or in `remote` for a
    /// relayed connection. False when a local queue is full or gone.
    pub fn send(&self, message: Outgoing, remote: &mut Vec<RemoteEvent>) -> bool {
        match self.conn() {
            None => false,
            Some(Conn {
                peer: Peer::Local(outbox),
                ..
            }) => outbox.try_send(message).is_ok(),
            Some(Conn {
                id,
                peer: Peer::Remote(_),
                ..
            }) => {
                remote.push(RemoteEvent::ToConn { conn: *id, message });
                true
            }
        }
    }

    /// Queues an update for a local socket only while its queue has room
    /// above the control reserve; a dropped update makes the next one full.
    pub fn send_update(&mut self, body: bytes::Bytes) -> Queued {
        let seq = self.last_input_seq;
        let Presence::Connected(conn) = &mut self.presence else {
            return Queued::Dropped;
        };
        let Peer::Local(outbox) = &conn.peer else {
            return Queued::Remote;
        };
        if outbox.capacity() <= CONTROL_RESERVE {
            conn.needs_full = true;
            return Queued::Dropped;
        }
        match outbox.try_send(Outgoing::Update {
            last_input_seq: seq,
            body,
        }) {
            Ok(()) => {
                conn.needs_full = false;
                Queued::Sent
            }
            Err(TrySendError::Full(_) | TrySendError::Closed(_)) => {
                conn.needs_full = true;
                Queued::Dropped
            }
        }
    }
}

#[derive(Default)]
pub struct Sessions {
    by_player: HashMap<PlayerId, Session>,
    by_token: HashMap<TokenHash, PlayerId>,
}

impl Sessions {
    pub fn len(&self) -> usize {
        self.by_player.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_player.is_empty()
    }

    pub fn connected(&self) -> usize {
        self.by_player
            .values()
            .filter(|s| s.conn().is_some())
            .count()
    }

    /// Players connected through other nodes.
    pub fn remote(&self) -> usize {
        self.by_player
            .values()
            .filter(|s| s.remote_node().is_some())
            .count()
    }

    pub fn player_with_token(&self, hash: &TokenHash) -> Option<PlayerId> {
        self.by_token.get(hash).copied()
    }

    /// Whether `player` is known by `hash`.
    pub fn has_token(&self, player: PlayerId, hash: &TokenHash) -> bool {
        self.by_player
            .get(&player)
            .is_some_and(|s| &s.token_hash == hash)
    }

    pub fn insert(&mut self, player: PlayerId, session: Session) {
        self.by_token.insert(session.token_hash, player);
        self.by_player.insert(player, session);
    }

    pub fn get(&self, player: PlayerId) -> Option<&Session> {
        self.by_player.get(&player)
    }

    pub fn get_mut(&mut self, player: PlayerId) -> Option<&mut Session> {
        self.by_player.get_mut(&player)
    }

    /// The session of `player` if `conn` is its current connection.
    pub fn current(&mut self, player: PlayerId, conn: ConnId) -> Option<&mut Session> {
        self.by_player.get_mut(&player).filter(|s| s.conn_is(conn))
    }

    /// The player connected as `conn`, wherever it is.
    pub fn player_of(&self, conn: ConnId) -> Option<PlayerId> {
        self.by_player
            .iter()
            .find(|(_, s)| s.conn_is(conn))
            .map(|(p, _)| *p)
    }

    pub fn iter(&self) -> impl Iterator<Item = (PlayerId, &Session)> {
        self.by_player.iter().map(|(p, s)| (*p, s))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (PlayerId, &mut Session)> {
        self.by_player.iter_mut().map(|(p, s)| (*p, s))
    }

    /// Holds (or, `false`, releases) what goes to every socket on this node,
    /// so that a step's messages to each go out in one write.
    pub fn hold_local(&self, hold: bool) {
        for session in self.by_player.values() {
            if let Some(Conn {
                peer: Peer::Local(outbox),
                ..
            }) = session.conn()
            {
                if hold {
                    outbox.hold();
                } else {
                    outbox.release();
                }
            }
        }
    }

    /// Removes and returns the players whose grace ran out by `now`.
    pub fn expire(&mut self, now: Instant) -> Vec<PlayerId> {
        let gone: Vec<PlayerId> = self
            .by_player
            .iter()
            .filter(|(_, s)| matches!(s.presence, Presence::Away { until } if until <= now))
            .map(|(p, _)| *p)
            .collect();
        for player in &gone {
            if let Some(session) = self.by_player.remove(player) {
                self.by_token.remove(&session.token_hash);
            }
        }
        gone
    }
}
