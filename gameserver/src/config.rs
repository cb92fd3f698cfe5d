//! Server configuration from flags and environment (each flag has an env twin).

use std::net::IpAddr;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{Parser, ValueEnum};

use crate::persist::redact_url;
use crate::room::RoomConfig;
use crate::sim::SimConfig;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Parser, Clone, Debug)]
#[command(
    name = "gameserver",
    version,
    about = "Authoritative Spaaace game server"
)]
pub struct Config {
    /// TCP port for HTTP and WebSocket.
    #[arg(long, env = "PORT", default_value_t = 3000)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, env = "BIND", default_value = "0.0.0.0")]
    pub bind: IpAddr,
    /// Bots in every room.
    #[arg(long, env = "BOTS", default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub bots: u32,
    /// World updates sent per second (the simulation always steps 60 times a second).
    #[arg(long, env = "UPDATE_RATE", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=60))]
    pub update_rate: u32,
    /// Players per room, connected or within their reconnect grace.
    #[arg(long, env = "MAX_PLAYERS_PER_ROOM", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=1_000))]
    pub max_players_per_room: u32,
    /// Rooms this process runs at once (default: 500 per CPU it may use).
    #[arg(long, env = "MAX_ROOMS", default_value_t = per_cpu(ROOMS_PER_CPU), value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_rooms: u32,
    /// WebSocket connections this process accepts at once (default: 4000 per CPU it may use).
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = per_cpu(CONNECTIONS_PER_CPU), value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_connections: u32,
    /// A ship fires at most once per this many steps.
    #[arg(long, env = "FIRE_COOLDOWN_STEPS", default_value_t = 15, value_parser = clap::value_parser!(u32).range(1..=6_000))]
    pub fire_cooldown_steps: u32,
    /// How long a disconnected player's ship and score wait for a reconnect.
    #[arg(long, env = "RECONNECT_GRACE_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=3_600))]
    pub reconnect_grace_secs: u64,
    /// Log format; defaults to json when NODE_ENV (or APP_ENV) is "production", else human.
    #[arg(long, env = "LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    #[arg(long, env = "NODE_ENV", hide = true)]
    pub node_env: Option<String>,
    #[arg(long, env = "APP_ENV", hide = true)]
    pub app_env: Option<String>,
    /// Makes every room deterministic (its world seed derives from this and the room id).
    #[arg(long, env = "SEED")]
    pub seed: Option<u64>,
    /// Where snapshots go (`rediss://` for TLS; a password may be in the URL).
    #[arg(
        long,
        env = "REDIS_URL",
        default_value = "redis://localhost:6379",
        hide_env_values = true
    )]
    pub redis_url: RedisUrl,
    /// The Redis AUTH token, apart from the URL so ECS can inject it as a
    /// secret; wins over a password in the URL.
    #[arg(long, env = "REDIS_PASSWORD", hide_env_values = true)]
    pub redis_password: Option<RedisPassword>,
    /// false: no Redis at all; the game runs without crash safety.
    #[arg(long, env = "REDIS_ENABLED", default_value = "true", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub redis_enabled: bool,
    /// false: saved rooms are ignored at start (and overwritten as rooms play).
    #[arg(long, env = "GAME_HYDRATION_ENABLED", default_value = "true", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub hydration_enabled: bool,
    /// Each room writes a snapshot this often, and at once on join, leave and hit.
    #[arg(long, env = "SNAPSHOT_INTERVAL_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(50..=3_600_000))]
    pub snapshot_interval_ms: u64,
    /// This node's name in room leases and between nodes; unique per process.
    /// Default: the ECS task id on ECS, else host name and process id.
    #[arg(long, env = "NODE_ID", value_parser = parse_node_id)]
    pub node_id: Option<String>,
    /// How long a room's lease lasts unless renewed (every third of it): a
    /// dead node's rooms move to another node after at most this.
    #[arg(long, env = "LEASE_TTL_MS", default_value_t = 3000, value_parser = clap::value_parser!(u64).range(500..=60_000))]
    pub lease_ttl_ms: u64,
}

/// What one CPU carries with its rooms holding 60 steps/s, by the load
/// bench (`cargo bench -p gameserver --bench load`, README "Benchmark"):
/// a core alone held 3,200 players at 72 % (about 0.22 ms of CPU per
/// player-second at 20 updates/s and 30 inputs/s), and a room of one player
/// and 3 bots costs about 0.8 ms per second.
const CONNECTIONS_PER_CPU: u32 = 4_000;
const ROOMS_PER_CPU: u32 = 500;

/// `each` times the CPUs this process may use (its affinity, or its
/// container's CPU quota).
fn per_cpu(each: u32) -> u32 {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    each.saturating_mul(u32::try_from(cpus).unwrap_or(u32::MAX))
}

fn parse_node_id(raw: &str) -> Result<String, String> {
    if crate::cluster::node_id::valid(raw) {
        Ok(raw.to_string())
    } else {
        Err("a node id is 1 to 64 of A-Z, a-z, 0-9, '.', '_' and '-'".to_string())
    }
}

/// The Redis URL, which may hold a password: Debug and Display hide it.
#[derive(Clone)]
pub struct RedisUrl(String);

impl RedisUrl {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for RedisUrl {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(RedisUrl(s.to_string()))
    }
}

impl std::fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact_url(&self.0))
    }
}

impl std::fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact_url(&self.0))
    }
}

/// Debug and Display never show it.
#[derive(Clone)]
pub struct RedisPassword(String);

impl RedisPassword {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for RedisPassword {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(RedisPassword(s.to_string()))
    }
}

impl std::fmt::Debug for RedisPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl Config {
    pub fn log_format(&self) -> LogFormat {
        let production = [&self.node_env, &self.app_env]
            .into_iter()
            .flatten()
            .any(|env| env.eq_ignore_ascii_case("production"));
        match self.log_format {
            Some(format) => format,
            None if production => LogFormat::Json,
            None => LogFormat::Human,
        }
    }

    pub fn snapshot_interval(&self) -> Duration {
        Duration::from_millis(self.snapshot_interval_ms)
    }

    pub fn lease_ttl(&self) -> Duration {
        Duration::from_millis(self.lease_ttl_ms)
    }

    pub fn room_config(&self) -> RoomConfig {
        RoomConfig {
            sim: SimConfig {
                bots: self.bots,
                fire_cooldown_steps: self.fire_cooldown_steps,
                ..SimConfig::default()
            },
            update_rate: self.update_rate,
            max_players: self.max_players_per_room as usize,
            reconnect_grace: Duration::from_secs(self.reconnect_grace_secs),
            seed: self.seed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_production_logs() {
        let c = Config::try_parse_from(["gameserver"]).unwrap();
        assert_eq!(
            (
                c.bots,
                c.update_rate,
                c.fire_cooldown_steps,
                c.reconnect_grace_secs
            ),
            (3, 20, 15, 30)
        );
        let c = Config::try_parse_from(["gameserver", "--node-env", "production"]).unwrap();
        assert_eq!(c.log_format(), LogFormat::Json);
        let c = Config::try_parse_from([
            "gameserver",
            "--node-env",
            "production",
            "--log-format",
            "human",
        ])
        .unwrap();
        assert_eq!(c.log_format(), LogFormat::Human);
    }

    #[test]
    fn connection_and_room_limits_follow_the_cpus() {
        let cpus = std::thread::available_parallelism().unwrap().get() as u32;
        let c = Config::try_parse_from(["gameserver"]).unwrap();
        assert_eq!((c.max_connections, c.max_rooms), (4_000 * cpus, 500 * cpus));
        let c =
            Config::try_parse_from(["gameserver", "--max-connections", "7", "--max-rooms", "3"])
                .unwrap();
        assert_eq!((c.max_connections, c.max_rooms), (7, 3));
    }

    #[test]
    fn redis_settings_from_flags_and_their_defaults() {
        let c = Config::try_parse_from(["gameserver"]).unwrap();
        assert_eq!(c.redis_url.expose(), "redis://localhost:6379");
        assert!(c.redis_enabled && c.hydration_enabled);
        assert_eq!(c.snapshot_interval(), Duration::from_secs(1));
        let c = Config::try_parse_from([
            "gameserver",
            "--redis-url",
            "rediss://:pw@cache:6380",
            "--redis-enabled",
            "false",
            "--hydration-enabled",
            "0",
            "--snapshot-interval-ms",
            "5000",
        ])
        .unwrap();
        assert!(!c.redis_enabled && !c.hydration_enabled);
        assert_eq!(c.snapshot_interval(), Duration::from_secs(5));
        assert_eq!(c.redis_url.expose(), "rediss://:pw@cache:6380");
        assert!(!format!("{c:?}").contains("pw"));
        assert!(Config::try_parse_from(["gameserver", "--snapshot-interval-ms", "0"]).is_err());
        let c = Config::try_parse_from(["gameserver", "--redis-password", "s3cret-token"]).unwrap();
        assert_eq!(
            c.redis_password.as_ref().map(|p| p.expose()),
            Some("s3cret-token")
        );
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn node_id_and_lease_ttl() {
        let c = Config::try_parse_from(["gameserver"]).unwrap();
        assert_eq!(
            (c.node_id.as_deref(), c.lease_ttl()),
            (None, Duration::from_secs(3))
        );
        let c = Config::try_parse_from([
            "gameserver",
            "--node-id",
            "task-1.a_b",
            "--lease-ttl-ms",
            "1500",
        ])
        .unwrap();
        assert_eq!(c.node_id.as_deref(), Some("task-1.a_b"));
        assert_eq!(c.lease_ttl(), Duration::from_millis(1500));
        for bad in ["", "has space", "x/y"] {
            assert!(
                Config::try_parse_from(["gameserver", "--node-id", bad]).is_err(),
                "{bad:?}"
            );
        }
        assert!(Config::try_parse_from(["gameserver", "--lease-ttl-ms", "100"]).is_err());
    }

    #[test]
    fn refuses_out_of_range_values() {
        assert!(Config::try_parse_from(["gameserver", "--update-rate", "0"]).is_err());
        assert!(Config::try_parse_from(["gameserver", "--update-rate", "61"]).is_err());
        assert!(Config::try_parse_from(["gameserver", "--bots", "-1"]).is_err());
    }
}
