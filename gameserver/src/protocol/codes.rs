//! Error codes carried in `error` messages and WebSocket close codes (docs/protocol.md).

/// Codes of the `error` message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum ErrorCode {
    Malformed = 1,
    UnknownType = 2,
    UnsupportedVersion = 3,
    InputRateExceeded = 4,
    InvalidRoom = 5,
    InvalidName = 6,
    RoomFull = 7,
    ServerFull = 8,
    JoinExpected = 9,
    AlreadyJoined = 10,
}

impl ErrorCode {
    /// The close code that follows this error, if the connection is closed.
    pub fn close_code(self) -> Option<u16> {
        use ErrorCode::*;
        match self {
            Malformed | UnknownType | JoinExpected | AlreadyJoined => {
                Some(close::PROTOCOL_VIOLATION)
            }
            UnsupportedVersion => Some(close::UNSUPPORTED_VERSION),
            InputRateExceeded => None,
            InvalidRoom | InvalidName => Some(close::INVALID_ROOM_OR_NAME),
            RoomFull | ServerFull => Some(close::FULL),
        }
    }
}

/// WebSocket close codes.
pub mod close {
    pub const NORMAL: u16 = 1000;
    pub const TOO_LARGE: u16 = 1009;
    pub const SERVER_RESTARTING: u16 = 4000;
    pub const PROTOCOL_VIOLATION: u16 = 4001;
    pub const TOO_MANY_INPUTS: u16 = 4002;
    pub const FULL: u16 = 4003;
    pub const INVALID_ROOM_OR_NAME: u16 = 4004;
    pub const UNSUPPORTED_VERSION: u16 = 4005;
    /// Another connection presented this player's token: the client should not reconnect.
    pub const REPLACED: u16 = 4006;
    pub const INTERNAL_ERROR: u16 = 1011;
}
