//! Where a room's messages for one connection go: a socket's writer on this
//! node (`net`), or a plain queue (tests, tools). Either takes at most
//! `OUTBOX_CAPACITY` messages that are not out yet, and never waits.

use std::fmt;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

use super::Outgoing;

/// What takes a connection's messages.
pub trait Sink: Send + Sync + 'static {
    /// Takes `message` now, or hands it back: Full while `OUTBOX_CAPACITY`
    /// messages wait, Closed once the connection is over.
    fn try_send(&self, message: Outgoing) -> Result<(), TrySendError<Outgoing>>;
    /// How many more messages it takes now.
    fn capacity(&self) -> usize;
    /// The connection is over: it takes nothing more.
    fn is_closed(&self) -> bool;
    /// What is sent from here until `release` may go out together.
    fn hold(&self) {}
    fn release(&self) {}
}

#[derive(Clone)]
pub struct Outbox(Arc<dyn Sink>);

impl Outbox {
    pub fn new(sink: Arc<dyn Sink>) -> Outbox {
        Outbox(sink)
    }

    /// An outbox that is a plain queue, and its receiving end.
    pub fn channel(capacity: usize) -> (Outbox, mpsc::Receiver<Outgoing>) {
        let (tx, rx) = mpsc::channel(capacity);
        (Outbox(Arc::new(tx)), rx)
    }

    pub fn try_send(&self, message: Outgoing) -> Result<(), TrySendError<Outgoing>> {
        self.0.try_send(message)
    }

    pub fn capacity(&self) -> usize {
        self.0.capacity()
    }

    /// The connection is over (its client left, or it is being closed).
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }

    /// Messages sent until `release` go out together (one write for a step's
    /// kills, scores and update).
    pub fn hold(&self) {
        self.0.hold();
    }

    pub fn release(&self) {
        self.0.release();
    }
}

impl fmt::Debug for Outbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outbox")
            .field("capacity", &self.capacity())
            .finish()
    }
}

impl Sink for mpsc::Sender<Outgoing> {
    fn try_send(&self, message: Outgoing) -> Result<(), TrySendError<Outgoing>> {
        mpsc::Sender::try_send(self, message)
    }

    fn capacity(&self) -> usize {
        mpsc::Sender::capacity(self)
    }

    fn is_closed(&self) -> bool {
        mpsc::Sender::is_closed(self)
    }
}
