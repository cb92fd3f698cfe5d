//! A room's side of persistence: when it takes a snapshot, and what a
//! snapshot holds besides the world (each player's token hash and grace
//! deadline). Taking one costs the tick only a copy of the world; encoding
//! and the Redis write happen on the snapshot writer's task.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::session::{Presence, Session, Sessions};
use crate::persist::{millis_since_epoch, Envelope, PlayerRecord, RestoredPlayer, SnapshotWriter};
use crate::sim::{PlayerId, World};

/// Event-driven snapshots of one room are at least this far apart, so a
/// 1000-ship battle with hits every step copies its world a few times a
/// second, not sixty.
const MIN_SPACING: Duration = Duration::from_millis(50);

/// Where rooms send snapshots and how often.
#[derive(Clone)]
pub struct Persistence {
    pub writer: SnapshotWriter,
    pub interval: Duration,
}

/// One room's snapshot schedule: every `interval`, and at the next step after
/// anything a player would hate to lose (a join, a leave, a hit), at most
/// every MIN_SPACING.
pub(crate) struct SnapshotClock {
    persistence: Persistence,
    last: Instant,
    due: bool,
}

impl SnapshotClock {
    pub(crate) fn new(persistence: Persistence, now: Instant) -> SnapshotClock {
        // Due at once: a new room is saved at its first step.
        SnapshotClock {
            persistence,
            last: now.checked_sub(MIN_SPACING).unwrap_or(now),
            due: true,
        }
    }

    pub(crate) fn mark_due(&mut self) {
        self.due = true;
    }

    /// Hands a snapshot to the writer if one is due at `now`; only under a
    /// lease (`epoch`), else it stays due.
    pub(crate) fn tick(
        &mut self,
        room_id: &str,
        world: &World,
        sessions: &Sessions,
        now: Instant,
        epoch: Option<u64>,
    ) {
        let since = now.duration_since(self.last);
        if (self.due && since >= MIN_SPACING) || since >= self.persistence.interval {
            self.take(room_id, world, sessions, now, epoch);
        }
    }

    /// A snapshot now, whatever the schedule (the room is stopping, or woke
    /// from a pause), if it has a lease to write it under.
    pub(crate) fn take(
        &mut self,
        room_id: &str,
        world: &World,
        sessions: &Sessions,
        now: Instant,
        epoch: Option<u64>,
    ) {
        let Some(epoch) = epoch else {
            self.due = true;
            return;
        };
        let wall = SystemTime::now();
        let players = player_records(sessions, now, wall);
        let envelope = Envelope::capture(room_id, world, players, wall).with_epoch(epoch);
        self.persistence.writer.submit(envelope);
        self.last = now;
        self.due = false;
    }
}

/// Grace deadlines are kept on the monotonic clock while running and on the
/// wall clock in a snapshot, since a new process has a new monotonic clock.
fn player_records(
    sessions: &Sessions,
    now: Instant,
    wall: SystemTime,
) -> BTreeMap<PlayerId, PlayerRecord> {
    sessions
        .iter()
        .map(|(player, session)| {
            let grace_deadline = match session.presence {
                Presence::Away { until } => Some(millis_since_epoch(
                    wall + until.saturating_duration_since(now),
                )),
                Presence::Connected(_) => None,
            };
            let record = PlayerRecord {
                token_hash: session.token_hash,
                grace_deadline,
            };
            (player, record)
        })
        .collect()
}

/// Sessions of restored players: all disconnected, each waiting for its token
/// until its grace deadline.
pub fn restored_sessions(players: Vec<RestoredPlayer>, now: Instant, wall: SystemTime) -> Sessions {
    let mut sessions = Sessions::default();
    for p in players {
        let left = p
            .grace_deadline
            .duration_since(wall)
            .unwrap_or(Duration::ZERO);
        let session = Session {
            token_hash: p.token_hash,
            presence: Presence::Away { until: now + left },
            last_input_seq: 0,
            told_ship: 0,
        };
        sessions.insert(p.id, session);
    }
    sessions
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::room::session::Conn;
    use crate::room::Peer;
    use crate::token::TokenHash;

    fn session(token: &str, presence: Presence) -> Session {
        Session {
            token_hash: TokenHash::of(token),
            presence,
            last_input_seq: 0,
            told_ship: 0,
        }
    }

    #[test]
    fn grace_deadlines_move_between_the_monotonic_and_the_wall_clock() {
        let now = Instant::now();
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let (outbox, _inbox) = crate::room::Outbox::channel(1);
        let mut sessions = Sessions::default();
        let conn = Conn {
            id: 1,
            peer: Peer::Local(outbox),
            needs_full: false,
            since: now,
        };
        sessions.insert(1, session("connected", Presence::Connected(conn)));
        let away = Presence::Away {
            until: now + Duration::from_secs(12),
        };
        sessions.insert(2, session("away", away));

        let records = player_records(&sessions, now, wall);
        assert_eq!(records[&1].grace_deadline, None);
        assert!(records[&1].token_hash.matches("connected"));
        assert_eq!(
            records[&2].grace_deadline,
            Some(millis_since_epoch(wall) + 12_000)
        );

        let restored = vec![
            RestoredPlayer {
                id: 2,
                token_hash: records[&2].token_hash,
                grace_deadline: wall + Duration::from_secs(12),
            },
            RestoredPlayer {
                id: 3,
                token_hash: TokenHash::of("late"),
                grace_deadline: wall - Duration::from_secs(1),
            },
        ];
        let mut back = restored_sessions(restored, now, wall);
        assert_eq!(back.len(), 2);
        assert_eq!(back.player_with_token(&TokenHash::of("away")), Some(2));
        let away = back.get_mut(2).unwrap();
        assert!(
            matches!(away.presence, Presence::Away { until } if until == now + Duration::from_secs(12))
        );
        assert!(
            matches!(back.get_mut(3).unwrap().presence, Presence::Away { until } if until == now)
        );
    }
}
