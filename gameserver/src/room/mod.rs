//! Rooms: each one owns a `World` and runs it in its own task at a fixed
//! 60 steps per second. Other layers reach a room only by its id, through the
//! `Registry`, and talk to it by messages, so a room could live elsewhere.

mod registry;
mod schedule;
mod session;
mod snapshot;
mod task;

use std::time::Duration;

use bytes::Bytes;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

pub use registry::{Registry, RestoreError};
pub use snapshot::Persistence;

use crate::names::{PlayerName, RoomId};
use crate::sim::{Input, PlayerId, SimConfig};

/// How many messages may wait for one connection's socket. Updates use only
/// the part above `CONTROL_RESERVE`, so control messages still fit when a slow
/// client's updates are being dropped.
pub const OUTBOX_CAPACITY: usize = 64;
pub const CONTROL_RESERVE: usize = 16;
/// Commands (joins, inputs, leaves) waiting for a room's next step.
pub const ROOM_QUEUE_CAPACITY: usize = 4096;

#[derive(Clone, Debug)]
pub struct RoomConfig {
    pub sim: SimConfig,
    pub update_rate: u32,
    pub max_players: usize,
    pub reconnect_grace: Duration,
    /// Some: every room's world seed derives from this and the room id.
    pub seed: Option<u64>,
}

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

pub type Outbox = mpsc::Sender<Outgoing>;

#[derive(Clone, Debug)]
pub struct JoinRequest {
    pub name: Option<PlayerName>,
    /// A reconnect token from an earlier `welcome`, if the client has one.
    pub token: Option<String>,
    pub outbox: Outbox,
}

/// A connection's place in a room; `conn` tells apart two connections of one
/// player (a reconnect replaces the older one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Joined {
    pub player: PlayerId,
    pub conn: u64,
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

pub(crate) enum Command {
    Join {
        request: JoinRequest,
        reply: oneshot::Sender<Result<Joined, JoinError>>,
    },
    Input {
        player: PlayerId,
        conn: u64,
        seq: u32,
        input: Input,
    },
    Restart {
        player: PlayerId,
        conn: u64,
    },
    Leave {
        player: PlayerId,
        conn: u64,
    },
    Stats {
        reply: oneshot::Sender<RoomStats>,
    },
}

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    #[error("the room's input queue is full")]
    QueueFull,
    #[error("the room has stopped")]
    RoomGone,
}

/// The address of a running room.
#[derive(Clone, Debug)]
pub struct RoomHandle {
    id: RoomId,
    tx: mpsc::Sender<Command>,
}

impl RoomHandle {
    pub fn id(&self) -> &RoomId {
        &self.id
    }

    /// Never waits: an input the room cannot take now is dropped.
    pub fn input(
        &self,
        player: PlayerId,
        conn: u64,
        seq: u32,
        input: Input,
    ) -> Result<(), SendError> {
        self.tx
            .try_send(Command::Input {
                player,
                conn,
                seq,
                input,
            })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => SendError::QueueFull,
                mpsc::error::TrySendError::Closed(_) => SendError::RoomGone,
            })
    }

    pub async fn restart(&self, player: PlayerId, conn: u64) -> Result<(), SendError> {
        self.send(Command::Restart { player, conn }).await
    }

    pub async fn leave(&self, player: PlayerId, conn: u64) -> Result<(), SendError> {
        self.send(Command::Leave { player, conn }).await
    }

    pub async fn stats(&self) -> Result<RoomStats, SendError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Stats { reply }).await?;
        answer.await.map_err(|_| SendError::RoomGone)
    }

    async fn send(&self, command: Command) -> Result<(), SendError> {
        self.tx.send(command).await.map_err(|_| SendError::RoomGone)
    }
}
