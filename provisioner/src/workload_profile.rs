//! The workload's profile sections (`[ecs]`, `[service]`, `[alb]`, `[cache]`,
//! `[cost]`): what runs the game, read from the same environment profile as
//! the network through [`Profile::section`].

use crate::profile::Profile;
use crate::Error;
use serde::Deserialize;

#[derive(Debug, Clone)]
pub struct WorkloadProfile {
    pub ecs: EcsProfile,
    pub service: ServiceProfile,
    pub alb: AlbProfile,
    pub cache: CacheProfile,
    pub cost: CostProfile,
}

/// The container instances: an Auto Scaling Group of ECS-optimized hosts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcsProfile {
    pub instance_type: String,
    pub min_size: i32,
    pub max_size: i32,
    pub desired_capacity: i32,
    #[serde(default = "default_root_volume_gb")]
    pub root_volume_gb: i32,
}

/// The gameserver task and its ECS service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceProfile {
    /// The gameserver image; without one, the environment's ECR repository
    /// at `latest`.
    #[serde(default)]
    pub image: Option<String>,
    pub desired_count: i32,
    /// CPU units (1024 = one vCPU) reserved per task.
    pub cpu: i32,
    /// Hard memory limit per task, MiB.
    pub memory_mib: i32,
    /// How long the server needs to drain players on SIGTERM.
    pub drain_seconds: i32,
    pub health_check_grace_seconds: i32,
    #[serde(default = "default_true")]
    pub redis_enabled: bool,
    #[serde(default = "default_true")]
    pub hydration_enabled: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlbProfile {
    /// An ACM certificate: adds the HTTPS listener on 443 when set.
    #[serde(default)]
    pub certificate_arn: Option<String>,
}

/// The Redis replication group.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheProfile {
    /// False: no ElastiCache at all and the game runs without persistence
    /// (REDIS_ENABLED=false); for throwaway stacks and for emulators that
    /// cannot delete a replication group.
    #[serde(default = "default_true")]
    pub enabled: bool,
    pub node_type: String,
    pub engine_version: String,
    /// Parameter group family matching `engine_version`, e.g. `redis7`.
    pub parameter_family: String,
    /// Read replicas besides the primary (1 = two nodes).
    pub replicas: i32,
    pub snapshot_retention_days: i32,
    pub snapshot_window: String,
    /// At rest and in transit, plus an AUTH token kept in SSM.
    pub encryption: bool,
    /// Our own parameter group (false = the engine's default group, for
    /// emulators without parameter-group support).
    #[serde(default = "default_true")]
    pub custom_parameter_group: bool,
}

/// Usage assumptions of the monthly estimate (prices are in
/// fixtures/prices.toml).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostProfile {
    pub alb_lcu: f64,
    pub nat_gb_month: f64,
    pub egress_gb_month: f64,
    pub logs_gb_month: f64,
}

fn default_root_volume_gb() -> i32 {
    30
}

fn default_true() -> bool {
    true
}

/// The sections that make a profile describe a workload.
const WORKLOAD_SECTIONS: [&str; 5] = ["ecs", "service", "alb", "cache", "cost"];

impl WorkloadProfile {
    /// The workload of a profile, or None for a network-only profile (none
    /// of the sections present).
    pub fn optional(profile: &Profile) -> Result<Option<Self>, Error> {
        let mut present = false;
        for s in WORKLOAD_SECTIONS {
            present |= profile.section::<toml::Value>(s)?.is_some();
        }
        if !present {
            return Ok(None);
        }
        Self::from_profile(profile).map(Some)
    }

    pub fn from_profile(profile: &Profile) -> Result<Self, Error> {
        let section = |name: &str| Error::InvalidProfile {
            path: profile.path.clone(),
            cause: format!("missing section [{name}]"),
        };
        let w = WorkloadProfile {
            ecs: profile.section("ecs")?.ok_or_else(|| section("ecs"))?,
            service: profile
                .section("service")?
                .ok_or_else(|| section("service"))?,
            alb: profile.section("alb")?.unwrap_or_default(),
            cache: profile.section("cache")?.ok_or_else(|| section("cache"))?,
            cost: profile.section("cost")?.ok_or_else(|| section("cost"))?,
        };
        w.validate().map_err(|cause| Error::InvalidProfile {
            path: profile.path.clone(),
            cause,
        })?;
        Ok(w)
    }

    fn validate(&self) -> Result<(), String> {
        let e = &self.ecs;
        if !(0 <= e.min_size
            && e.min_size <= e.desired_capacity
            && e.desired_capacity <= e.max_size)
        {
            return Err(format!(
                "ecs: need 0 <= min_size <= desired_capacity <= max_size, got {} / {} / {}",
                e.min_size, e.desired_capacity, e.max_size
            ));
        }
        let s = &self.service;
        if s.image.as_ref().is_some_and(|i| i.trim().is_empty()) {
            return Err(
                "service: image is empty (leave it out to use the environment's ECR repository)"
                    .into(),
            );
        }
        if s.desired_count < 0 || s.cpu <= 0 || s.memory_mib < 128 {
            return Err(
                "service: desired_count >= 0, cpu > 0 and memory_mib >= 128 are required".into(),
            );
        }
        if s.drain_seconds < 0 || s.drain_seconds > 110 {
            // ECS caps stopTimeout at 120 s and ours is the drain plus margin.
            return Err(format!(
                "service: drain_seconds must be 0..=110, got {}",
                s.drain_seconds
            ));
        }
        let c = &self.cache;
        if c.replicas < 1 {
            return Err("cache: Multi-AZ with automatic failover needs replicas >= 1".into());
        }
        if c.snapshot_retention_days < 1 {
            return Err("cache: snapshot_retention_days must be >= 1 (daily snapshots)".into());
        }
        if let Some(arn) = &self.alb.certificate_arn {
            if !arn.starts_with("arn:") {
                return Err(format!("alb: certificate_arn {arn:?} is not an ARN"));
            }
        }
        Ok(())
    }

    /// The container's stop timeout: the drain plus time to close sockets.
    pub fn stop_timeout_seconds(&self) -> i32 {
        self.service.drain_seconds + 10
    }
}

/// The CPU architecture of an EC2 instance type, for the AMI lookup:
/// Graviton families carry a `g` after the generation digit (m6g, t4g, c7gn).
pub fn instance_architecture(instance_type: &str) -> &'static str {
    let family = instance_type.split('.').next().unwrap_or_default();
    let after_digit = family.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = after_digit.trim_start_matches(|c: char| c.is_ascii_digit());
    if suffix.starts_with('g') {
        "arm64"
    } else {
        "x86_64"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const SECTIONS: &str = r#"
[ecs]
instance_type = "t3.small"
min_size = 1
max_size = 2
desired_capacity = 1
[service]
image = "ghcr.io/spaaace/gameserver:1"
desired_count = 1
cpu = 512
memory_mib = 768
drain_seconds = 30
health_check_grace_seconds = 60
[cache]
node_type = "cache.t4g.micro"
engine_version = "7.1"
parameter_family = "redis7"
replicas = 1
snapshot_retention_days = 1
snapshot_window = "03:00-04:00"
encryption = false
[cost]
alb_lcu = 1.0
nat_gb_month = 20.0
egress_gb_month = 50.0
logs_gb_month = 1.0
"#;

    const NETWORK: &str = r#"
project = "spaaace"
environment = "dev"
region = "us-east-1"
[network]
vpc_cidr = "10.0.0.0/16"
public_subnets = ["10.0.1.0/24"]
private_subnets = ["10.0.11.0/24"]
nat_gateways = "single"
[security]
game_port = 3000
host_port_range = [32768, 65535]
redis_port = 6379
"#;

    fn parse(extra: &str) -> Result<WorkloadProfile, Error> {
        let p = Profile::parse(Path::new("dev.toml"), &format!("{NETWORK}{extra}")).unwrap();
        WorkloadProfile::from_profile(&p)
    }

    #[test]
    fn reads_the_sections() {
        let w = parse(SECTIONS).unwrap();
        assert_eq!(w.ecs.instance_type, "t3.small");
        assert_eq!(w.ecs.root_volume_gb, 30);
        assert!(w.cache.custom_parameter_group);
        assert_eq!(w.alb.certificate_arn, None);
        assert_eq!(w.stop_timeout_seconds(), 40);
    }

    #[test]
    fn names_a_missing_section_and_the_file() {
        let without_cache = SECTIONS.replace("[cache]", "[unused]");
        let err = parse(&without_cache).unwrap_err().to_string();
        assert!(err.contains("dev.toml") && err.contains("[cache]"), "{err}");
    }

    #[test]
    fn a_network_only_profile_has_no_workload_and_half_a_workload_is_an_error() {
        assert!(parse_optional("").unwrap().is_none());
        let err = parse_optional("[ecs]\ninstance_type = \"t3.small\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("dev.toml"), "{err}");
        assert!(parse_optional(SECTIONS).unwrap().is_some());
    }

    fn parse_optional(extra: &str) -> Result<Option<WorkloadProfile>, Error> {
        let p = Profile::parse(Path::new("dev.toml"), &format!("{NETWORK}{extra}")).unwrap();
        WorkloadProfile::optional(&p)
    }

    #[test]
    fn rejects_inconsistent_capacity() {
        let bad = SECTIONS.replace("desired_capacity = 1", "desired_capacity = 5");
        let err = parse(&bad).unwrap_err().to_string();
        assert!(
            err.contains("desired_capacity") && err.contains("5"),
            "{err}"
        );
    }

    #[test]
    fn graviton_types_are_arm64() {
        assert_eq!(instance_architecture("m6g.medium"), "arm64");
        assert_eq!(instance_architecture("t4g.small"), "arm64");
        assert_eq!(instance_architecture("c7gn.large"), "arm64");
        assert_eq!(instance_architecture("t3.small"), "x86_64");
        assert_eq!(instance_architecture("m6i.large"), "x86_64");
    }
}
