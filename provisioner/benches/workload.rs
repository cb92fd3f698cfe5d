//! Speed of the whole stack (the network and the game's workload) against
//! moto 5.2.5: wall time and API calls of `up` from empty, a no-op `up` and
//! `down`.
//! `cargo bench -p provisioner --bench workload`.
//!
//! moto has no ElastiCache parameter groups and never finishes deleting a
//! replication group, so `up` runs the shipped dev and prod profiles with
//! the engine's default parameter group, and `down` runs them without
//! ElastiCache (its deletion is covered by tests/fakes/elasticache.rs).

#[path = "../tests/common/mod.rs"]
mod common;

use provisioner::calls::CallCounts;
use provisioner::profile::Profile;
use provisioner::session::{Session, SessionOptions};
use provisioner::wait::WaitPolicy;
use std::path::Path;
use std::time::{Duration, Instant};

const ROUNDS: usize = 3;

fn profile(env: &str, cache: bool) -> Profile {
    let path = common::shipped_profiles_dir().join(format!("{env}.toml"));
    let text = std::fs::read_to_string(&path).expect("shipped profile");
    let mut table: toml::Table = toml::from_str(&text).expect("shipped profile parses");
    let c = table
        .get_mut("cache")
        .and_then(|c| c.as_table_mut())
        .expect("[cache]");
    c.insert("custom_parameter_group".into(), false.into());
    c.insert("enabled".into(), cache.into());
    // An image named: no push into the emulator's ECR needed.
    table
        .get_mut("service")
        .and_then(|s| s.as_table_mut())
        .expect("[service]")
        .insert("image".into(), "spaaace/gameserver:bench".into());
    Profile::parse(
        Path::new(&format!("{env}.toml")),
        &toml::to_string(&table).unwrap(),
    )
    .expect("profile")
}

async fn session(moto: &common::Moto, profile: Profile) -> Session {
    let options = SessionOptions {
        aws: provisioner::aws::AwsOptions {
            region: Some(common::REGION.into()),
            endpoint_url: Some(moto.endpoint.clone()),
            ..provisioner::aws::AwsOptions::default()
        },
        concurrency: 8,
        wait: WaitPolicy {
            interval: Duration::from_millis(100),
            timeout: Duration::from_secs(60),
            report_every: Duration::from_secs(30),
            settle: Duration::from_secs(30),
        },
    };
    Session::open(profile, options).await.expect("session")
}

/// Runs one command in a fresh session: (wall time, calls, resources).
async fn timed(
    moto: &common::Moto,
    profile: Profile,
    command: &str,
) -> (Duration, CallCounts, usize) {
    let start = Instant::now();
    let s = session(moto, profile).await;
    let resources = s.stack.resources.len();
    match command {
        "up" => {
            s.up().await.unwrap_or_else(|e| panic!("up: {e}"));
        }
        _ => {
            s.down().await.unwrap_or_else(|e| panic!("down: {e}"));
        }
    }
    (start.elapsed(), s.calls(), resources)
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let moto = common::Moto::start();
    println!("whole stack against moto 5.2.5 ({ROUNDS} rounds, median; calls per run)");
    for env in ["dev", "prod"] {
        let mut rows: Vec<(&str, Vec<(Duration, CallCounts)>)> = vec![
            ("up from empty", vec![]),
            ("no-op up", vec![]),
            ("down (no cache)", vec![]),
        ];
        let mut sizes = (0, 0);
        for _ in 0..ROUNDS {
            moto.reset();
            runtime.block_on(async {
                let (t, c, n) = timed(&moto, profile(env, true), "up").await;
                sizes.0 = n;
                rows[0].1.push((t, c));
                let (t, c, _) = timed(&moto, profile(env, true), "up").await;
                rows[1].1.push((t, c));
            });
            moto.reset();
            runtime.block_on(async {
                let (_, _, n) = timed(&moto, profile(env, false), "up").await;
                sizes.1 = n;
                let (t, c, _) = timed(&moto, profile(env, false), "down").await;
                rows[2].1.push((t, c));
            });
        }
        println!(
            "{env} ({} resources; {} without ElastiCache):",
            sizes.0, sizes.1
        );
        for (label, samples) in &mut rows {
            samples.sort_by_key(|s| s.0);
            let (wall, calls) = &samples[samples.len() / 2];
            println!(
                "  {label:<16} {:>8.1} ms   {:>3} mutating, {:>3} read calls",
                wall.as_secs_f64() * 1000.0,
                calls.mutating,
                calls.read
            );
        }
    }
}
