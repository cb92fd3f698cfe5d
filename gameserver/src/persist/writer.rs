//! Writes snapshots off the tick path. A room hands its snapshot over with
//! `submit`, which only swaps it into that room's slot: a newer snapshot
//! replaces one not yet written, so a slow or absent Redis holds at most one
//! pending snapshot per room, never a growing queue. One task drains the
//! slots, encodes, and writes each batch in one round trip; a failed batch
//! goes back into the slots (unless newer snapshots arrived meanwhile) and is
//! retried with backoff once the connection is back. Every write is fenced
//! (`fence`): a write Redis refuses because another node took the room over
//! is counted, reported once (`OnRefused`) and final: later snapshots of that
//! room under the same or an older epoch are dropped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::envelope::Envelope;
use super::fence::{Fence, Write};
use super::store::RedisStore;

/// Told the room and epoch of each write Redis refused.
pub type OnRefused = Arc<dyn Fn(&str, u64) + Send + Sync>;

#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// First pause after a failed write; doubles up to `max_backoff`.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
        }
    }
}

/// Counters for /metrics and the benches.
#[derive(Debug, Default)]
pub struct WriterStats {
    pub submitted: AtomicU64,
    /// Snapshots replaced in their slot by a newer one before being written.
    pub superseded: AtomicU64,
    pub written: AtomicU64,
    pub deleted: AtomicU64,
    /// Writes refused because the room had another owner.
    pub refused: AtomicU64,
    pub failed_batches: AtomicU64,
    pub bytes_written: AtomicU64,
    pub last_batch_micros: AtomicU64,
    /// False from a failed batch until the next one succeeds.
    pub healthy: AtomicBool,
}

#[derive(Debug, thiserror::Error)]
#[error("room snapshots not written to Redis within {limit:?}: {in_flight} in flight, pending for rooms [{}]", .pending.join(", "))]
pub struct FlushError {
    /// Rooms whose newest snapshot still waits.
    pub pending: Vec<String>,
    pub in_flight: usize,
    pub limit: Duration,
}

enum Job {
    Save(Box<Envelope>, u64),
    /// Encoded once already, kept after a failed write.
    Encoded(Arc<[u8]>, u64),
    Delete(u64),
}

impl Job {
    fn epoch(&self) -> u64 {
        match self {
            Job::Save(_, epoch) | Job::Encoded(_, epoch) | Job::Delete(epoch) => *epoch,
        }
    }
}

#[derive(Default)]
struct State {
    pending: HashMap<String, Job>,
    in_flight: usize,
    closed: bool,
    /// The newest epoch under which each room's write was refused.
    refused: HashMap<String, u64>,
}

struct Shared {
    state: Mutex<State>,
    work: Notify,
    /// Cuts a backoff short: someone is waiting in `flush`.
    hurry: Notify,
    idle: Notify,
    stats: WriterStats,
    fence: Fence,
    on_refused: OnRefused,
}

#[derive(Clone)]
pub struct SnapshotWriter {
    shared: Arc<Shared>,
}

impl SnapshotWriter {
    /// Writes as `fence.node`; `on_refused` hears of every refused write.
    pub fn spawn(
        store: RedisStore,
        fence: Fence,
        options: WriterOptions,
        on_refused: OnRefused,
    ) -> (SnapshotWriter, JoinHandle<()>) {
        let shared = Arc::new(Shared {
            fence,
            on_refused,
            state: Mutex::new(State::default()),
            work: Notify::new(),
            hurry: Notify::new(),
            idle: Notify::new(),
            stats: WriterStats {
                healthy: AtomicBool::new(true),
                ..WriterStats::default()
            },
        });
        let task = tokio::spawn(run(shared.clone(), store, options));
        (SnapshotWriter { shared }, task)
    }

    /// Never waits on Redis: only a short lock to swap the slot. A snapshot
    /// is written only under the lease epoch it carries; one without is a bug
    /// in the caller and is dropped.
    pub fn submit(&self, envelope: Envelope) {
        let Some(epoch) = envelope.epoch else {
            tracing::error!(room = %envelope.room_id, "snapshot without a lease epoch dropped");
            return;
        };
        self.put(
            envelope.room_id.clone(),
            Job::Save(Box::new(envelope), epoch),
        );
        self.shared.stats.submitted.fetch_add(1, Ordering::Relaxed);
    }

    /// The room is gone for good: its key and lease go too (after any pending
    /// save), if it is still this node's under `epoch`.
    pub fn remove(&self, room_id: &str, epoch: u64) {
        self.put(room_id.to_string(), Job::Delete(epoch));
    }

    fn put(&self, room_id: String, job: Job) {
        let mut state = self.shared.lock();
        if state
            .refused
            .get(&room_id)
            .is_some_and(|&e| job.epoch() <= e)
        {
            return;
        }
        let replaced = state.pending.insert(room_id, job);
        drop(state);
        if replaced.is_some() {
            self.shared.stats.superseded.fetch_add(1, Ordering::Relaxed);
        }
        self.shared.work.notify_one();
    }

    pub fn stats(&self) -> &WriterStats {
        &self.shared.stats
    }

    /// Snapshots submitted but not yet written.
    pub fn backlog(&self) -> usize {
        let state = self.shared.lock();
        state.pending.len() + state.in_flight
    }

    /// Waits until everything submitted so far is written, for at most `limit`.
    pub async fn flush(&self, limit: Duration) -> Result<(), FlushError> {
        let deadline = Instant::now() + limit;
        loop {
            let idle = self.shared.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            let (pending, in_flight) = self.unwritten();
            if pending.is_empty() && in_flight == 0 {
                return Ok(());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            self.shared.hurry.notify_one();
            if left.is_zero() || tokio::time::timeout(left, idle).await.is_err() {
                return Err(FlushError {
                    pending,
                    in_flight,
                    limit,
                });
            }
        }
    }

    /// Flushes, then stops the task once nothing is left.
    pub async fn close(&self, limit: Duration) -> Result<(), FlushError> {
        let result = self.flush(limit).await;
        self.shared.lock().closed = true;
        self.shared.work.notify_one();
        result
    }

    /// Rooms with a pending snapshot (sorted), and how many are being written.
    fn unwritten(&self) -> (Vec<String>, usize) {
        let state = self.shared.lock();
        let mut rooms: Vec<String> = state.pending.keys().cloned().collect();
        rooms.sort_unstable();
        (rooms, state.in_flight)
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves the map itself intact.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Everything pending, or None once closed with nothing left.
    fn take_batch(&self) -> Option<Vec<(String, Job)>> {
        let mut state = self.lock();
        if state.closed && state.pending.is_empty() {
            return None;
        }
        let batch: Vec<(String, Job)> = state.pending.drain().collect();
        state.in_flight = batch.len();
        Some(batch)
    }

    /// Remembers refused writes (later ones of the same room and epoch are
    /// dropped) and reports each.
    fn refuse(&self, refused: Vec<(String, u64)>) {
        for (room, epoch) in refused {
            self.stats.refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(room = %room, epoch, "snapshot refused: another node owns the room now");
            let mut state = self.lock();
            let newest = state.refused.entry(room.clone()).or_insert(epoch);
            *newest = (*newest).max(epoch);
            state
                .pending
                .retain(|r, job| r != &room || job.epoch() > epoch);
            drop(state);
            (self.on_refused)(&room, epoch);
        }
    }

    /// Puts a failed batch back where no newer job took its place.
    fn finish_batch(&self, failed: Vec<(String, Job)>) {
        let mut state = self.lock();
        state.in_flight = 0;
        for (room, job) in failed {
            state.pending.entry(room).or_insert(job);
        }
        if state.pending.is_empty() {
            self.idle.notify_waiters();
        }
    }
}

async fn run(shared: Arc<Shared>, store: RedisStore, options: WriterOptions) {
    let mut backoff = options.min_backoff;
    while let Some(batch) = shared.take_batch() {
        if batch.is_empty() {
            shared.idle.notify_waiters();
            shared.work.notified().await;
            continue;
        }
        let batch = encode(batch);
        match write_batch(&shared, &store, &batch).await {
            Ok(refused) => {
                shared.refuse(refused);
                backoff = options.min_backoff;
                shared.finish_batch(Vec::new());
            }
            Err(e) => {
                shared.stats.failed_batches.fetch_add(1, Ordering::Relaxed);
                if shared.stats.healthy.swap(false, Ordering::Relaxed) {
                    tracing::warn!(error = %e, "snapshot write failed; will retry when Redis answers");
                }
                shared.finish_batch(batch.into_iter().map(|(r, j)| (r, j.into())).collect());
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shared.hurry.notified() => {}
                }
                backoff = (backoff * 2).min(options.max_backoff);
            }
        }
    }
}

/// A job ready to send: saves already encoded.
enum Ready {
    Save(Arc<[u8]>, u64),
    Delete(u64),
}

impl From<Ready> for Job {
    fn from(ready: Ready) -> Job {
        match ready {
            Ready::Save(bytes, epoch) => Job::Encoded(bytes, epoch),
            Ready::Delete(epoch) => Job::Delete(epoch),
        }
    }
}

/// Encodes saves here, on the writer task, so the room only pays for a copy.
fn encode(batch: Vec<(String, Job)>) -> Vec<(String, Ready)> {
    batch
        .into_iter()
        .filter_map(|(room, job)| match job {
            Job::Save(envelope, epoch) => match envelope.encode() {
                Ok(bytes) => Some((room, Ready::Save(bytes.into(), epoch))),
                Err(e) => {
                    tracing::error!(room = %room, error = %e, "snapshot dropped");
                    None
                }
            },
            Job::Encoded(bytes, epoch) => Some((room, Ready::Save(bytes, epoch))),
            Job::Delete(epoch) => Some((room, Ready::Delete(epoch))),
        })
        .collect()
}

/// Writes the batch; Ok holds the (room, epoch) of each write Redis refused.
async fn write_batch(
    shared: &Shared,
    store: &RedisStore,
    batch: &[(String, Ready)],
) -> Result<Vec<(String, u64)>, super::store::StoreError> {
    let writes: Vec<Write<'_>> = batch
        .iter()
        .map(|(room, job)| match job {
            Ready::Save(bytes, epoch) => Write::Save {
                room_id: room,
                value: bytes,
                epoch: *epoch,
            },
            Ready::Delete(epoch) => Write::Delete {
                room_id: room,
                epoch: *epoch,
            },
        })
        .collect();
    let started = Instant::now();
    let result = store.write(&shared.fence, &writes).await;
    shared.stats.last_batch_micros.store(
        u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
    let landed = result?;
    let stats = &shared.stats;
    let mut refused = Vec::new();
    for (w, landed) in writes.iter().zip(landed) {
        match w {
            Write::Save { room_id, epoch, .. } | Write::Delete { room_id, epoch } if !landed => {
                refused.push((room_id.to_string(), *epoch));
            }
            Write::Save { value, .. } => {
                stats.written.fetch_add(1, Ordering::Relaxed);
                stats
                    .bytes_written
                    .fetch_add(value.len() as u64, Ordering::Relaxed);
            }
            Write::Delete { .. } => {
                stats.deleted.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    if !stats.healthy.swap(true, Ordering::Relaxed) {
        tracing::info!("snapshot writes to Redis resumed");
    }
    Ok(refused)
}
