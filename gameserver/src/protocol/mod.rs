//! The versioned binary protocol between browser and server (docs/protocol.md):
//! message codecs, quantization, and the update encoder rooms share among players.

mod codes;
mod messages;
mod mirror;
pub mod quantize;
mod update;
mod wire;

#[cfg(test)]
mod tests;

pub use codes::{close, ErrorCode};
pub use messages::{
    encode_update_frame, kind, ClientMessage, Constants, Join, ScoreRow, ServerMessage, Welcome,
    MAX_TOKEN_BYTES,
};
pub use mirror::{MirrorError, MirrorMissile, MirrorShip, WorldMirror};
pub use update::{
    MovedShip, NewMissile, NewShip, ShipMotion, UpdateBody, UpdateEncoder, UpdateKind,
};
pub use wire::DecodeError;
pub(crate) use wire::{put_str8, put_varint, Reader};

pub const PROTOCOL_VERSION: u8 = 1;
/// Largest client frame accepted; bigger ones close the connection with 1009.
pub const MAX_CLIENT_FRAME_BYTES: usize = 256;
