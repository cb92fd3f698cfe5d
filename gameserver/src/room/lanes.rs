//! The clock the rooms of this process step on: one lane per core, each a
//! task with one 60 Hz timer that steps all of its rooms in turn at every
//! tick. A timer and a task wake-up per room and tick would cost more than
//! a small room's step; with lanes, a thousand rooms cost two wake-ups a
//! tick. Every lane ticks at the same instants; a room joins the lane with
//! the fewest rooms and stays there until it ends.
//!
//! A lane also runs its `Feed`s at every tick, before its rooms step: what
//! brings the rooms their commands (the players' sockets, read at the tick
//! rather than as each frame arrives), so that a lane's rooms see at their
//! step everything read for them in the same tick.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::task::{Ended, Room, STEP_PERIOD};
use super::RoomHandle;

/// Runs on a lane at every tick, before the lane's rooms step.
pub trait Feed: Send + 'static {
    fn feed(&mut self, now: Instant);
}

/// A room a lane runs, and where its end is told.
struct Entry {
    room: Room,
    cancel: CancellationToken,
    ended: oneshot::Sender<Ended>,
}

enum Arrival {
    Room(Box<Entry>),
    Feed(Box<dyn Feed>),
}

struct Lane {
    arrivals: mpsc::UnboundedSender<Arrival>,
    rooms: Arc<AtomicUsize>,
}

pub struct Lanes {
    lanes: Vec<Lane>,
}

impl Lanes {
    /// One lane per core (as many as tokio's workers); needs a runtime.
    pub fn start() -> Lanes {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::with_lanes(cores)
    }

    pub fn with_lanes(count: usize) -> Lanes {
        // One schedule for all: a tick wakes every lane at once.
        let first_tick = Instant::now() + STEP_PERIOD;
        let lanes = (0..count.max(1))
            .map(|_| {
                let (arrivals, rx) = mpsc::unbounded_channel();
                let rooms = Arc::new(AtomicUsize::new(0));
                tokio::spawn(run_lane(rx, rooms.clone(), first_tick));
                Lane { arrivals, rooms }
            })
            .collect();
        Lanes { lanes }
    }

    pub fn len(&self) -> usize {
        self.lanes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lanes.is_empty()
    }

    /// How many rooms each lane runs.
    pub fn rooms_per_lane(&self) -> Vec<usize> {
        self.lanes
            .iter()
            .map(|lane| lane.rooms.load(Ordering::Relaxed))
            .collect()
    }

    /// Runs `feed` on lane `lane` (modulo the lanes there are) from its next tick on.
    pub fn attach(&self, lane: usize, feed: Box<dyn Feed>) {
        let lane = &self.lanes[lane % self.lanes.len()];
        // A lane is gone only when the runtime shuts down.
        let _ = lane.arrivals.send(Arrival::Feed(feed));
    }

    /// Runs `room` on the least busy lane until it ends (retired, stopped by
    /// `cancel`, or lost to another node); `handle` says which lane meanwhile.
    pub async fn run(&self, room: Room, handle: &RoomHandle, cancel: CancellationToken) -> Ended {
        let (index, lane) = self
            .lanes
            .iter()
            .enumerate()
            .min_by_key(|(_, lane)| lane.rooms.load(Ordering::Relaxed))
            .expect("at least one lane");
        lane.rooms.fetch_add(1, Ordering::Relaxed);
        handle.set_lane(Some(index));
        let (ended, end) = oneshot::channel();
        let entry = Entry {
            room,
            cancel,
            ended,
        };
        let ended = match lane.arrivals.send(Arrival::Room(Box::new(entry))) {
            Ok(()) => end.await.unwrap_or(Ended::Stopped),
            Err(refused) => {
                // The lane is gone (only when the runtime shuts down): run alone.
                lane.rooms.fetch_sub(1, Ordering::Relaxed);
                let Arrival::Room(entry) = refused.0 else {
                    unreachable!("a room was sent")
                };
                entry.room.run(entry.cancel).await
            }
        };
        handle.set_lane(None);
        ended
    }
}

/// Feeds and steps its rooms at every tick until no room is left and no
/// more can come.
async fn run_lane(
    mut arrivals: mpsc::UnboundedReceiver<Arrival>,
    count: Arc<AtomicUsize>,
    first_tick: Instant,
) {
    let mut interval = tokio::time::interval_at(first_tick, STEP_PERIOD);
    // A late tick is skipped, never burst: the game slows rather than jumps.
    interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut rooms: Vec<Entry> = Vec::new();
    let mut feeds: Vec<Box<dyn Feed>> = Vec::new();
    let mut open = true;
    let mut last_tick: Option<Instant> = None;
    loop {
        tokio::select! {
            biased;
            arrival = arrivals.recv(), if open => match arrival {
                Some(Arrival::Room(entry)) => {
                    let mut entry = *entry;
                    entry.room.started();
                    rooms.push(entry);
                }
                Some(Arrival::Feed(feed)) => feeds.push(feed),
                None if rooms.is_empty() => return,
                None => open = false,
            },
            at = interval.tick() => {
                let missed = last_tick.map_or(0, |prev| ticks_missed(prev, at));
                last_tick = Some(at);
                let now = Instant::now();
                for feed in &mut feeds {
                    feed.feed(now);
                }
                step_all(&mut rooms, &count, missed, now);
                if !open && rooms.is_empty() {
                    return;
                }
            }
        }
    }
}

/// Ticks skipped between two ticks that happened.
fn ticks_missed(prev: Instant, at: Instant) -> u64 {
    let periods = (at - prev).as_nanos() / STEP_PERIOD.as_nanos();
    periods.saturating_sub(1) as u64
}

fn step_all(rooms: &mut Vec<Entry>, count: &AtomicUsize, missed: u64, now: Instant) {
    let mut i = 0;
    while i < rooms.len() {
        let entry = &mut rooms[i];
        entry.room.skipped(missed);
        let ended = if entry.cancel.is_cancelled() {
            Some(Ended::Stopped)
        } else {
            entry.room.on_tick(now)
        };
        match ended {
            None => i += 1,
            Some(ended) => {
                let Entry {
                    mut room,
                    ended: tell,
                    ..
                } = rooms.swap_remove(i);
                room.finish(ended);
                count.fetch_sub(1, Ordering::Relaxed);
                let _ = tell.send(ended);
            }
        }
    }
}
