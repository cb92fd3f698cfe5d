//! `provisioner`: builds, converges and tears down the Spaaace HA AWS stack.
//! Data goes to stdout, progress and logs to stderr.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use provisioner::aws::AwsOptions;
use provisioner::commands::{Session, SessionOptions};
use provisioner::cost::{self, Footprint, Prices};
use provisioner::profile::Profile;
use provisioner::wait::WaitPolicy;
use provisioner::workload_profile::WorkloadProfile;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(Parser, Debug)]
#[command(
    name = "provisioner",
    version,
    about = "Builds, converges and tears down the Spaaace HA AWS stack"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Environment profile to use (fixtures/environments/ENV.toml).
    #[arg(long, global = true, default_value = "dev")]
    env: String,
    /// A profile file instead of the shipped one for --env.
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Directory of the shipped profiles.
    #[arg(long, global = true, env = "SPAAACE_PROFILES", default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/environments"))]
    profiles_dir: PathBuf,
    /// AWS region (default: the profile's).
    #[arg(long, global = true)]
    region: Option<String>,
    /// AWS endpoint, for an emulator (AWS_ENDPOINT_URL works too).
    #[arg(long, global = true, value_name = "URL")]
    endpoint_url: Option<String>,
    /// Print data as JSON.
    #[arg(long, global = true)]
    json: bool,
    /// Resources reconciled at the same time, at most.
    #[arg(long, global = true, default_value_t = 4)]
    concurrency: usize,
    /// Gameserver image for plan, up and deploy (default: the profile's).
    #[arg(long, global = true, value_name = "URI")]
    image: Option<String>,
    /// Unit prices for `cost`.
    #[arg(long, global = true, value_name = "PATH", default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/prices.toml"))]
    prices: PathBuf,
    /// Log format on stderr (json is the default when NODE_ENV=production).
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
enum Command {
    /// Show what `up` would change. Exit code 0: nothing; 2: changes; 1: error.
    Plan,
    /// Create or converge the stack.
    Up,
    /// Delete every resource of the environment.
    Down {
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// What exists and whether it matches the profile.
    Status,
    /// Ids and endpoints of the stack.
    Outputs,
    /// Roll out --image URI: a new task definition, the service moved to
    /// it, and a wait until it is steady.
    Deploy,
    /// Inject one of the failures the HA design must survive.
    Chaos {
        #[command(subcommand)]
        action: ChaosAction,
    },
    /// The environment's monthly estimate, from its profile and the prices
    /// in fixtures/prices.toml (no AWS calls).
    Cost,
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
enum ChaosAction {
    /// Stop one running task of the gameserver service (ECS StopTask).
    StopTask,
    /// Terminate one ECS host (EC2 TerminateInstances).
    TerminateInstance,
    /// Stop launching in a zone and terminate the hosts there; `up` undoes it.
    AzOutage {
        /// The zone: its full name or its letter (us-east-1b or b).
        #[arg(long)]
        az: String,
    },
    /// Fail the Redis primary over to its replica (ElastiCache TestFailover).
    RedisFailover,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum LogFormat {
    Human,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::from(1)
        }
    }
}

fn init_logging(format: Option<LogFormat>) {
    let production = std::env::var("NODE_ENV").is_ok_and(|v| v == "production");
    let json = format.map_or(production, |f| f == LogFormat::Json);
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,aws_config=warn,aws_smithy_runtime=warn")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal());
    if json {
        builder.json().init();
    } else {
        builder.without_time().init();
    }
}

async fn run(cli: Cli) -> Result<u8> {
    let profile = match &cli.config {
        Some(path) => Profile::load(path)?,
        None => Profile::for_env(&cli.profiles_dir, &cli.env)?,
    };
    if cli.command == Command::Cost {
        return cost_estimate(&profile, &cli.prices, cli.json);
    }
    if cli.command == Command::Deploy && cli.image.is_none() {
        bail!("deploy needs the image to roll out: --image URI");
    }
    let options = SessionOptions {
        aws: AwsOptions {
            region: cli.region.clone(),
            endpoint_url: cli.endpoint_url.clone(),
            ..AwsOptions::default()
        },
        concurrency: cli.concurrency,
        wait: WaitPolicy::default(),
    };
    let started = Instant::now();
    let session = Session::open_with_image(profile, options, cli.image.as_deref()).await?;
    let code = match cli.command.clone() {
        Command::Plan => plan(&session, cli.json).await?,
        Command::Up => up(&session, cli.json).await?,
        Command::Down { yes } => down(&session, yes, cli.json).await?,
        Command::Status => status(&session, cli.json).await?,
        Command::Outputs => outputs(&session, cli.json).await?,
        Command::Deploy => deploy(&session, cli.json).await?,
        Command::Chaos { action } => chaos(&session, action, cli.json).await?,
        Command::Cost => unreachable!("cost is answered before a session opens"),
    };
    let calls = session.calls();
    tracing::info!(
        "{} took {:.2}s; api calls: {calls}",
        command_name(&cli.command),
        started.elapsed().as_secs_f64()
    );
    Ok(code)
}

fn command_name(c: &Command) -> &'static str {
    match c {
        Command::Plan => "plan",
        Command::Up => "up",
        Command::Down { .. } => "down",
        Command::Status => "status",
        Command::Outputs => "outputs",
        Command::Deploy => "deploy",
        Command::Chaos { .. } => "chaos",
        Command::Cost => "cost",
    }
}

fn cost_estimate(profile: &Profile, prices: &Path, json: bool) -> Result<u8> {
    let workload = WorkloadProfile::from_profile(profile)?;
    let prices = Prices::load(prices)?;
    let estimate = cost::estimate(
        &profile.environment,
        &Footprint::of(profile, &workload),
        &workload.cost,
        &prices,
    )?;
    if json {
        println!("{}", serde_json::to_string_pretty(&estimate)?);
    } else {
        println!("{estimate}");
    }
    Ok(0)
}

async fn deploy(session: &Session, json: bool) -> Result<u8> {
    let report = session.deploy().await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "deployed {} as {} to {} in {:.0}s",
            report.image, report.task_definition, report.service, report.seconds
        );
    }
    Ok(0)
}

async fn chaos(session: &Session, action: ChaosAction, json: bool) -> Result<u8> {
    use provisioner::chaos;
    let ctx = &session.ctx;
    let report = match action {
        ChaosAction::StopTask => chaos::stop_task(ctx).await?,
        ChaosAction::TerminateInstance => chaos::terminate_instance(ctx).await?,
        ChaosAction::AzOutage { az } => chaos::az_outage(ctx, &az).await?,
        ChaosAction::RedisFailover => chaos::redis_failover(ctx).await?,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    Ok(0)
}

async fn plan(session: &Session, json: bool) -> Result<u8> {
    let plan = session.plan().await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
    } else {
        println!("{plan}");
    }
    Ok(if plan.is_empty() { 0 } else { 2 })
}

async fn up(session: &Session, json: bool) -> Result<u8> {
    let plan = session.up().await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
    } else {
        println!("{plan}");
    }
    Ok(0)
}

async fn down(session: &Session, yes: bool, json: bool) -> Result<u8> {
    if !yes {
        confirm(&session.profile.environment)?;
    }
    let deleted = session.down().await?;
    if json {
        println!("{}", serde_json::json!({ "deleted": deleted }));
    } else {
        println!("Deleted {deleted} resources.");
    }
    Ok(0)
}

/// Asks on the terminal; without one, refuses rather than guess.
fn confirm(env: &str) -> Result<()> {
    if !std::io::stdin().is_terminal() {
        bail!("down needs confirmation: no terminal to ask on; pass --yes to delete environment {env}");
    }
    eprint!("Delete every resource of environment {env}? Type the environment name to confirm: ");
    std::io::stderr().flush().ok();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the confirmation")?;
    if line.trim() != env {
        bail!("down cancelled: the confirmation did not match {env:?}");
    }
    Ok(())
}

async fn status(session: &Session, json: bool) -> Result<u8> {
    let status = session.status().await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
        return Ok(0);
    }
    println!(
        "environment {} in {}: {}",
        status.environment,
        status.region,
        if status.converged {
            "converged"
        } else {
            "not converged"
        }
    );
    for r in &status.resources {
        println!(
            "{:<9} {:<17} {:<36} {}",
            r.state,
            r.kind,
            r.name,
            r.id.as_deref().unwrap_or("-")
        );
    }
    Ok(0)
}

async fn outputs(session: &Session, json: bool) -> Result<u8> {
    let outputs = session.outputs().await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&outputs)?);
    } else if let Some(map) = outputs.as_object() {
        for (k, v) in map {
            println!("{k} = {v}");
        }
    }
    Ok(0)
}
