//! Joins this relay hands to the owner: sent, sent again until answered,
//! given up when their client left or the owner stayed silent too long; and
//! players moved to whoever owns the room now.

use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::{send_away, Relay, Relayed};
use crate::cluster::wire::ToOwner;
use crate::room::{JoinError, Joined, Joiner};

/// A join no owner answered within this is refused (the client retries).
const JOIN_WAIT: Duration = Duration::from_secs(10);
/// An unanswered join is sent again this often (pub/sub may lose it, and a
/// node that just took a room over may not listen yet); the owner answers
/// a join it already took with the same answer.
pub(super) const JOIN_RESEND: Duration = Duration::from_secs(1);

pub(super) struct Pending {
    pub(super) joiner: Joiner,
    /// None: a player being moved to a new owner (no one waits for it).
    pub(super) reply: Option<oneshot::Sender<Result<Joined, JoinError>>>,
    since: Instant,
    sent: Instant,
}

impl Relay {
    pub(super) fn ask_to_join(
        &mut self,
        joiner: Joiner,
        reply: Option<oneshot::Sender<Result<Joined, JoinError>>>,
    ) {
        self.send_join(&joiner);
        let now = Instant::now();
        let pending = Pending {
            joiner,
            reply,
            since: now,
            sent: now,
        };
        self.pending.insert(pending.joiner.conn, pending);
    }

    fn send_join(&self, joiner: &Joiner) {
        self.send(ToOwner::Join {
            node: self.cluster.node.clone(),
            conn: joiner.conn,
            name: joiner.name.clone().map(|n| n.into_string()),
            presented: joiner.tokens.presented,
            fresh: joiner.tokens.fresh,
            rejoin: joiner.rejoin,
        });
    }

    /// Joins every player again, at whoever owns the room now.
    pub(super) fn move_players(&mut self) {
        let players: Vec<Relayed> = self.players.drain().map(|(_, p)| p).collect();
        for p in players {
            self.move_player(p);
        }
        self.resend_pending();
    }

    pub(super) fn move_player(&mut self, p: Relayed) {
        let joiner = moved(p.joiner, p.last_seq);
        self.ask_to_join(joiner, None);
    }

    fn resend_pending(&mut self) {
        self.forget_abandoned();
        let pending: Vec<Pending> = self.pending.drain().map(|(_, p)| p).collect();
        for p in pending {
            self.ask_to_join(p.joiner, p.reply);
        }
    }

    /// Sends again the joins unanswered for at least `after`.
    pub(super) fn resend_joins(&mut self, now: Instant, after: Duration) {
        self.forget_abandoned();
        let unanswered: Vec<Joiner> = self
            .pending
            .values_mut()
            .filter(|p| now.duration_since(p.sent) >= after)
            .map(|p| {
                p.sent = now;
                p.joiner.clone()
            })
            .collect();
        for joiner in &unanswered {
            self.send_join(joiner);
        }
    }

    /// Joins whose client gave up are never sent again: arriving after the
    /// client's next reconnect, one would replace it.
    pub(super) fn forget_abandoned(&mut self) {
        let abandoned: Vec<Pending> = self
            .pending
            .extract_if(|_, p| p.joiner.abandoned())
            .map(|(_, p)| p)
            .collect();
        for p in abandoned {
            self.give_up(p, "its connection closed".into());
        }
    }

    /// Joins the owner left unanswered for too long are refused.
    pub(super) fn refuse_late(&mut self, now: Instant) {
        let late: Vec<Pending> = self
            .pending
            .extract_if(|_, p| now.duration_since(p.since) > JOIN_WAIT)
            .map(|(_, p)| p)
            .collect();
        for p in late {
            let why = format!("its owner {} did not answer", self.owner.node);
            self.give_up(p, why);
        }
    }

    /// The waiting client hears why; a moved player is sent to reconnect.
    fn give_up(&self, p: Pending, why: String) {
        match p.reply {
            Some(reply) => {
                let _ = reply.send(Err(JoinError::Unavailable {
                    room: self.room.clone(),
                    why,
                }));
            }
            None => send_away(&p.joiner),
        }
    }
}

/// The same connection joining again, at a new owner: it must resume, gets
/// no second welcome, and its inputs up to `last_seq` count as seen.
pub(super) fn moved(mut joiner: Joiner, last_seq: u32) -> Joiner {
    joiner.rejoin = Some(last_seq.max(joiner.rejoin.unwrap_or(0)));
    joiner
}
