//! Rooms: each one owns a `World` and steps it at a fixed 60 steps per
//! second, many rooms on one timer (`Lanes`). Other layers reach a room only by messages on its
//! queue (`RoomHandle`); a room reaches back only through the narrow `Host`
//! handle of whatever runs it, and hears whether it still owns its world from
//! its `Lease`. Its players' connections may be on this node or, relayed, on
//! another (`Peer`).

mod host;
mod joins;
mod lanes;
mod outbound;
mod outbox;
mod schedule;
mod session;
mod snapshot;
mod task;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

pub use host::{Host, Lease, LeaseView};
pub use joins::REPLACED;
pub use lanes::{Feed, Lanes};
pub use outbox::{Outbox, Sink};
pub use snapshot::{restored_sessions, Persistence};
pub use task::{Ended, Room, RoomContext, MOVED};

use crate::names::{PlayerName, RoomId};
use crate::sim::{Input, PlayerId, SimConfig};
use crate::token::TokenHash;

/// How many messages may wait for one connection's socket. Updates use only
/// the part above `CONTROL_RESERVE`, so control messages still fit when a slow
/// client's updates are being dropped.
pub const OUTBOX_CAPACITY: usize = 64;
pub const CONTROL_RESERVE: usize = 16;
/// Commands (joins, inputs, leaves) waiting for a room's next step.
pub const ROOM_QUEUE_CAPACITY: usize = 4096;
/// A node relaying players of a room says so this often (`Command::Present`);
/// after three missed beats its players count as disconnected.
pub const PRESENCE_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Clone, Debug)]
pub struct RoomConfig {
    pub sim: SimConfig,
    pub update_rate: u32,
    pub max_players: usize,
    pub reconnect_grace: Duration,
    /// Some: every room's world seed derives from this and the room id.
    pub seed: Option<u64>,
}

/// The reasons rooms give when they close a socket (a relayed close carries
/// one of these or none).
pub const CLOSE_REASONS: [&str; 2] = [REPLACED, MOVED];

/// Tells apart the connections of one room across every node (random per
/// process, then counted), so a reconnect replaces exactly the older one.
pub type ConnId = u64;
/// The id of a node of the cluster, as other nodes name it.
pub type NodeName = Arc<str>;

/// What a room sends toward one connection.
#[derive(Clone, Debug)]
pub enum Outgoing {
    /// A whole encoded server message.
    Frame(Bytes),
    /// An update: the connection writes `0x82`, the seq, then the shared body.
    Update { last_input_seq: u32, body: Bytes },
    /// Close the socket with this code.
    Close { code: u16, reason: &'static str },
}

/// A join as a connection on this node asks for it.
#[derive(Clone, Debug)]
pub struct JoinRequest {
    pub name: Option<PlayerName>,
    /// A reconnect token from an earlier `welcome`, if the client has one.
    pub token: Option<String>,
    pub outbox: Outbox,
}

/// Where a player's connection is: a socket on this node, or on another
/// node that relays the room's messages to it.
#[derive(Clone, Debug)]
pub enum Peer {
    Local(Outbox),
    Remote(NodeName),
}

/// The reconnect tokens of a join: the one presented (to resume a player)
/// and the one a new player gets. Rooms keep hashes only; the texts travel
/// only when the welcome is written on this node (a relayed join carries
/// hashes and its own node writes the token into the welcome).
#[derive(Clone, Debug)]
pub struct Tokens {
    pub presented: Option<TokenHash>,
    pub fresh: TokenHash,
    pub texts: Option<TokenTexts>,
}

#[derive(Clone, Debug)]
pub struct TokenTexts {
    pub presented: Option<String>,
    pub fresh: String,
}

/// A join as a room takes it.
#[derive(Clone, Debug)]
pub struct Joiner {
    pub conn: ConnId,
    pub name: Option<PlayerName>,
    pub tokens: Tokens,
    pub peer: Peer,
    /// Some(last input seq): a takeover moves a connected player to this
    /// room: it must resume (no new player), gets no second welcome, and its
    /// client's inputs up to that seq count as acknowledged.
    pub rejoin: Option<u32>,
}

impl Joiner {
    /// Its socket on this node closed before the join was answered (the
    /// client gave up on it and may have reconnected since).
    pub fn abandoned(&self) -> bool {
        matches!(&self.peer, Peer::Local(outbox) if outbox.is_closed())
    }
}

/// A connection's place in a room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Joined {
    pub player: PlayerId,
    pub conn: ConnId,
    pub resumed: bool,
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum JoinError {
    #[error("room {0} is full")]
    RoomFull(RoomId),
    #[error("this server runs its maximum of {0} rooms")]
    ServerFull(usize),
    #[error("room {room} is unavailable: {why}")]
    Unavailable { room: RoomId, why: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoomStats {
    pub step: u64,
    pub ships: usize,
    pub missiles: usize,
    pub players: usize,
    pub connected: usize,
}

/// Where the answer to a join goes.
#[derive(Debug)]
pub enum JoinReply {
    Local(oneshot::Sender<Result<Joined, JoinError>>),
    /// Published to the joiner's node (`RemoteEvent::Joined`).
    Remote,
}

#[derive(Debug)]
pub enum Command {
    Join {
        joiner: Joiner,
        reply: JoinReply,
    },
    Input {
        player: PlayerId,
        conn: ConnId,
        seq: u32,
        input: Input,
    },
    Restart {
        player: PlayerId,
        conn: ConnId,
    },
    Leave {
        player: PlayerId,
        conn: ConnId,
    },
    /// A relaying node missed updates for these connections.
    NeedFull {
        conns: Vec<ConnId>,
    },
    /// A relaying node's heartbeat, with every connection it relays.
    Present {
        node: NodeName,
        conns: Vec<ConnId>,
    },
    Stats {
        reply: oneshot::Sender<RoomStats>,
    },
}

/// What a room tells the players it holds on other nodes, published once per
/// room and fanned out by each node to its own sockets.
#[derive(Clone, Debug)]
pub enum RemoteEvent {
    Joined {
        conn: ConnId,
        result: Result<Joined, JoinError>,
    },
    /// A frame or a close for one connection.
    ToConn { conn: ConnId, message: Outgoing },
    /// A frame for every relayed connection (scores, kills).
    ToAll(Bytes),
    /// One update: the delta, the full body when some relayed player needs
    /// it, and each relayed player's part.
    Update {
        delta: Bytes,
        full: Option<Bytes>,
        players: Vec<RemoteUpdate>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoteUpdate {
    pub conn: ConnId,
    pub last_input_seq: u32,
    pub full: bool,
}

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    #[error("the room's input queue is full")]
    QueueFull,
    #[error("the room has stopped")]
    RoomGone,
}

/// The address of a room's queue, whoever serves it (the room itself, or a
/// relay to the node that owns it).
#[derive(Clone, Debug)]
pub struct RoomHandle {
    id: RoomId,
    tx: mpsc::Sender<Command>,
    /// The lane the room steps on while it runs here (`NO_LANE` otherwise).
    lane: Arc<AtomicUsize>,
}

const NO_LANE: usize = usize::MAX;

impl RoomHandle {
    /// A queue for room `id` and its receiving end.
    pub fn channel(id: RoomId) -> (RoomHandle, mpsc::Receiver<Command>) {
        let (tx, rx) = mpsc::channel(ROOM_QUEUE_CAPACITY);
        let lane = Arc::new(AtomicUsize::new(NO_LANE));
        (RoomHandle { id, tx, lane }, rx)
    }

    pub fn id(&self) -> &RoomId {
        &self.id
    }

    /// The lane the room steps on, while it runs on this node.
    pub fn lane(&self) -> Option<usize> {
        Some(self.lane.load(Ordering::Relaxed)).filter(|&lane| lane != NO_LANE)
    }

    fn set_lane(&self, lane: Option<usize>) {
        self.lane.store(lane.unwrap_or(NO_LANE), Ordering::Relaxed);
    }

    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Whether both handles lead to the same queue.
    pub fn same_queue(&self, other: &RoomHandle) -> bool {
        self.tx.same_channel(&other.tx)
    }

    /// Never waits: a restart the room cannot take now is dropped.
    pub fn try_restart(&self, player: PlayerId, conn: ConnId) -> Result<(), SendError> {
        self.try_send(Command::Restart { player, conn })
    }

    /// Never waits: an input the room cannot take now is dropped.
    pub fn input(
        &self,
        player: PlayerId,
        conn: ConnId,
        seq: u32,
        input: Input,
    ) -> Result<(), SendError> {
        self.try_send(Command::Input {
            player,
            conn,
            seq,
            input,
        })
    }

    pub async fn restart(&self, player: PlayerId, conn: ConnId) -> Result<(), SendError> {
        self.send(Command::Restart { player, conn }).await
    }

    pub async fn leave(&self, player: PlayerId, conn: ConnId) -> Result<(), SendError> {
        self.send(Command::Leave { player, conn }).await
    }

    pub async fn stats(&self) -> Result<RoomStats, SendError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Stats { reply }).await?;
        answer.await.map_err(|_| SendError::RoomGone)
    }

    /// Joins through this queue and waits for the answer.
    pub async fn join(&self, joiner: Joiner) -> Result<Result<Joined, JoinError>, SendError> {
        let (reply, answer) = oneshot::channel();
        let command = Command::Join {
            joiner,
            reply: JoinReply::Local(reply),
        };
        self.send(command).await?;
        answer.await.map_err(|_| SendError::RoomGone)
    }

    /// Never waits: for commands from other nodes, dropped when the queue is full.
    pub fn try_send(&self, command: Command) -> Result<(), SendError> {
        self.tx.try_send(command).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => SendError::QueueFull,
            mpsc::error::TrySendError::Closed(_) => SendError::RoomGone,
        })
    }

    async fn send(&self, command: Command) -> Result<(), SendError> {
        self.tx.send(command).await.map_err(|_| SendError::RoomGone)
    }
}
