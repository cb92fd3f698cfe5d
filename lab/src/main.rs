//! spaaace-lab: the HA lab. `up` runs the topology until ctrl-c; `run`
//! rehearses one failure (against a running `up` with --lab, or on a lab
//! of its own); `scenarios` rehearses all five, each on a fresh lab, and
//! prints the table.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use lab::control::{self, LabHandle, RemoteLab};
use lab::lab::{Lab, LabOptions};
use lab::node::default_binary;
use lab::redis::FailoverTiming;
use lab::report::{table, ScenarioReport};
use lab::runner::{run, RunOptions};
use lab::scenario::{FaultPlan, Scenario};
use lab::settings::LoadBalancer;
use lab::zone::Zone;

#[derive(Parser)]
#[command(
    name = "spaaace-lab",
    about = "The AWS topology of Spaaace HA on loopback, and its failure scenarios"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Start the lab and keep it running until ctrl-c.
    Up {
        #[command(flatten)]
        lab: LabArgs,
        /// The load balancer's port on 127.0.0.1 (0: a free one).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Configurations, logs, Redis data and the control socket.
        #[arg(long, default_value = "target/lab/up")]
        dir: PathBuf,
    },
    /// Rehearse one scenario.
    Run {
        scenario: Scenario,
        /// The run directory of a lab started with `up`; without it the
        /// scenario gets a lab of its own.
        #[arg(long)]
        lab: Option<PathBuf>,
        #[command(flatten)]
        own_lab: LabArgs,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Rehearse every scenario, each on a fresh lab, and print the table.
    Scenarios {
        #[command(flatten)]
        own_lab: LabArgs,
        #[command(flatten)]
        run: RunArgs,
    },
}

#[derive(Args, Clone)]
struct LabArgs {
    /// The game server binary (default: the one built beside this program).
    #[arg(long)]
    gameserver: Option<PathBuf>,
    /// Send a connection refused by a dead pinned node to another node at
    /// once (`false`: retry that node, then 503, nearer to an ALB).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    redispatch: bool,
    #[arg(long, default_value_t = 1000)]
    snapshot_interval_ms: u64,
    /// Another flag for every node (repeat it), e.g. --node-arg=--bots=5.
    #[arg(long = "node-arg", allow_hyphen_values = true)]
    node_args: Vec<String>,
}

#[derive(Args, Clone)]
struct RunArgs {
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(1..=3000))]
    players: u32,
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100))]
    rooms: u32,
    /// Inputs per second per player.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=60))]
    input_rate: u32,
    /// The players of a room share one browser's cookie: each room on one node.
    #[arg(long)]
    room_affinity: bool,
    /// The node that fails.
    #[arg(long, value_enum, default_value = "a")]
    zone: Zone,
    #[arg(long, default_value_t = 1000)]
    restart_after_ms: u64,
    /// How long the node is cut off from Redis.
    #[arg(long, default_value_t = 8)]
    partition_secs: u64,
    /// How long a deregistered node keeps its connections (default: the
    /// shared deregistration delay).
    #[arg(long)]
    drain_secs: Option<u64>,
    /// The nodes' room lease, for how far back a resumed world may be.
    #[arg(long, default_value_t = 0)]
    lease_ms: u64,
    /// Reports (JSON and SVG per scenario, the table) go here.
    #[arg(long, default_value = "target/lab/report")]
    out: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,lab=info".into()),
        )
        .init();
    match Cli::parse().command {
        Cmd::Up { lab, port, dir } => up(&lab, port, &dir).await,
        Cmd::Run {
            scenario,
            lab: Some(dir),
            run: args,
            ..
        } => {
            let handle = LabHandle::Remote(RemoteLab::at(&dir));
            let report = rehearse(&handle, scenario, &args, true).await?;
            finish(&[report], &args.out)
        }
        Cmd::Run {
            scenario,
            lab: None,
            own_lab,
            run: args,
        } => {
            let report = on_own_lab(scenario, &own_lab, &args).await?;
            finish(&[report], &args.out)
        }
        Cmd::Scenarios { own_lab, run: args } => {
            let mut reports = Vec::new();
            for scenario in Scenario::ALL {
                reports.push(on_own_lab(scenario, &own_lab, &args).await?);
            }
            finish(&reports, &args.out)
        }
    }
}

async fn up(args: &LabArgs, port: u16, dir: &Path) -> anyhow::Result<()> {
    let lab = Arc::new(start_lab(args, dir, (port != 0).then_some(port)).await?);
    let server = control::serve(lab.clone(), dir)?;
    let info = lab.info().await;
    println!("spaaace-lab: the lab is up");
    println!("  play:      {}?room=NAME", info.http_url);
    for (zone, addr) in &info.nodes {
        println!(
            "  node {zone}:    http://{addr}/ (log {}/node-{zone}.log)",
            dir.display()
        );
    }
    println!(
        "  redis:     {} (the primary endpoint; primary a, replica b, a Sentinel per zone)",
        info.redis_url
    );
    println!("  files:     {}", dir.display());
    println!(
        "  rehearse:  spaaace-lab run crash --lab {} --players 60 --rooms 3",
        dir.display()
    );
    println!("ctrl-c stops all of it.");
    shutdown_signal().await;
    server.abort();
    drop(lab);
    println!("spaaace-lab: stopped");
    Ok(())
}

async fn on_own_lab(
    scenario: Scenario,
    args: &LabArgs,
    run_args: &RunArgs,
) -> anyhow::Result<ScenarioReport> {
    let dir = PathBuf::from("target/lab/runs").join(scenario.name());
    let lab = start_lab(args, &dir, None).await?;
    let handle = LabHandle::Local(Arc::new(lab));
    rehearse(&handle, scenario, run_args, false).await
}

async fn start_lab(args: &LabArgs, dir: &Path, port: Option<u16>) -> anyhow::Result<Lab> {
    fresh_dir(dir)?;
    let options = LabOptions {
        dir: dir.to_path_buf(),
        alb_port: port,
        gameserver: args.gameserver.clone().unwrap_or_else(default_binary),
        redispatch: args.redispatch,
        failover: FailoverTiming::default(),
        snapshot_interval_ms: args.snapshot_interval_ms,
        node_args: args.node_args.clone(),
    };
    eprintln!("spaaace-lab: starting the lab in {}", dir.display());
    Lab::start(options).await.context("starting the lab")
}

async fn rehearse(
    lab: &LabHandle,
    scenario: Scenario,
    args: &RunArgs,
    restore: bool,
) -> anyhow::Result<ScenarioReport> {
    let lb = LoadBalancer::shared()?;
    let lease = Duration::from_millis(args.lease_ms);
    let options = RunOptions {
        players: args.players,
        rooms: args.rooms,
        input_rate: args.input_rate,
        room_affinity: args.room_affinity,
        plan: FaultPlan {
            zone: args.zone,
            restart_after: Duration::from_millis(args.restart_after_ms),
            partition: Duration::from_secs(args.partition_secs),
            drain: Duration::from_secs(
                args.drain_secs
                    .unwrap_or(u64::from(lb.deregistration_delay_seconds)),
            ),
        },
        lease,
        settle: lease + Duration::from_secs(3),
        quiet: Duration::from_secs(2),
        limit: Duration::from_secs(90),
        restore,
    };
    eprintln!(
        "spaaace-lab: scenario {} {}: {} players in {} rooms",
        scenario.number(),
        scenario.name(),
        args.players,
        args.rooms
    );
    let report = run(lab, scenario, &options)
        .await
        .with_context(|| format!("scenario {}", scenario.name()))?;
    write_report(&report, &args.out)?;
    Ok(report)
}

fn write_report(report: &ScenarioReport, out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let stem = out.join(format!("{}-{}", report.number, report.scenario.name()));
    let json = stem.with_extension("json");
    std::fs::write(&json, serde_json::to_string_pretty(report)?)
        .with_context(|| format!("writing {}", json.display()))?;
    let svg = stem.with_extension("svg");
    std::fs::write(&svg, lab::svg::render(report))
        .with_context(|| format!("writing {}", svg.display()))?;
    eprintln!(
        "spaaace-lab: wrote {} and {}",
        json.display(),
        svg.display()
    );
    Ok(())
}

fn finish(reports: &[ScenarioReport], out: &Path) -> anyhow::Result<()> {
    let text = table(reports);
    print!("{text}");
    let path = out.join("table.md");
    std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// A lab directory is wiped before each start (a lab starts empty), but
/// only one the lab made: an unrelated directory is refused.
fn fresh_dir(dir: &Path) -> anyhow::Result<()> {
    const MARKER: &str = ".spaaace-lab";
    if dir.exists() {
        let empty = std::fs::read_dir(dir)?.next().is_none();
        if !empty && !dir.join(MARKER).exists() {
            bail!(
                "{} exists and is not a lab directory: choose another --dir",
                dir.display()
            );
        }
        std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(
        dir.join(MARKER),
        "a spaaace-lab run directory, wiped at each start\n",
    )?;
    Ok(())
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
