//! The players' sockets, served at the tick: one poller per lane, run by
//! the lane before its rooms step (`room::Feed`). At every tick a poller
//! asks its epoll set, without waiting, which sockets have something, reads
//! those, and looks after every connection it holds (`Client::tick`). An
//! input is read at the first tick after it arrives and applied at that
//! tick's step, as when each frame woke a task of its own; but the players
//! of a lane cost its two wake-ups a tick, not one per frame. A connection
//! moves to the lane of its room once it has joined, so that its inputs
//! are read before that room steps.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;
use tokio_util::task::task_tracker::TaskTrackerToken;

use super::client::Client;
use super::frame::FrameReader;
use super::Shared;
use crate::room::{Feed, Lanes};

/// Readiness events taken per tick and poller (more wait for the next).
const EVENTS_PER_TICK: usize = 4096;

/// A connection for a poller to take over.
enum Arrival {
    /// Just upgraded.
    New {
        socket: TcpStream,
        early: Vec<u8>,
        peer: SocketAddr,
        permit: OwnedSemaphorePermit,
    },
    /// From another poller, to be on its room's lane.
    Moved(Box<Client>),
}

#[derive(Default)]
struct Inbox {
    arrivals: Mutex<Vec<Arrival>>,
    clients: AtomicUsize,
}

impl Inbox {
    fn push(&self, arrival: Arrival) {
        self.clients.fetch_add(1, Ordering::Relaxed);
        self.arrivals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(arrival);
    }

    fn take(&self) -> Vec<Arrival> {
        std::mem::take(&mut *self.arrivals.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Where upgraded sockets go: the pollers of every lane.
pub struct Pollers {
    inboxes: Arc<[Arc<Inbox>]>,
}

impl Pollers {
    /// One poller on each of `lanes`.
    pub fn start(lanes: &Lanes, shared: &Shared) -> io::Result<Pollers> {
        let inboxes: Arc<[Arc<Inbox>]> = (0..lanes.len()).map(|_| Arc::default()).collect();
        for lane in 0..lanes.len() {
            let poller = Poller {
                lane,
                poll: Poll::new()?,
                events: Events::with_capacity(EVENTS_PER_TICK),
                clients: HashMap::new(),
                next_token: 0,
                inboxes: inboxes.clone(),
                shared: shared.clone(),
                draining: Some(shared.tracker.token()),
            };
            lanes.attach(lane, Box::new(poller));
        }
        Ok(Pollers { inboxes })
    }

    /// Serves `socket` from the next tick of the least busy lane on.
    pub fn adopt(
        &self,
        socket: TcpStream,
        early: Vec<u8>,
        peer: SocketAddr,
        permit: OwnedSemaphorePermit,
    ) {
        let inbox = self
            .inboxes
            .iter()
            .min_by_key(|inbox| inbox.clients.load(Ordering::Relaxed))
            .expect("at least one lane");
        inbox.push(Arrival::New {
            socket,
            early,
            peer,
            permit,
        });
    }
}

struct Poller {
    lane: usize,
    poll: Poll,
    events: Events,
    clients: HashMap<usize, Client>,
    next_token: usize,
    inboxes: Arc<[Arc<Inbox>]>,
    shared: Shared,
    /// Held until the server stops and every connection here has closed,
    /// so that shutdown waits for their 4000.
    draining: Option<TaskTrackerToken>,
}

impl Feed for Poller {
    fn feed(&mut self, now: Instant) {
        self.take_arrivals(now);
        self.read_ready(now);
        let stopping = self.shared.shutdown.is_cancelled();
        self.look_after_all(now, stopping);
        if stopping && self.clients.is_empty() {
            self.draining = None;
        }
    }
}

impl Poller {
    fn inbox(&self) -> &Inbox {
        &self.inboxes[self.lane]
    }

    fn take_arrivals(&mut self, now: Instant) {
        for arrival in self.inbox().take() {
            let client = match arrival {
                Arrival::Moved(client) => *client,
                Arrival::New {
                    socket,
                    early,
                    peer,
                    permit,
                } => match FrameReader::with_bytes(&early) {
                    Ok(frames) => Client::new(Arc::new(socket), frames, peer, permit, &self.shared),
                    Err(e) => {
                        tracing::warn!(%peer, error = %e, "refused client input before the first read");
                        self.gone();
                        continue;
                    }
                },
            };
            self.register(client, now);
        }
    }

    fn register(&mut self, mut client: Client, now: Instant) {
        let token = self.next_token;
        self.next_token += 1;
        let fd = client.socket().as_raw_fd();
        // An arrival that is already readable is reported at once.
        if let Err(e) =
            self.poll
                .registry()
                .register(&mut SourceFd(&fd), Token(token), Interest::READABLE)
        {
            tracing::error!(error = %e, "a connection could not be watched: closed");
            client.abandon(&self.shared);
            self.gone();
            return;
        }
        client.start(&self.shared, now);
        self.clients.insert(token, client);
    }

    fn read_ready(&mut self, now: Instant) {
        if let Err(e) = self.poll.poll(&mut self.events, Some(Duration::ZERO)) {
            if e.kind() != io::ErrorKind::Interrupted {
                tracing::error!(error = %e, "polling the players' sockets failed");
            }
            return;
        }
        for event in &self.events {
            if let Some(client) = self.clients.get_mut(&event.token().0) {
                client.read(&self.shared, now);
            }
        }
    }

    fn look_after_all(&mut self, now: Instant, stopping: bool) {
        let mut leaving = Vec::new();
        for (&token, client) in &mut self.clients {
            client.tick(&self.shared, now, stopping);
            let elsewhere = client.room_lane().filter(|&lane| lane != self.lane);
            if client.is_done() || elsewhere.is_some() {
                leaving.push((token, elsewhere));
            }
        }
        for (token, lane) in leaving {
            let Some(client) = self.clients.remove(&token) else {
                continue;
            };
            let fd = client.socket().as_raw_fd();
            let _ = self.poll.registry().deregister(&mut SourceFd(&fd));
            self.inbox().clients.fetch_sub(1, Ordering::Relaxed);
            match lane {
                Some(lane) if !client.is_done() => {
                    self.inboxes[lane % self.inboxes.len()].push(Arrival::Moved(Box::new(client)))
                }
                _ => self.shared.metrics.connections.dec(),
            }
        }
    }

    /// A connection that ended before it was watched.
    fn gone(&self) {
        self.inbox().clients.fetch_sub(1, Ordering::Relaxed);
        self.shared.metrics.connections.dec();
    }
}
