//! The command line.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "provisioner",
    version,
    about = "Builds, converges and tears down the Spaaace HA AWS stack"
)]
pub struct Args {
    #[command(subcommand)]
    pub command: CommandArgs,
    /// Environment: a built-in profile (`provisioner profiles` lists them),
    /// or ENV.toml in --profiles-dir.
    #[arg(long, global = true, default_value = "dev")]
    pub env: String,
    /// A profile file instead of --env.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Read --env's profile from DIR/ENV.toml instead of the built-in ones.
    #[arg(long, global = true, value_name = "DIR", env = "SPAAACE_PROFILES")]
    pub profiles_dir: Option<PathBuf>,
    /// AWS region (default: the profile's).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// AWS endpoint, for an emulator (AWS_ENDPOINT_URL works too).
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Print data as JSON.
    #[arg(long, global = true)]
    pub json: bool,
    /// Resources reconciled at the same time, at most.
    #[arg(long, global = true, default_value_t = 4)]
    pub concurrency: usize,
    /// Gameserver image for plan, up and deploy (default: the profile's).
    #[arg(long, global = true, value_name = "URI")]
    pub image: Option<String>,
    /// Unit prices for `cost` (default: the built-in us-east-1 list).
    #[arg(long, global = true, value_name = "PATH")]
    pub prices: Option<PathBuf>,
    /// How long up, down and deploy wait for another run on the same
    /// environment to finish (90s, 10m, 1h; 0 = do not wait).
    #[arg(long, global = true, value_name = "DURATION", default_value = "30m", value_parser = parse_duration)]
    pub lock_timeout: Duration,
    /// Log format on stderr (json is the default when NODE_ENV=production).
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    /// Log more: the SDK's credential messages, debug logs and an error's
    /// whole chain of causes (RUST_LOG overrides).
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum CommandArgs {
    /// Show what `up` would change. Exit code 0: nothing; 2: changes; 1: error.
    Plan,
    /// Create or converge the stack, then wait until the game answers.
    Up {
        /// Apply without asking (required without a terminal).
        #[arg(long)]
        yes: bool,
        /// Do not wait for the game's tasks to run and pass their health checks.
        #[arg(long)]
        no_wait: bool,
    },
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
    /// it, and a wait until the game answers on it.
    Deploy,
    /// Inject one of the failures the HA design must survive.
    Chaos {
        #[command(subcommand)]
        action: ChaosAction,
    },
    /// The environment's monthly estimate, from its profile and the
    /// built-in prices or --prices (no AWS calls).
    Cost,
    /// The profiles --env can name; `profiles show NAME` prints one, to
    /// start a custom profile from (no AWS calls).
    Profiles {
        #[command(subcommand)]
        action: Option<ProfilesAction>,
    },
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum ProfilesAction {
    /// Print a profile's file, comments included.
    Show { name: String },
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum ChaosAction {
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
pub enum LogFormat {
    Human,
    Json,
}

/// `90`, `90s`, `10m`, `1h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 90s, 10m or 1h"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("{text:?}: the unit must be s, m or h")),
    };
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_seconds_minutes_and_hours() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("5 minutes").unwrap_err().contains("unit"));
        assert!(parse_duration("soon").is_err());
    }
}
