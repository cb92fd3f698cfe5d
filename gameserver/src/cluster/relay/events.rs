//! What the owner says, fanned out to this node's sockets: join answers,
//! frames for one player or for all, and the one update publication per
//! step (the delta, or the full body where the owner marks a player as
//! needing one).

use bytes::Bytes;
use tokio::time::Instant;

use super::{outbox, send_away, Relay, Relayed, MISSING_LIMIT};
use crate::cluster::wire::ToOwner;
use crate::protocol::{kind, ServerMessage};
use crate::room::{
    ConnId, JoinError, Joined, Joiner, Outgoing, RemoteEvent, RemoteUpdate, CONTROL_RESERVE,
};

impl Relay {
    pub(super) fn on_event(&mut self, event: RemoteEvent) {
        match event {
            RemoteEvent::Joined { conn, result } => self.joined(conn, result),
            RemoteEvent::ToConn { conn, message } => self.deliver(conn, message),
            RemoteEvent::ToAll(frame) => {
                for p in self.players.values() {
                    if let Some(out) = outbox(&p.joiner) {
                        let _ = out.try_send(Outgoing::Frame(frame.clone()));
                    }
                }
            }
            RemoteEvent::Update {
                delta,
                full,
                players,
            } => self.update(&delta, full.as_ref(), &players),
        }
    }

    fn joined(&mut self, conn: ConnId, result: Result<Joined, JoinError>) {
        let Some(pending) = self.pending.remove(&conn) else {
            return;
        };
        match (result, pending.reply) {
            (Ok(joined), reply) => {
                let last_seq = pending.joiner.rejoin.unwrap_or(0);
                let mut joiner = pending.joiner;
                if !joined.resumed {
                    // From here on the player is known by the token its welcome gave it.
                    joiner.tokens.presented = Some(joiner.tokens.fresh);
                    if let Some(texts) = joiner.tokens.texts.as_mut() {
                        texts.presented = Some(texts.fresh.clone());
                    }
                }
                self.players.insert(
                    conn,
                    Relayed {
                        player: joined.player,
                        joiner,
                        last_seq,
                        waiting_full: false,
                        missing_since: None,
                    },
                );
                if let Some(reply) = reply {
                    let _ = reply.send(Ok(joined));
                }
            }
            (Err(e), Some(reply)) => {
                let _ = reply.send(Err(e));
            }
            (Err(e), None) => {
                tracing::warn!(room = %self.room, error = %e, "a player could not be moved to the room's new owner: it reconnects");
                send_away(&pending.joiner);
            }
        }
    }

    fn deliver(&mut self, conn: ConnId, message: Outgoing) {
        let joiner = match (self.players.get(&conn), self.pending.get(&conn)) {
            (Some(p), _) => &p.joiner,
            (None, Some(p)) => &p.joiner,
            (None, None) => return,
        };
        let message = match message {
            Outgoing::Frame(frame) if frame.first() == Some(&kind::WELCOME) => {
                Outgoing::Frame(with_token(frame, joiner))
            }
            other => other,
        };
        let closing = matches!(message, Outgoing::Close { .. });
        if let Some(out) = outbox(joiner) {
            let _ = out.try_send(message);
        }
        if closing {
            self.players.remove(&conn);
            self.pending.remove(&conn);
        }
    }

    /// The delta (or, where the owner says so, the full body) to each of
    /// this node's players it names; one whose socket cannot take it waits
    /// for a full update, asked of the owner.
    fn update(&mut self, delta: &Bytes, full: Option<&Bytes>, listed: &[RemoteUpdate]) {
        let now = Instant::now();
        let mut need_full = Vec::new();
        for p in self.players.values_mut() {
            p.missing_since = Some(p.missing_since.unwrap_or(now));
        }
        for entry in listed {
            let Some(p) = self.players.get_mut(&entry.conn) else {
                continue;
            };
            p.missing_since = None;
            let body = match (entry.full, full) {
                (true, Some(full)) => full,
                (true, None) => continue,
                (false, _) if p.waiting_full => continue,
                (false, _) => delta,
            };
            let queued = outbox(&p.joiner).is_some_and(|out| {
                out.capacity() > CONTROL_RESERVE
                    && out
                        .try_send(Outgoing::Update {
                            last_input_seq: entry.last_input_seq,
                            body: body.clone(),
                        })
                        .is_ok()
            });
            p.waiting_full = !queued;
            if queued {
                self.last_step = self.last_step.max(step_of(body));
            } else {
                need_full.push(entry.conn);
            }
        }
        if !need_full.is_empty() {
            self.send(ToOwner::NeedFull { conns: need_full });
        }
        let missing: Vec<ConnId> = self
            .players
            .iter()
            .filter(|(_, p)| {
                p.missing_since
                    .is_some_and(|t| now.duration_since(t) > MISSING_LIMIT)
            })
            .map(|(conn, _)| *conn)
            .collect();
        for conn in missing {
            if let Some(p) = self.players.remove(&conn) {
                self.move_player(p);
            }
        }
    }
}

/// The owner leaves the token out of a relayed welcome; the node that holds
/// the socket writes it in.
fn with_token(frame: Bytes, joiner: &Joiner) -> Bytes {
    let Ok(ServerMessage::Welcome(mut welcome)) = ServerMessage::decode(&frame) else {
        return frame;
    };
    let texts = joiner.tokens.texts.as_ref();
    welcome.token = match (welcome.resumed, texts) {
        (true, Some(t)) => t.presented.clone().unwrap_or_default(),
        (false, Some(t)) => t.fresh.clone(),
        (_, None) => String::new(),
    };
    Bytes::from(ServerMessage::Welcome(welcome).encode())
}

/// The step an update body describes (its first four bytes).
fn step_of(body: &[u8]) -> u64 {
    body.get(..4)
        .and_then(|b| b.try_into().ok())
        .map_or(0, |b: [u8; 4]| u64::from(u32::from_le_bytes(b)))
}
