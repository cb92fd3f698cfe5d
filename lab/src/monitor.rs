//! Watches the rooms' snapshots in Redis through the primary endpoint, as
//! an operator would, to tell whether a write Redis had taken was lost or a
//! stale world overwrote a newer one. Only changes are recorded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gameserver::persist::room_key;
use serde::Deserialize;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const READ_LIMIT: Duration = Duration::from_millis(800);

/// One snapshot as read from Redis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotRead {
    pub at: Instant,
    pub room: String,
    pub step: u64,
    /// The fencing epoch it was written under, when the envelope has one.
    pub epoch: Option<u64>,
}

/// The part of the envelope the monitor needs; the rest is skipped.
#[derive(Deserialize)]
struct Head {
    snapshot: WorldHead,
    #[serde(default)]
    epoch: Option<u64>,
}

#[derive(Deserialize)]
struct WorldHead {
    step: u64,
}

pub struct Monitor {
    stop: CancellationToken,
    task: JoinHandle<Vec<SnapshotRead>>,
    newest: Arc<Mutex<HashMap<String, u64>>>,
}

impl Monitor {
    pub fn start(redis_url: &str, rooms: Vec<String>, period: Duration) -> Monitor {
        let stop = CancellationToken::new();
        let newest = Arc::new(Mutex::new(HashMap::new()));
        let task = tokio::spawn(watch(
            redis_url.to_string(),
            rooms,
            period,
            stop.clone(),
            newest.clone(),
        ));
        Monitor { stop, task, newest }
    }

    /// Rooms with a snapshot in Redis so far.
    pub fn rooms_saved(&self) -> usize {
        self.newest.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub async fn stop(self) -> Vec<SnapshotRead> {
        self.stop.cancel();
        self.task.await.unwrap_or_default()
    }
}

async fn watch(
    url: String,
    rooms: Vec<String>,
    period: Duration,
    stop: CancellationToken,
    newest: Arc<Mutex<HashMap<String, u64>>>,
) -> Vec<SnapshotRead> {
    let mut reads: Vec<SnapshotRead> = Vec::new();
    let mut last: HashMap<String, (u64, Option<u64>)> = HashMap::new();
    let keys: Vec<String> = rooms.iter().map(|r| room_key(r)).collect();
    let Ok(client) = redis::Client::open(url.as_str()) else {
        tracing::warn!(%url, "monitor: not a Redis URL");
        return reads;
    };
    let mut conn = None;
    let mut tick = tokio::time::interval(period);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return reads,
            _ = tick.tick() => {}
        }
        if conn.is_none() {
            conn = tokio::time::timeout(READ_LIMIT, client.get_multiplexed_async_connection())
                .await
                .ok()
                .and_then(Result::ok);
        }
        let Some(c) = conn.as_mut() else { continue };
        let got = tokio::time::timeout(
            READ_LIMIT,
            redis::cmd("MGET")
                .arg(&keys)
                .query_async::<Vec<Option<Vec<u8>>>>(c),
        )
        .await;
        let values = match got {
            Ok(Ok(values)) => values,
            // Redis is failing over or the endpoint moved: connect again.
            _ => {
                conn = None;
                continue;
            }
        };
        let at = Instant::now();
        for (room, value) in rooms.iter().zip(values) {
            let Some(head) = value.and_then(|v| serde_json::from_slice::<Head>(&v).ok()) else {
                continue;
            };
            let seen = (head.snapshot.step, head.epoch);
            if last.get(room) != Some(&seen) {
                last.insert(room.clone(), seen);
                if let Ok(mut m) = newest.lock() {
                    m.insert(room.clone(), head.snapshot.step);
                }
                reads.push(SnapshotRead {
                    at,
                    room: room.clone(),
                    step: head.snapshot.step,
                    epoch: head.epoch,
                });
            }
        }
    }
}

/// Reads of a room whose world is older than one read before it: an epoch
/// lower than an earlier epoch when envelopes carry one, else a lower step.
/// Either a write Redis had taken was lost (a failover) or a stale writer
/// overwrote a newer world.
pub fn regressions(reads: &[SnapshotRead], room: &str) -> usize {
    let mut count = 0;
    let (mut max_epoch, mut prev_step): (Option<u64>, Option<u64>) = (None, None);
    for r in reads.iter().filter(|r| r.room == room) {
        let regressed = match (r.epoch, max_epoch) {
            (Some(e), Some(m)) => e < m,
            _ => prev_step.is_some_and(|p| r.step < p),
        };
        count += usize::from(regressed);
        max_epoch = max_epoch.max(r.epoch);
        prev_step = Some(r.step);
    }
    count
}

/// The newest step of `room` read before `at`.
pub fn newest_before(reads: &[SnapshotRead], room: &str, at: Instant) -> Option<u64> {
    reads
        .iter()
        .filter(|r| r.room == room && r.at < at)
        .map(|r| r.step)
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(t0: Instant, ms: u64, step: u64, epoch: Option<u64>) -> SnapshotRead {
        SnapshotRead {
            at: t0 + Duration::from_millis(ms),
            room: "r".into(),
            step,
            epoch,
        }
    }

    #[test]
    fn counts_worlds_going_back() {
        let t0 = Instant::now();
        let plain = [
            read(t0, 0, 60, None),
            read(t0, 100, 120, None),
            read(t0, 200, 90, None),
            read(t0, 300, 150, None),
        ];
        assert_eq!(regressions(&plain, "r"), 1);
        assert_eq!(
            newest_before(&plain, "r", t0 + Duration::from_millis(250)),
            Some(120)
        );
        // With epochs, a later owner may start lower in steps; only a lower epoch is stale.
        let fenced = [
            read(t0, 0, 600, Some(3)),
            read(t0, 100, 400, Some(4)),
            read(t0, 200, 700, Some(3)),
            read(t0, 300, 460, Some(4)),
        ];
        assert_eq!(regressions(&fenced, "r"), 1);
        assert_eq!(regressions(&fenced, "other"), 0);
    }

    #[test]
    fn reads_the_step_of_a_real_envelope() {
        use gameserver::persist::Envelope;
        use gameserver::sim::{SimConfig, World};
        let mut world = World::new(SimConfig::default(), 7);
        for _ in 0..5 {
            world.step(&[]);
        }
        let envelope = Envelope::capture(
            "r",
            &world,
            Default::default(),
            std::time::SystemTime::now(),
        );
        let json = serde_json::to_vec(&envelope).unwrap();
        let head: Head = serde_json::from_slice(&json).unwrap();
        assert_eq!(head.snapshot.step, 5);
        assert_eq!(head.epoch, None);
    }
}
