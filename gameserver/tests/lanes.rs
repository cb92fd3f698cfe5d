//! Many rooms on one lane's timer, on tokio's paused clock: each room steps
//! once per tick, a room that ends (stopped or retired) leaves the others
//! stepping, and the lane with the fewest rooms takes the next one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gameserver::metrics::Metrics;
use gameserver::names::RoomId;
use gameserver::room::{
    Command, Ended, Host, Lanes, LeaseView, RemoteEvent, Room, RoomConfig, RoomContext, RoomHandle,
};
use gameserver::sim::SimConfig;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Lets a room retire once `empty_ok` is set.
#[derive(Default)]
struct TestHost {
    empty_ok: AtomicBool,
}

impl Host for TestHost {
    fn retire(&self, _: &RoomId, _: &mut mpsc::Receiver<Command>) -> bool {
        self.empty_ok.load(Ordering::Relaxed)
    }
    fn publish(&self, _: &RoomId, _: Vec<RemoteEvent>) {}
    fn confirm_lease(&self, _: &RoomId) {}
}

struct Running {
    handle: RoomHandle,
    cancel: CancellationToken,
    host: Arc<TestHost>,
    ended: JoinHandle<Ended>,
}

fn start(lanes: &Arc<Lanes>, name: &str, metrics: &Arc<Metrics>) -> Running {
    let config = RoomConfig {
        sim: SimConfig {
            bots: 1,
            ..SimConfig::default()
        },
        update_rate: 20,
        max_players: 4,
        reconnect_grace: Duration::from_secs(30),
        seed: Some(3),
    };
    let host = Arc::new(TestHost::default());
    let context = RoomContext {
        metrics: metrics.clone(),
        host: host.clone(),
        persistence: None,
        lease: LeaseView::unfenced(),
    };
    let id = RoomId::parse(name).unwrap();
    let (handle, rx) = RoomHandle::channel(id.clone());
    let room = Room::new(id, config, 1, context, rx);
    let cancel = CancellationToken::new();
    let ended = tokio::spawn({
        let (lanes, cancel, handle) = (lanes.clone(), cancel.clone(), handle.clone());
        async move { lanes.run(room, &handle, cancel).await }
    });
    Running {
        handle,
        cancel,
        host,
        ended,
    }
}

/// About `steps` steps of simulated time, in the timer's 1 ms resolution.
async fn run_for(steps: u32) {
    for _ in 0..steps * 50 / 3 {
        tokio::time::advance(Duration::from_millis(1)).await;
        tokio::task::yield_now().await;
    }
}

async fn step_of(room: &Running) -> u64 {
    room.handle.stats().await.expect("the room runs").step
}

#[tokio::test(start_paused = true)]
async fn rooms_on_one_lane_each_step_once_per_tick_and_end_alone() {
    let lanes = Arc::new(Lanes::with_lanes(1));
    let metrics = Arc::new(Metrics::default());
    let rooms: Vec<Running> = ["a", "b", "c"]
        .iter()
        .map(|name| start(&lanes, name, &metrics))
        .collect();
    run_for(60).await;
    let steps = steps_of(&rooms).await;
    // All on one clock since its first tick, none skipped.
    assert!(steps.iter().all(|&s| s == steps[0]), "{steps:?}");
    assert!((59..=62).contains(&steps[0]), "{steps:?}");
    assert_eq!(metrics.ticks_skipped.get(), 0);

    rooms[0].cancel.cancel();
    rooms[1].host.empty_ok.store(true, Ordering::Relaxed);
    run_for(180).await;
    let [a, b, c] = <[Running; 3]>::try_from(rooms).ok().unwrap();
    assert_eq!(a.ended.await.unwrap(), Ended::Stopped);
    // Empty for the linger time, then retired.
    assert_eq!(b.ended.await.unwrap(), Ended::Retired);
    let before = step_of(&c).await;
    run_for(30).await;
    let after = step_of(&c).await;
    assert!((29..=31).contains(&(after - before)), "{before} -> {after}");
    assert!(!c.ended.is_finished());
}

/// Asked together, so they answer at the same tick.
async fn steps_of(rooms: &[Running]) -> Vec<u64> {
    futures_util::future::join_all(rooms.iter().map(step_of)).await
}

#[tokio::test(start_paused = true)]
async fn a_room_goes_to_the_lane_with_the_fewest_rooms() {
    let lanes = Arc::new(Lanes::with_lanes(2));
    let metrics = Arc::new(Metrics::default());
    let mut rooms = Vec::new();
    for i in 0..4 {
        rooms.push(start(&lanes, &format!("r{i}"), &metrics));
        // Each takes its lane before the next one chooses.
        tokio::task::yield_now().await;
    }
    run_for(2).await;
    assert_eq!(lanes.rooms_per_lane(), vec![2, 2]);
    // r0 and r2 went to the first lane.
    rooms[0].cancel.cancel();
    rooms[2].cancel.cancel();
    run_for(2).await;
    assert_eq!(lanes.rooms_per_lane(), vec![0, 2]);
    rooms.push(start(&lanes, "r4", &metrics));
    run_for(2).await;
    assert_eq!(lanes.rooms_per_lane(), vec![1, 2]);
}
