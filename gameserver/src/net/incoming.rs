//! A connection's socket, read side: whole messages out of what the client
//! sends, read a chunk at a time when the socket says it has something.

use std::io;

use thiserror::Error;
use tokio::io::AsyncReadExt;
use tokio::net::tcp::OwnedReadHalf;

use super::frame::{FrameError, FrameReader, Message};

#[derive(Debug, Error)]
pub enum ReadError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("reading from the client failed: {0}")]
    Io(#[from] io::Error),
}

pub struct Incoming {
    socket: OwnedReadHalf,
    frames: FrameReader,
}

impl Incoming {
    pub fn new(socket: OwnedReadHalf, frames: FrameReader) -> Incoming {
        Incoming { socket, frames }
    }

    /// The next message; None once the client closed its side. Cancel-safe:
    /// what was read stays for the next call.
    pub async fn next(&mut self) -> Result<Option<Message<'_>>, ReadError> {
        while !self.frames.advance()? {
            // tokio's read takes a short read for "drained": one system call
            // per arrival instead of a second one that finds nothing.
            match self.socket.read(self.frames.spare()).await? {
                0 => return Ok(None),
                n => self.frames.filled(n),
            }
        }
        Ok(self.frames.message())
    }
}
