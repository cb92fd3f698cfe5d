//! Redis key names. Snapshot keys are the seed's `game_room_{roomId}`; the
//! other prefixes deliberately do not start with `game_room_`, so a scan for
//! saved rooms never picks up a quarantined value, a lease or an epoch.

/// Prefix of every room snapshot key.
pub const ROOM_KEY_PREFIX: &str = "game_room_";
/// `SCAN MATCH` pattern that finds every saved room.
pub const ROOM_KEY_PATTERN: &str = "game_room_*";
/// Prefix of the hash that keeps a value hydration refused.
pub const QUARANTINE_KEY_PREFIX: &str = "quarantine:game_room_";

/// Prefix of the hash `{node, epoch}` naming a room's owner (expires with the lease).
pub const LEASE_KEY_PREFIX: &str = "lease:game_room_";
/// Prefix of the counter of a room's fencing epochs.
pub const EPOCH_KEY_PREFIX: &str = "epoch:game_room_";

/// Prefix of the pub/sub channel each live node stays subscribed to.
pub const PRESENCE_CHANNEL_PREFIX: &str = "presence:node:";

/// Seconds a snapshot lives without being rewritten (the seed's expiry).
pub const SNAPSHOT_TTL_SECS: u64 = 3600;
/// Quarantined values stay a week: long enough for someone to look.
pub const QUARANTINE_TTL_SECS: u64 = 7 * 24 * 3600;

pub fn room_key(room_id: &str) -> String {
    format!("{ROOM_KEY_PREFIX}{room_id}")
}

pub fn quarantine_key(room_id: &str) -> String {
    format!("{QUARANTINE_KEY_PREFIX}{room_id}")
}

pub fn lease_key(room_id: &str) -> String {
    format!("{LEASE_KEY_PREFIX}{room_id}")
}

pub fn epoch_key(room_id: &str) -> String {
    format!("{EPOCH_KEY_PREFIX}{room_id}")
}

pub fn presence_channel(node: &str) -> String {
    format!("{PRESENCE_CHANNEL_PREFIX}{node}")
}

/// The room id of a snapshot key, or None for a key that is not one.
pub fn room_id_of(key: &str) -> Option<&str> {
    key.strip_prefix(ROOM_KEY_PREFIX)
        .filter(|id| !id.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_keys_round_trip_and_quarantine_keys_are_not_rooms() {
        assert_eq!(room_key("lobby"), "game_room_lobby");
        assert_eq!(room_id_of(&room_key("a-b_c")), Some("a-b_c"));
        assert_eq!(room_id_of("game_room_"), None);
        assert_eq!(room_id_of("other"), None);
        assert_eq!(room_id_of(&quarantine_key("lobby")), None);
        assert_eq!(room_id_of(&lease_key("lobby")), None);
        assert_eq!(room_id_of(&epoch_key("lobby")), None);
    }
}
