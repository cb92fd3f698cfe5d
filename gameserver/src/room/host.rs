//! What a room needs from whatever runs it, and nothing more: leave the
//! node's list of rooms, reach the players it holds on other nodes, have its
//! lease confirmed; and the state of that lease.

use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::{Command, RemoteEvent};
use crate::names::RoomId;

pub trait Host: Send + Sync {
    /// The room is empty: may it stop? Decided against new joins, so none
    /// can find it afterwards; a command that arrives in between stays in
    /// the closed queue and its sender tries again.
    fn retire(&self, room: &RoomId, rx: &mut mpsc::Receiver<Command>) -> bool;

    /// Sends to the players this room holds on other nodes, in order.
    fn publish(&self, room: &RoomId, events: Vec<RemoteEvent>);

    /// Asks Redis at once whether the room is still this node's (after a pause).
    fn confirm_lease(&self, room: &RoomId);
}

/// Whether this node owns the room's world.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lease {
    /// No Redis at all: the room is the only copy and writes no snapshots.
    Unfenced,
    /// Started while Redis did not answer: plays, writes no snapshots, and
    /// yields if Redis turns out to hold the room (saved or owned elsewhere).
    Provisional,
    /// This node's under `epoch`; Redis last said so for a request sent at `confirmed`.
    Held { epoch: u64, confirmed: Instant },
    /// Another node owns the room now: stop at once.
    Lost,
}

/// A room's view of its lease.
#[derive(Clone, Debug)]
pub struct LeaseView {
    pub status: watch::Receiver<Lease>,
    /// A gap this long between two steps means the process was paused (or
    /// starved) past the lease: the room confirms it still owns the world
    /// before it tells anyone more about it.
    pub pause_limit: Duration,
}

impl LeaseView {
    /// A room without Redis.
    pub fn unfenced() -> LeaseView {
        LeaseView {
            status: watch::channel(Lease::Unfenced).1,
            pause_limit: Duration::MAX,
        }
    }

    pub fn get(&self) -> Lease {
        *self.status.borrow()
    }

    /// The epoch to write snapshots under, if the room may write any.
    pub fn epoch(&self) -> Option<u64> {
        match self.get() {
            Lease::Held { epoch, .. } => Some(epoch),
            Lease::Unfenced | Lease::Provisional | Lease::Lost => None,
        }
    }

    /// Whether Redis said the room was ours in answer to a request sent after `since`.
    pub fn confirmed_since(&self, since: Instant) -> bool {
        matches!(self.get(), Lease::Held { confirmed, .. } if confirmed >= since)
            || self.get() == Lease::Unfenced
    }
}
