//! The messages nodes exchange over Redis pub/sub, in a compact binary form
//! (little-endian, as docs/protocol.md). Per room, two channels: commands to
//! its owner (`room_commands:{id}`: joins, inputs, restarts, leaves, from the
//! nodes relaying its players) and events from its owner
//! (`room_events:{id}`: one batch per step with what the room tells those
//! players, numbered so a gap shows). Reconnect tokens never travel: a join
//! carries their SHA-256 only. Everything read is checked; a bad message is
//! dropped, never a panic.

use bytes::{BufMut, Bytes};

use crate::names::{PlayerName, RoomId};
use crate::protocol::{put_str8, put_varint, ClientMessage, DecodeError, Reader};
use crate::room::{
    ConnId, JoinError, Joined, NodeName, Outgoing, RemoteEvent, RemoteUpdate, CLOSE_REASONS,
};
use crate::sim::{Input, PlayerId};
use crate::token::TokenHash;

const VERSION: u8 = 1;
/// Bounds what a peer can make us allocate (a batch holds one room's step).
const MAX_FRAME: usize = 16 * 1024 * 1024;

pub fn commands_channel(room: &RoomId) -> String {
    format!("room_commands:{room}")
}

pub fn events_channel(room: &RoomId) -> String {
    format!("room_events:{room}")
}

/// From a node relaying players to the room's owner.
#[derive(Clone, Debug, PartialEq)]
pub enum ToOwner {
    Join {
        node: NodeName,
        conn: ConnId,
        name: Option<String>,
        presented: Option<TokenHash>,
        fresh: TokenHash,
        rejoin: Option<u32>,
    },
    Input {
        conn: ConnId,
        player: PlayerId,
        seq: u32,
        input: Input,
    },
    Restart {
        conn: ConnId,
        player: PlayerId,
    },
    Leave {
        conn: ConnId,
        player: PlayerId,
    },
    NeedFull {
        conns: Vec<ConnId>,
    },
    Present {
        node: NodeName,
        conns: Vec<ConnId>,
    },
}

/// From a room's owner, under its lease epoch.
#[derive(Clone, Debug)]
pub enum FromOwner {
    /// What one step of the room produced; `seq` counts batches per epoch.
    Batch {
        epoch: u64,
        seq: u64,
        events: Vec<RemoteEvent>,
    },
    /// The owner let the room go (drain): take it over now.
    Released { epoch: u64 },
}

mod kind {
    pub const JOIN: u8 = 1;
    pub const INPUT: u8 = 2;
    pub const RESTART: u8 = 3;
    pub const LEAVE: u8 = 4;
    pub const NEED_FULL: u8 = 5;
    pub const PRESENT: u8 = 6;

    pub const BATCH: u8 = 1;
    pub const RELEASED: u8 = 2;

    pub const JOINED: u8 = 1;
    pub const FRAME: u8 = 2;
    pub const CLOSE: u8 = 3;
    pub const TO_ALL: u8 = 4;
    pub const UPDATE: u8 = 5;
}

impl ToOwner {
    pub fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(96);
        out.put_u8(VERSION);
        match self {
            ToOwner::Join {
                node,
                conn,
                name,
                presented,
                fresh,
                rejoin,
            } => {
                out.put_u8(kind::JOIN);
                put_str8(&mut out, node);
                out.put_u64_le(*conn);
                put_str8(&mut out, name.as_deref().unwrap_or(""));
                put_hash(&mut out, presented.as_ref());
                out.put_slice(fresh.as_bytes());
                out.put_u8(u8::from(rejoin.is_some()));
                out.put_u32_le(rejoin.unwrap_or(0));
            }
            ToOwner::Input {
                conn,
                player,
                seq,
                input,
            } => {
                out.put_u8(kind::INPUT);
                out.put_u64_le(*conn);
                out.put_u32_le(*player);
                // The client's own input frame, so keys map one way only.
                let frame = ClientMessage::Input {
                    seq: *seq,
                    input: *input,
                }
                .encode();
                out.put_u8(frame.len() as u8);
                out.put_slice(&frame);
            }
            ToOwner::Restart { conn, player } => {
                out.put_u8(kind::RESTART);
                out.put_u64_le(*conn);
                out.put_u32_le(*player);
            }
            ToOwner::Leave { conn, player } => {
                out.put_u8(kind::LEAVE);
                out.put_u64_le(*conn);
                out.put_u32_le(*player);
            }
            ToOwner::NeedFull { conns } => {
                out.put_u8(kind::NEED_FULL);
                put_conns(&mut out, conns);
            }
            ToOwner::Present { node, conns } => {
                out.put_u8(kind::PRESENT);
                put_str8(&mut out, node);
                put_conns(&mut out, conns);
            }
        }
        Bytes::from(out)
    }

    pub fn decode(bytes: &[u8]) -> Result<ToOwner, DecodeError> {
        let mut r = Reader::new(bytes);
        let kind = header(&mut r)?;
        let message = match kind {
            kind::JOIN => ToOwner::Join {
                node: NodeName::from(r.str8("node", 255)?),
                conn: r.u64("conn")?,
                name: Some(r.str8("name", 255)?).filter(|n| !n.is_empty()),
                presented: read_hash(&mut r, "presented")?,
                fresh: TokenHash::from_bytes(read_array(&mut r, "fresh")?),
                rejoin: {
                    let has = r.u8("rejoin")? != 0;
                    let seq = r.u32("rejoin seq")?;
                    has.then_some(seq)
                },
            },
            kind::INPUT => {
                let conn = r.u64("conn")?;
                let player = r.u32("player")?;
                let len = usize::from(r.u8("input length")?);
                match ClientMessage::decode(r.bytes(len, "input")?)? {
                    ClientMessage::Input { seq, input } => ToOwner::Input {
                        conn,
                        player,
                        seq,
                        input,
                    },
                    _ => return Err(DecodeError::UnknownType(kind)),
                }
            }
            kind::RESTART => ToOwner::Restart {
                conn: r.u64("conn")?,
                player: r.u32("player")?,
            },
            kind::LEAVE => ToOwner::Leave {
                conn: r.u64("conn")?,
                player: r.u32("player")?,
            },
            kind::NEED_FULL => ToOwner::NeedFull {
                conns: read_conns(&mut r)?,
            },
            kind::PRESENT => ToOwner::Present {
                node: NodeName::from(r.str8("node", 255)?),
                conns: read_conns(&mut r)?,
            },
            other => return Err(DecodeError::UnknownType(other)),
        };
        r.finish(kind)?;
        Ok(message)
    }
}

impl FromOwner {
    pub fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(256);
        out.put_u8(VERSION);
        match self {
            FromOwner::Batch { epoch, seq, events } => {
                out.put_u8(kind::BATCH);
                out.put_u64_le(*epoch);
                out.put_u64_le(*seq);
                put_varint(&mut out, events.len() as u32);
                for event in events {
                    put_event(&mut out, event);
                }
            }
            FromOwner::Released { epoch } => {
                out.put_u8(kind::RELEASED);
                out.put_u64_le(*epoch);
            }
        }
        Bytes::from(out)
    }

    /// `room`: the room of the channel, for the errors of refused joins.
    pub fn decode(bytes: &[u8], room: &RoomId) -> Result<FromOwner, DecodeError> {
        let mut r = Reader::new(bytes);
        let kind = header(&mut r)?;
        let message = match kind {
            kind::BATCH => {
                let epoch = r.u64("epoch")?;
                let seq = r.u64("seq")?;
                let n = r.count("events", 2)?;
                let mut events = Vec::with_capacity(n);
                for _ in 0..n {
                    events.push(read_event(&mut r, room)?);
                }
                FromOwner::Batch { epoch, seq, events }
            }
            kind::RELEASED => FromOwner::Released {
                epoch: r.u64("epoch")?,
            },
            other => return Err(DecodeError::UnknownType(other)),
        };
        r.finish(kind)?;
        Ok(message)
    }
}

fn header(r: &mut Reader<'_>) -> Result<u8, DecodeError> {
    let version = r.u8("version").map_err(|_| DecodeError::Empty)?;
    if version != VERSION {
        return Err(DecodeError::UnsupportedVersion(version));
    }
    r.u8("type")
}

fn put_event(out: &mut Vec<u8>, event: &RemoteEvent) {
    match event {
        RemoteEvent::Joined { conn, result } => {
            out.put_u8(kind::JOINED);
            out.put_u64_le(*conn);
            match result {
                Ok(joined) => {
                    out.put_u8(0);
                    out.put_u32_le(joined.player);
                    out.put_u8(u8::from(joined.resumed));
                }
                Err(JoinError::RoomFull(_)) => out.put_u8(1),
                Err(JoinError::ServerFull(max)) => {
                    out.put_u8(2);
                    out.put_u32_le(u32::try_from(*max).unwrap_or(u32::MAX));
                }
                Err(JoinError::Unavailable { why, .. }) => {
                    out.put_u8(3);
                    put_str8(out, why);
                }
            }
        }
        RemoteEvent::ToConn {
            conn,
            message: Outgoing::Close { code, reason },
        } => {
            out.put_u8(kind::CLOSE);
            out.put_u64_le(*conn);
            out.put_u16_le(*code);
            put_str8(out, reason);
        }
        RemoteEvent::ToConn {
            conn,
            message: Outgoing::Frame(frame),
        } => {
            out.put_u8(kind::FRAME);
            out.put_u64_le(*conn);
            put_blob(out, frame);
        }
        RemoteEvent::ToConn {
            conn,
            message:
                Outgoing::Update {
                    last_input_seq,
                    body,
                },
        } => {
            // A room sends relayed updates as one `Update` event; should one
            // ever go to a single connection, it is a full frame like any other.
            out.put_u8(kind::FRAME);
            out.put_u64_le(*conn);
            put_blob(
                out,
                &crate::protocol::encode_update_frame(*last_input_seq, body),
            );
        }
        RemoteEvent::ToAll(frame) => {
            out.put_u8(kind::TO_ALL);
            put_blob(out, frame);
        }
        RemoteEvent::Update {
            delta,
            full,
            players,
        } => {
            out.put_u8(kind::UPDATE);
            put_blob(out, delta);
            out.put_u8(u8::from(full.is_some()));
            if let Some(full) = full {
                put_blob(out, full);
            }
            put_varint(out, players.len() as u32);
            for p in players {
                out.put_u64_le(p.conn);
                out.put_u32_le(p.last_input_seq);
                out.put_u8(u8::from(p.full));
            }
        }
    }
}

fn read_event(r: &mut Reader<'_>, room: &RoomId) -> Result<RemoteEvent, DecodeError> {
    let kind = r.u8("event")?;
    Ok(match kind {
        kind::JOINED => {
            let conn = r.u64("conn")?;
            let result = match r.u8("join result")? {
                0 => Ok(Joined {
                    player: r.u32("player")?,
                    conn,
                    resumed: r.u8("resumed")? != 0,
                }),
                1 => Err(JoinError::RoomFull(room.clone())),
                2 => Err(JoinError::ServerFull(r.u32("max rooms")? as usize)),
                3 => Err(JoinError::Unavailable {
                    room: room.clone(),
                    why: r.str8("why", 255)?,
                }),
                other => return Err(DecodeError::UnknownType(other)),
            };
            RemoteEvent::Joined { conn, result }
        }
        kind::FRAME => RemoteEvent::ToConn {
            conn: r.u64("conn")?,
            message: Outgoing::Frame(read_blob(r, "frame")?),
        },
        kind::CLOSE => {
            let conn = r.u64("conn")?;
            let code = r.u16("close code")?;
            let reason = r.str8("close reason", 255)?;
            // Closes carry static reasons: keep a known one, drop any other.
            let reason = CLOSE_REASONS
                .iter()
                .find(|known| **known == reason)
                .copied()
                .unwrap_or("");
            RemoteEvent::ToConn {
                conn,
                message: Outgoing::Close { code, reason },
            }
        }
        kind::TO_ALL => RemoteEvent::ToAll(read_blob(r, "frame")?),
        kind::UPDATE => {
            let delta = read_blob(r, "delta")?;
            let full = match r.u8("has full")? {
                0 => None,
                _ => Some(read_blob(r, "full")?),
            };
            let n = r.count("players", 13)?;
            let mut players = Vec::with_capacity(n);
            for _ in 0..n {
                players.push(RemoteUpdate {
                    conn: r.u64("conn")?,
                    last_input_seq: r.u32("last input seq")?,
                    full: r.u8("full")? != 0,
                });
            }
            RemoteEvent::Update {
                delta,
                full,
                players,
            }
        }
        other => return Err(DecodeError::UnknownType(other)),
    })
}

/// A name as the relaying node sent it, checked again here: it came over
/// the network, and an invalid one falls back to a generated name.
pub fn player_name(name: Option<&str>) -> Option<PlayerName> {
    name.and_then(|n| PlayerName::parse(n).ok().flatten())
}

fn put_blob(out: &mut Vec<u8>, blob: &[u8]) {
    out.put_u32_le(blob.len() as u32);
    out.put_slice(blob);
}

fn read_blob(r: &mut Reader<'_>, field: &'static str) -> Result<Bytes, DecodeError> {
    let len = r.u32(field)? as usize;
    if len > MAX_FRAME {
        return Err(DecodeError::TooLong {
            field,
            len,
            max: MAX_FRAME,
        });
    }
    Ok(Bytes::copy_from_slice(r.bytes(len, field)?))
}

fn put_hash(out: &mut Vec<u8>, hash: Option<&TokenHash>) {
    out.put_u8(u8::from(hash.is_some()));
    out.put_slice(hash.map_or(&[0u8; 32], |h| h.as_bytes()));
}

fn read_hash(r: &mut Reader<'_>, field: &'static str) -> Result<Option<TokenHash>, DecodeError> {
    let has = r.u8(field)? != 0;
    let bytes = read_array(r, field)?;
    Ok(has.then(|| TokenHash::from_bytes(bytes)))
}

fn read_array(r: &mut Reader<'_>, field: &'static str) -> Result<[u8; 32], DecodeError> {
    let mut out = [0u8; 32];
    out.copy_from_slice(r.bytes(32, field)?);
    Ok(out)
}

fn put_conns(out: &mut Vec<u8>, conns: &[ConnId]) {
    put_varint(out, conns.len() as u32);
    for conn in conns {
        out.put_u64_le(*conn);
    }
}

fn read_conns(r: &mut Reader<'_>) -> Result<Vec<ConnId>, DecodeError> {
    let n = r.count("conns", 8)?;
    (0..n).map(|_| r.u64("conn")).collect()
}

#[cfg(test)]
mod tests;
