//! A room's human players: their connection (if any), reconnect token hash
//! and grace deadline, and what each has been told.

use std::collections::HashMap;

use tokio::sync::mpsc::error::TrySendError;
use tokio::time::Instant;

use super::{Outbox, Outgoing, CONTROL_RESERVE};
use crate::sim::{ObjectId, PlayerId};
use crate::token::TokenHash;

pub struct Conn {
    pub id: u64,
    pub outbox: Outbox,
    /// Set on join and after a dropped update: the next update must be full.
    pub needs_full: bool,
}

pub struct Session {
    pub token_hash: TokenHash,
    pub conn: Option<Conn>,
    /// While disconnected: when the grace period runs out.
    pub expires_at: Option<Instant>,
    pub last_input_seq: u32,
    /// The ship the client was last told about (0: none).
    pub told_ship: ObjectId,
}

/// What came of queueing an update for one connection.
pub enum Queued {
    Sent,
    Dropped,
}

impl Session {
    pub fn conn_is(&self, conn: u64) -> bool {
        self.conn.as_ref().is_some_and(|c| c.id == conn)
    }

    /// Queues a control message; false when the client's queue is full or gone.
    pub fn send(&self, message: Outgoing) -> bool {
        self.conn
            .as_ref()
            .is_some_and(|c| c.outbox.try_send(message).is_ok())
    }

    /// Queues an update only while the queue has room above the control
    /// reserve; a dropped update makes the next one full.
    pub fn send_update(&mut self, body: bytes::Bytes) -> Queued {
        let seq = self.last_input_seq;
        let Some(conn) = self.conn.as_mut() else {
            return Queued::Dropped;
        };
        if conn.outbox.capacity() <= CONTROL_RESERVE {
            conn.needs_full = true;
            return Queued::Dropped;
        }
        match conn.outbox.try_send(Outgoing::Update {
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
        self.by_player.values().filter(|s| s.conn.is_some()).count()
    }

    pub fn player_with_token(&self, hash: &TokenHash) -> Option<PlayerId> {
        self.by_token.get(hash).copied()
    }

    pub fn insert(&mut self, player: PlayerId, session: Session) {
        self.by_token.insert(session.token_hash, player);
        self.by_player.insert(player, session);
    }

    pub fn get_mut(&mut self, player: PlayerId) -> Option<&mut Session> {
        self.by_player.get_mut(&player)
    }

    /// The session of `player` if `conn` is its current connection.
    pub fn current(&mut self, player: PlayerId, conn: u64) -> Option<&mut Session> {
        self.by_player.get_mut(&player).filter(|s| s.conn_is(conn))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (PlayerId, &mut Session)> {
        self.by_player.iter_mut().map(|(p, s)| (*p, s))
    }

    /// Removes and returns the players whose grace ran out by `now`.
    pub fn expire(&mut self, now: Instant) -> Vec<PlayerId> {
        let gone: Vec<PlayerId> = self
            .by_player
            .iter()
            .filter(|(_, s)| s.conn.is_none() && s.expires_at.is_some_and(|t| t <= now))
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
