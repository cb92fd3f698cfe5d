//! Why a connection is being refused, as the client will hear it: an
//! `error` message (when the protocol has a code for it), then a close code.

use super::frame::{FrameError, WS_PROTOCOL_ERROR};
use crate::protocol::{close, DecodeError, ErrorCode};
use crate::room::JoinError;

pub struct Refusal {
    pub code: Option<ErrorCode>,
    pub close: u16,
    pub message: String,
}

impl Refusal {
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Refusal {
        Refusal {
            close: code.close_code().unwrap_or(close::PROTOCOL_VIOLATION),
            code: Some(code),
            message: message.into(),
        }
    }

    pub fn close_only(close: u16, message: impl Into<String>) -> Refusal {
        Refusal {
            code: None,
            close,
            message: message.into(),
        }
    }

    /// A frame the WebSocket layer refuses: 1009 when it is too large for
    /// the protocol, 1002 when it breaks WebSocket itself.
    pub fn frame(e: FrameError) -> Refusal {
        let code = match e {
            FrameError::TooLarge(_) => close::TOO_LARGE,
            _ => WS_PROTOCOL_ERROR,
        };
        Refusal::close_only(code, e.to_string())
    }

    pub fn decode(e: DecodeError) -> Refusal {
        let code = match e {
            DecodeError::UnknownType(_) => ErrorCode::UnknownType,
            DecodeError::UnsupportedVersion(_) => ErrorCode::UnsupportedVersion,
            _ => ErrorCode::Malformed,
        };
        Refusal::error(code, e.to_string())
    }

    /// A join the room (or the server) did not take.
    pub fn join(e: &JoinError) -> Refusal {
        match e {
            JoinError::RoomFull(_) => Refusal::error(ErrorCode::RoomFull, e.to_string()),
            JoinError::ServerFull(_) => Refusal::error(ErrorCode::ServerFull, e.to_string()),
            JoinError::Unavailable { .. } => {
                Refusal::close_only(close::INTERNAL_ERROR, "room unavailable, try again")
            }
        }
    }

    /// Whether `/metrics` counts it among refused frames: every refusal but
    /// a normal close.
    pub fn counts_as_bad(&self) -> bool {
        self.close != close::NORMAL
    }
}

pub fn close_reason(code: u16) -> &'static str {
    match code {
        close::TOO_LARGE => "frame too large",
        close::PROTOCOL_VIOLATION => "protocol violation",
        close::TOO_MANY_INPUTS => "too many inputs",
        close::FULL => "server or room full",
        close::INVALID_ROOM_OR_NAME => "invalid room id or name",
        close::UNSUPPORTED_VERSION => "unsupported protocol version",
        close::INTERNAL_ERROR => "internal error",
        WS_PROTOCOL_ERROR => "WebSocket protocol error",
        _ => "",
    }
}
