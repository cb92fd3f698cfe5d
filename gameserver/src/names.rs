//! Room ids and player names, validated before they are used anywhere
//! (logs, map keys, later Redis keys).

use std::fmt;

use thiserror::Error;

pub const MAX_ROOM_ID_BYTES: usize = 32;
pub const MAX_NAME_CHARS: usize = 16;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum NameError {
    #[error("room id must be 1 to {MAX_ROOM_ID_BYTES} bytes, got {0}")]
    RoomLength(usize),
    #[error("room id may only hold A-Z, a-z, 0-9, '_' and '-'")]
    RoomCharacters,
    #[error("name must be at most {MAX_NAME_CHARS} characters, got {0}")]
    NameLength(usize),
    #[error("name may only hold letters, digits, spaces, '_' and '-'")]
    NameCharacters,
    #[error("name may not start or end with a space")]
    NameSpaces,
}

/// A room id: 1 to 32 bytes of `[A-Za-z0-9_-]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomId(String);

impl RoomId {
    pub fn parse(raw: &str) -> Result<RoomId, NameError> {
        if raw.is_empty() || raw.len() > MAX_ROOM_ID_BYTES {
            return Err(NameError::RoomLength(raw.len()));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(NameError::RoomCharacters);
        }
        Ok(RoomId(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A chosen player name: 1 to 16 Unicode letters or digits, spaces, `_` or `-`,
/// no leading or trailing space. (An empty name in `join` means "pick one".)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlayerName(String);

impl PlayerName {
    /// `Ok(None)` for the empty string: the server generates a name.
    pub fn parse(raw: &str) -> Result<Option<PlayerName>, NameError> {
        if raw.is_empty() {
            return Ok(None);
        }
        let chars = raw.chars().count();
        if chars > MAX_NAME_CHARS {
            return Err(NameError::NameLength(chars));
        }
        if !raw
            .chars()
            .all(|c| c.is_alphanumeric() || c == ' ' || c == '_' || c == '-')
        {
            return Err(NameError::NameCharacters);
        }
        if raw.starts_with(' ') || raw.ends_with(' ') {
            return Err(NameError::NameSpaces);
        }
        Ok(Some(PlayerName(raw.to_owned())))
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_ids() {
        assert!(RoomId::parse("default").is_ok());
        assert!(RoomId::parse("a-B_9").is_ok());
        assert!(RoomId::parse(&"x".repeat(32)).is_ok());
        assert_eq!(RoomId::parse(""), Err(NameError::RoomLength(0)));
        assert_eq!(
            RoomId::parse(&"x".repeat(33)),
            Err(NameError::RoomLength(33))
        );
        for bad in ["a b", "a:b", "../x", "a*", "é", "a\0"] {
            assert_eq!(
                RoomId::parse(bad),
                Err(NameError::RoomCharacters),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn player_names() {
        assert_eq!(PlayerName::parse(""), Ok(None));
        assert!(PlayerName::parse("Zoë 2_x-y").unwrap().is_some());
        assert!(PlayerName::parse(&"é".repeat(16)).unwrap().is_some());
        assert_eq!(
            PlayerName::parse(&"é".repeat(17)),
            Err(NameError::NameLength(17))
        );
        assert_eq!(PlayerName::parse(" a"), Err(NameError::NameSpaces));
        assert_eq!(PlayerName::parse("a "), Err(NameError::NameSpaces));
        for bad in ["<b>", "a\u{202e}b", "a\tb", "a.b", "😀"] {
            assert_eq!(
                PlayerName::parse(bad),
                Err(NameError::NameCharacters),
                "{bad:?}"
            );
        }
    }
}
