//! Speed of the reconcile engine against a real moto server: wall time and
//! API calls of `up` from empty, a no-op `up` and `down`, per profile.
//! Run with `make bench-provisioner` (or `cargo bench -p provisioner`).

#[path = "../tests/common/mod.rs"]
mod common;

use provisioner::calls::CallCounts;
use std::time::{Duration, Instant};

const ROUNDS: usize = 3;

struct Sample {
    wall: Duration,
    calls: CallCounts,
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let moto = common::Moto::start();
    println!("provisioner against moto 5.2.5 ({ROUNDS} rounds, median wall time; calls per run)");
    for env in ["dev", "prod"] {
        let mut up = Vec::new();
        let mut noop = Vec::new();
        let mut down = Vec::new();
        let mut resources = 0;
        for _ in 0..ROUNDS {
            moto.reset();
            runtime.block_on(async {
                let (s, n) = timed(&moto, env, |s| {
                    Box::pin(async move { s.up().await.map(|_| ()) })
                })
                .await;
                resources = n;
                up.push(s);
                noop.push(
                    timed(&moto, env, |s| {
                        Box::pin(async move { s.up().await.map(|_| ()) })
                    })
                    .await
                    .0,
                );
                down.push(
                    timed(&moto, env, |s| {
                        Box::pin(async move { s.down().await.map(|_| ()) })
                    })
                    .await
                    .0,
                );
            });
        }
        println!("{env} ({resources} resources):");
        for (label, samples) in [
            ("up from empty", &mut up),
            ("no-op up", &mut noop),
            ("down", &mut down),
        ] {
            samples.sort_by_key(|s| s.wall);
            let median = &samples[samples.len() / 2];
            println!(
                "  {label:<14} {:>7.1} ms   {:>3} mutating, {:>3} read calls",
                median.wall.as_secs_f64() * 1000.0,
                median.calls.mutating,
                median.calls.read
            );
        }
    }
}

type Step = for<'a> fn(
    &'a provisioner::session::Session,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<(), provisioner::Error>> + 'a>,
>;

/// One command in a fresh session (fresh counter), timed from opening the
/// session (which lists the zones) to the end.
async fn timed(moto: &common::Moto, env: &str, step: Step) -> (Sample, usize) {
    let start = Instant::now();
    let session = common::session(moto, env).await;
    step(&session)
        .await
        .unwrap_or_else(|e| panic!("{env}: {e}"));
    let sample = Sample {
        wall: start.elapsed(),
        calls: session.calls(),
    };
    (sample, session.stack.resources.len())
}
