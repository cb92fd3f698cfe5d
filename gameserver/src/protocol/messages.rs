//! Every message of docs/protocol.md, with its encoder and decoder.

use bytes::BufMut;

use super::update::UpdateBody;
use super::wire::{put_str8, put_varint, DecodeError, Reader};
use super::PROTOCOL_VERSION;
use crate::sim::Input;

pub mod kind {
    pub const JOIN: u8 = 0x01;
    pub const INPUT: u8 = 0x02;
    pub const RESTART: u8 = 0x03;
    pub const PING: u8 = 0x04;
    pub const WELCOME: u8 = 0x81;
    pub const UPDATE: u8 = 0x82;
    pub const SCORE: u8 = 0x83;
    pub const PONG: u8 = 0x84;
    pub const ERROR: u8 = 0x85;
    pub const YOUR_SHIP: u8 = 0x86;
    pub const KILLED: u8 = 0x87;
}

/// Longest reconnect token accepted in `join`.
pub const MAX_TOKEN_BYTES: usize = 64;
const KEY_UP: u8 = 1;
const KEY_LEFT: u8 = 2;
const KEY_RIGHT: u8 = 4;
const KEY_FIRE: u8 = 8;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Join {
    /// Raw as sent; validated into a `RoomId` before any use.
    pub room: String,
    /// Raw as sent (empty: the server picks one); validated into a `PlayerName`.
    pub name: String,
    /// Empty: a new player.
    pub token: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientMessage {
    Join(Join),
    Input { seq: u32, input: Input },
    Restart,
    Ping { echo: u32 },
}

impl ClientMessage {
    pub fn decode(frame: &[u8]) -> Result<ClientMessage, DecodeError> {
        let mut r = Reader::new(frame);
        let kind = r.u8("type").map_err(|_| DecodeError::Empty)?;
        let msg = match kind {
            kind::JOIN => {
                // The version comes first so that a future layout is refused as such,
                // not as a malformed frame.
                let version = r.u8("version")?;
                if version != PROTOCOL_VERSION {
                    return Err(DecodeError::UnsupportedVersion(version));
                }
                ClientMessage::Join(Join {
                    room: r.str8("room", 255)?,
                    name: r.str8("name", 255)?,
                    token: r.str8("token", MAX_TOKEN_BYTES)?,
                })
            }
            kind::INPUT => ClientMessage::Input {
                seq: r.u32("seq")?,
                input: keys_to_input(r.u8("keys")?)?,
            },
            kind::RESTART => ClientMessage::Restart,
            kind::PING => ClientMessage::Ping {
                echo: r.u32("echo")?,
            },
            other => return Err(DecodeError::UnknownType(other)),
        };
        r.finish(kind)?;
        Ok(msg)
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16);
        match self {
            ClientMessage::Join(j) => {
                out.put_u8(kind::JOIN);
                out.put_u8(PROTOCOL_VERSION);
                put_str8(&mut out, &j.room);
                put_str8(&mut out, &j.name);
                put_str8(&mut out, &j.token);
            }
            ClientMessage::Input { seq, input } => {
                out.put_u8(kind::INPUT);
                out.put_u32_le(*seq);
                out.put_u8(input_to_keys(*input));
            }
            ClientMessage::Restart => out.put_u8(kind::RESTART),
            ClientMessage::Ping { echo } => {
                out.put_u8(kind::PING);
                out.put_u32_le(*echo);
            }
        }
        out
    }
}

fn keys_to_input(keys: u8) -> Result<Input, DecodeError> {
    if keys & !(KEY_UP | KEY_LEFT | KEY_RIGHT | KEY_FIRE) != 0 {
        return Err(DecodeError::ReservedKeyBits(keys));
    }
    Ok(Input {
        up: keys & KEY_UP != 0,
        left: keys & KEY_LEFT != 0,
        right: keys & KEY_RIGHT != 0,
        fire: keys & KEY_FIRE != 0,
    })
}

fn input_to_keys(input: Input) -> u8 {
    (input.up as u8 * KEY_UP)
        | (input.left as u8 * KEY_LEFT)
        | (input.right as u8 * KEY_RIGHT)
        | (input.fire as u8 * KEY_FIRE)
}

/// World constants sent in `welcome`, in wire order.
#[derive(Clone, Debug, PartialEq)]
pub struct Constants {
    pub world_width: u16,
    pub world_height: u16,
    pub steps_per_second: u16,
    pub updates_per_second: u16,
    pub ship_max_speed: f32,
    pub ship_accel: f32,
    pub turn_degrees: f32,
    pub missile_speed: f32,
    pub missile_life_steps: u16,
    pub fire_cooldown_steps: u16,
    pub reconnect_grace_seconds: u16,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Welcome {
    pub player_id: u32,
    /// 0: no ship (a resumed player whose ship was destroyed).
    pub ship_id: u32,
    pub token: String,
    pub resumed: bool,
    pub step: u32,
    pub constants: Constants,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScoreRow {
    pub ship_id: u32,
    pub player_id: u32,
    pub kills: u32,
    pub deaths: u32,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ServerMessage {
    Welcome(Welcome),
    Update {
        last_input_seq: u32,
        body: UpdateBody,
    },
    Score(Vec<ScoreRow>),
    Pong {
        echo: u32,
    },
    Error {
        code: u16,
        message: String,
    },
    YourShip {
        ship_id: u32,
    },
    /// A ship was destroyed by another's missile.
    Killed {
        victim_ship: u32,
        shooter_ship: u32,
        shooter_name: String,
    },
}

impl ServerMessage {
    pub fn decode(frame: &[u8]) -> Result<ServerMessage, DecodeError> {
        let mut r = Reader::new(frame);
        let kind = r.u8("type").map_err(|_| DecodeError::Empty)?;
        let msg = match kind {
            kind::WELCOME => ServerMessage::Welcome(decode_welcome(&mut r)?),
            kind::UPDATE => ServerMessage::Update {
                last_input_seq: r.u32("last_input_seq")?,
                body: UpdateBody::decode(&mut r)?,
            },
            kind::SCORE => {
                // Four 1-byte varints and an empty name at least.
                let n = r.count("score count", 5)?;
                let mut rows = Vec::with_capacity(n);
                for _ in 0..n {
                    rows.push(ScoreRow {
                        ship_id: r.varint("score ship_id")?,
                        player_id: r.varint("score player_id")?,
                        kills: r.varint("score kills")?,
                        deaths: r.varint("score deaths")?,
                        name: r.str8("score name", 255)?,
                    });
                }
                ServerMessage::Score(rows)
            }
            kind::PONG => ServerMessage::Pong {
                echo: r.u32("echo")?,
            },
            kind::ERROR => ServerMessage::Error {
                code: r.u16("code")?,
                message: r.str8("message", 255)?,
            },
            kind::YOUR_SHIP => ServerMessage::YourShip {
                ship_id: r.u32("ship_id")?,
            },
            kind::KILLED => ServerMessage::Killed {
                victim_ship: r.u32("victim_ship")?,
                shooter_ship: r.u32("shooter_ship")?,
                shooter_name: r.str8("shooter_name", 255)?,
            },
            other => return Err(DecodeError::UnknownType(other)),
        };
        r.finish(kind)?;
        Ok(msg)
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        match self {
            ServerMessage::Welcome(w) => encode_welcome(&mut out, w),
            ServerMessage::Update {
                last_input_seq,
                body,
            } => {
                let mut shared = Vec::new();
                body.encode(&mut shared);
                return encode_update_frame(*last_input_seq, &shared);
            }
            ServerMessage::Score(rows) => {
                out.put_u8(kind::SCORE);
                put_varint(&mut out, rows.len() as u32);
                for row in rows {
                    put_varint(&mut out, row.ship_id);
                    put_varint(&mut out, row.player_id);
                    put_varint(&mut out, row.kills);
                    put_varint(&mut out, row.deaths);
                    put_str8(&mut out, &row.name);
                }
            }
            ServerMessage::Pong { echo } => {
                out.put_u8(kind::PONG);
                out.put_u32_le(*echo);
            }
            ServerMessage::Error { code, message } => {
                out.put_u8(kind::ERROR);
                out.put_u16_le(*code);
                put_str8(&mut out, message);
            }
            ServerMessage::YourShip { ship_id } => {
                out.put_u8(kind::YOUR_SHIP);
                out.put_u32_le(*ship_id);
            }
            ServerMessage::Killed {
                victim_ship,
                shooter_ship,
                shooter_name,
            } => {
                out.put_u8(kind::KILLED);
                out.put_u32_le(*victim_ship);
                out.put_u32_le(*shooter_ship);
                put_str8(&mut out, shooter_name);
            }
        }
        out
    }
}

/// One player's update frame: its own `last_input_seq` in front of the room's shared body.
pub fn encode_update_frame(last_input_seq: u32, shared_body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + shared_body.len());
    out.put_u8(kind::UPDATE);
    out.put_u32_le(last_input_seq);
    out.put_slice(shared_body);
    out
}

fn encode_welcome(out: &mut Vec<u8>, w: &Welcome) {
    out.put_u8(kind::WELCOME);
    out.put_u32_le(w.player_id);
    out.put_u32_le(w.ship_id);
    put_str8(out, &w.token);
    out.put_u8(w.resumed as u8);
    out.put_u32_le(w.step);
    let c = &w.constants;
    out.put_u16_le(c.world_width);
    out.put_u16_le(c.world_height);
    out.put_u16_le(c.steps_per_second);
    out.put_u16_le(c.updates_per_second);
    out.put_f32_le(c.ship_max_speed);
    out.put_f32_le(c.ship_accel);
    out.put_f32_le(c.turn_degrees);
    out.put_f32_le(c.missile_speed);
    out.put_u16_le(c.missile_life_steps);
    out.put_u16_le(c.fire_cooldown_steps);
    out.put_u16_le(c.reconnect_grace_seconds);
}

fn decode_welcome(r: &mut Reader<'_>) -> Result<Welcome, DecodeError> {
    Ok(Welcome {
        player_id: r.u32("player_id")?,
        ship_id: r.u32("ship_id")?,
        token: r.str8("token", 255)?,
        resumed: r.u8("resumed")? != 0,
        step: r.u32("step")?,
        constants: Constants {
            world_width: r.u16("world_width")?,
            world_height: r.u16("world_height")?,
            steps_per_second: r.u16("steps_per_second")?,
            updates_per_second: r.u16("updates_per_second")?,
            ship_max_speed: r.f32("ship_max_speed")?,
            ship_accel: r.f32("ship_accel")?,
            turn_degrees: r.f32("turn_degrees")?,
            missile_speed: r.f32("missile_speed")?,
            missile_life_steps: r.u16("missile_life_steps")?,
            fire_cooldown_steps: r.u16("fire_cooldown_steps")?,
            reconnect_grace_seconds: r.u16("reconnect_grace_seconds")?,
        },
    })
}
