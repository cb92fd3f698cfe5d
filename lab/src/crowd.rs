//! The simulated players of a run: each a reconnecting player (the
//! browser's behaviour, `gameserver::client::reconnect`) with its own
//! cookie jar, in one of several rooms, recording everything it lives
//! through with the time it happened.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use gameserver::client::reconnect::{
    CookieJar, Ending, Observation, Observed, PlayerPlan, ReconnectingPlayer, Traffic,
};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::haproxy::config::COOKIE;
use crate::measure::{continues, Tick};
use crate::zone::Zone;

#[derive(Clone, Debug)]
pub struct CrowdPlan {
    pub url: String,
    pub players: u32,
    pub rooms: u32,
    pub input_rate: u32,
    /// Players of a room share one cookie jar: the whole room lands on one
    /// node, as if the load balancer routed by room.
    pub room_affinity: bool,
    /// Joins are spread over this long, as real players do not arrive at once.
    pub join_spread: Duration,
}

/// One player's record.
pub struct Recording {
    pub index: u32,
    pub room: String,
    pub seen: Vec<Observed>,
    pub ending: Ending,
    pub traffic: Traffic,
}

/// What the runner checks while the run goes on, kept up to date by the
/// player's observer so no timeline has to be copied.
#[derive(Default)]
struct Live {
    joined: bool,
    last: Option<Tick>,
    /// When the current unbroken run of updates began.
    run_since: Option<Instant>,
}

struct Log {
    seen: Vec<Observed>,
    live: Live,
    conn: u32,
}

struct Member {
    index: u32,
    room: String,
    jar: CookieJar,
    log: Arc<Mutex<Log>>,
    task: JoinHandle<(Ending, Traffic)>,
}

pub struct Crowd {
    members: Vec<Member>,
    stop: CancellationToken,
}

pub fn room_name(index: u32) -> String {
    format!("lab-{index}")
}

impl Crowd {
    pub fn start(plan: &CrowdPlan) -> Crowd {
        let stop = CancellationToken::new();
        let room_jars: Vec<CookieJar> = (0..plan.rooms).map(|_| CookieJar::default()).collect();
        let period = Duration::from_secs(1) / plan.input_rate.max(1);
        let members = (0..plan.players)
            .map(|index| {
                // Rooms in blocks of consecutive players: the load balancer's
                // round robin then spreads every room over the nodes.
                let room_index = index * plan.rooms / plan.players.max(1);
                let room = room_name(room_index);
                let jar = if plan.room_affinity {
                    room_jars[room_index as usize].clone()
                } else {
                    CookieJar::default()
                };
                let player = ReconnectingPlayer::new(
                    PlayerPlan {
                        url: plan.url.clone(),
                        room: room.clone(),
                        name: format!("p{index}"),
                        input_period: period,
                        seed: index + 1,
                    },
                    jar.clone(),
                );
                let delay = plan
                    .join_spread
                    .mul_f64(f64::from(index) / f64::from(plan.players.max(1)));
                let log = Arc::new(Mutex::new(Log {
                    seen: Vec::new(),
                    live: Live::default(),
                    conn: 0,
                }));
                let task = tokio::spawn(play(player, delay, stop.clone(), log.clone()));
                Member {
                    index,
                    room,
                    jar,
                    log,
                    task,
                }
            })
            .collect();
        Crowd { members, stop }
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Players that have received at least one update.
    pub fn playing(&self) -> usize {
        self.members
            .iter()
            .filter(|m| lock(&m.log).live.last.is_some())
            .count()
    }

    /// Every player has had updates without a break for `quiet`, the last
    /// one just now.
    pub fn all_steady(&self, quiet: Duration) -> bool {
        let now = Instant::now();
        self.members.iter().all(|m| {
            let log = lock(&m.log);
            let fresh = log
                .live
                .last
                .is_some_and(|t| now.duration_since(t.at) < crate::measure::GAP);
            let steady = log
                .live
                .run_since
                .is_some_and(|s| now.duration_since(s) >= quiet);
            log.live.joined && fresh && steady
        })
    }

    /// The node each player's browser is pinned to now, from its cookie.
    pub fn pinned_nodes(&self) -> Vec<Option<Zone>> {
        self.members
            .iter()
            .map(|m| pinned_zone(m.jar.get().as_deref()))
            .collect()
    }

    /// Stops every player and hands back their records.
    pub async fn stop(self) -> Vec<Recording> {
        self.stop.cancel();
        let mut out = Vec::with_capacity(self.members.len());
        for m in self.members {
            let (ending, traffic) = m.task.await.unwrap_or_else(|e| {
                (
                    Ending::Failed {
                        code: 0,
                        reason: format!("the player's task failed: {e}"),
                    },
                    Traffic::default(),
                )
            });
            let seen = std::mem::take(&mut lock(&m.log).seen);
            out.push(Recording {
                index: m.index,
                room: m.room,
                seen,
                ending,
                traffic,
            });
        }
        out
    }
}

async fn play(
    player: ReconnectingPlayer,
    delay: Duration,
    stop: CancellationToken,
    log: Arc<Mutex<Log>>,
) -> (Ending, Traffic) {
    tokio::select! {
        _ = stop.cancelled() => return (Ending::Stopped, Traffic::default()),
        _ = tokio::time::sleep(delay) => {}
    }
    player.run(stop, |seen| record(&log, seen)).await
}

fn record(log: &Mutex<Log>, seen: Observed) {
    let mut log = lock(log);
    match seen.what {
        Observation::Welcome { .. } => {
            log.conn += 1;
            log.live.joined = true;
        }
        Observation::Update { step, .. } => {
            let tick = Tick {
                at: seen.at,
                step,
                conn: log.conn,
            };
            if !log.live.last.is_some_and(|last| continues(&last, &tick)) {
                log.live.run_since = Some(seen.at);
            }
            log.live.last = Some(tick);
        }
        _ => {}
    }
    log.seen.push(seen);
}

/// The zone a sticky cookie names (`AWSALB=b|...`).
pub fn pinned_zone(cookie: Option<&str>) -> Option<Zone> {
    let value = cookie?.strip_prefix(COOKIE)?.strip_prefix('=')?;
    Zone::from_letter(value.split('|').next()?)
}

fn lock(log: &Mutex<Log>) -> MutexGuard<'_, Log> {
    log.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_zone_from_the_cookie() {
        assert_eq!(pinned_zone(Some("AWSALB=b|axBXN|axBXN")), Some(Zone::B));
        assert_eq!(pinned_zone(Some("AWSALB=c")), Some(Zone::C));
        assert_eq!(pinned_zone(Some("OTHER=a")), None);
        assert_eq!(pinned_zone(None), None);
    }
}
