//! Prints, for rooms of 10 to 5000 ships (all bots, steering and firing):
//! CPU time per step with the encode share (p50, p99), the steps per second
//! the real room loop holds, and the bytes per second one spectator receives
//! at the default 20 updates per second. Figures, not assertions.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gameserver::cluster::Registry;
use gameserver::metrics::{Metrics, Phase};
use gameserver::names::RoomId;
use gameserver::protocol::UpdateEncoder;
use gameserver::room::{JoinRequest, Outbox, Outgoing, RoomConfig, OUTBOX_CAPACITY};
use gameserver::sim::{SimConfig, World};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

const SIZES: [u32; 6] = [10, 50, 100, 200, 1000, 5000];
const UPDATE_RATE: u32 = 20;
const LOOP_SECONDS: u64 = 3;
/// Bots start at rest; let them get going before measuring.
const WARMUP_STEPS: u32 = 180;

fn main() {
    // `cargo bench` passes --bench; a filter argument picks sizes, e.g. `cargo bench -- 200`.
    let filter: Vec<u32> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes: Vec<u32> = SIZES
        .into_iter()
        .filter(|n| filter.is_empty() || filter.contains(n))
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime for the room loop");
    println!(
        "Spaaace room benchmark ({} cores, release build)",
        num_cpus()
    );
    println!(
        "{:>6} | {:>9} {:>9} {:>9} | {:>8} {:>8} | {:>11} {:>11}",
        "ships", "p50 ms", "p99 ms", "mean ms", "steps/s", "skipped", "spect. KB/s", "bytes/upd"
    );
    let mut phases = Vec::new();
    for ships in sizes {
        let step = step_costs(ships);
        let held = runtime.block_on(room_loop(ships));
        phases.push((ships, held.phase_means_us));
        println!(
            "{:>6} | {:>9.4} {:>9.4} {:>9.4} | {:>8.1} {:>8} | {:>11.1} {:>11.0}",
            ships,
            step.p50_ms,
            step.p99_ms,
            step.mean_ms,
            held.steps_per_second,
            held.ticks_skipped,
            held.spectator_bytes_per_second / 1000.0,
            held.bytes_per_update
        );
    }
    println!();
    println!("Mean wall time per phase in the real room loop, microseconds (from its /metrics histograms):");
    println!(
        "{:>6} | {:>8} {:>8} {:>8} {:>10} {:>8} {:>8}",
        "ships", "inputs", "bots", "physics", "collisions", "timers", "encode"
    );
    for (ships, us) in phases {
        println!(
            "{:>6} | {:>8.1} {:>8.1} {:>8.1} {:>10.1} {:>8.1} {:>8.1}",
            ships, us[0], us[1], us[2], us[3], us[4], us[5]
        );
    }
    println!("(encode: events, scores and the update encode, averaged over all steps.)");
    println!();
    println!(
        "p50/p99/mean: thread CPU time of one step (inputs, bots, physics, collisions, timers)"
    );
    println!(
        "  plus the delta encode every third step, as a room at {UPDATE_RATE} updates/s does."
    );
    println!(
        "steps/s: the real room loop (its lane's timer, skip on late ticks) over {LOOP_SECONDS} s."
    );
    println!("spect. KB/s: WebSocket bytes (payload + frame header) one spectator receives, scores included.");
}

struct StepCosts {
    p50_ms: f64,
    p99_ms: f64,
    mean_ms: f64,
}

fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec we own.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn step_costs(ships: u32) -> StepCosts {
    let mut world = World::new(
        SimConfig {
            bots: ships,
            ..SimConfig::default()
        },
        42,
    );
    let mut encoder = UpdateEncoder::new();
    for _ in 0..WARMUP_STEPS {
        world.step(&[]);
    }
    encoder.delta(&world);
    // About a second of budget per size.
    let steps = (600_000 / ships).clamp(120, 3000) as usize;
    let mut samples = Vec::with_capacity(steps);
    for i in 0..steps {
        let start = thread_cpu_time();
        world.step(&[]);
        world.drain_events().for_each(drop);
        if i % 3 == 2 {
            std::hint::black_box(encoder.delta(&world));
        }
        samples.push(thread_cpu_time() - start);
    }
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    StepCosts {
        p50_ms: ms(samples[samples.len() / 2]),
        p99_ms: ms(samples[samples.len() * 99 / 100]),
        mean_ms: ms(samples.iter().sum::<Duration>()) / samples.len() as f64,
    }
}

struct Held {
    phase_means_us: [f64; Phase::ALL.len()],
    steps_per_second: f64,
    ticks_skipped: u64,
    spectator_bytes_per_second: f64,
    bytes_per_update: f64,
}

/// WebSocket framing the server adds to a binary payload of `len` bytes.
fn ws_header(len: usize) -> usize {
    match len {
        0..=125 => 2,
        126..=65535 => 4,
        _ => 10,
    }
}

async fn room_loop(ships: u32) -> Held {
    let metrics = Arc::new(Metrics::default());
    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    let config = RoomConfig {
        sim: SimConfig {
            bots: ships,
            ..SimConfig::default()
        },
        update_rate: UPDATE_RATE,
        max_players: 8,
        reconnect_grace: Duration::from_secs(30),
        seed: Some(42),
    };
    let registry = Registry::new(config, 1, metrics.clone(), cancel.clone(), tracker.clone());
    let (outbox, mut inbox) = Outbox::channel(OUTBOX_CAPACITY);
    let room = RoomId::parse("bench").expect("valid room id");
    let (handle, _) = registry
        .join(
            &room,
            JoinRequest {
                name: None,
                token: None,
                outbox,
            },
        )
        .await
        .expect("spectator joins the bench room");
    // Let the bots get going, then measure what the spectator receives.
    tokio::time::sleep(Duration::from_millis(u64::from(WARMUP_STEPS) * 1000 / 60)).await;
    while inbox.try_recv().is_ok() {}
    let counter = tokio::spawn(async move {
        let (mut bytes, mut updates) = (0usize, 0usize);
        while let Some(message) = inbox.recv().await {
            let len = match &message {
                Outgoing::Frame(b) => b.len(),
                Outgoing::Update { body, .. } => {
                    updates += 1;
                    5 + Bytes::len(body)
                }
                Outgoing::Close { .. } => break,
            };
            bytes += len + ws_header(len);
        }
        (bytes, updates)
    });
    let skipped_before = metrics.ticks_skipped.get();
    let before = handle.stats().await.expect("room stats");
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(LOOP_SECONDS)).await;
    let after = handle.stats().await.expect("room stats");
    let elapsed = started.elapsed().as_secs_f64();
    let skipped = metrics.ticks_skipped.get() - skipped_before;
    cancel.cancel();
    tracker.close();
    tracker.wait().await;
    drop(handle);
    drop(registry);
    let (bytes, updates) = counter.await.expect("byte counter");
    Held {
        phase_means_us: Phase::ALL.map(|p| metrics.phase(p).mean().as_secs_f64() * 1e6),
        steps_per_second: (after.step - before.step) as f64 / elapsed,
        ticks_skipped: skipped,
        spectator_bytes_per_second: bytes as f64 / elapsed,
        bytes_per_update: bytes as f64 / updates.max(1) as f64,
    }
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
