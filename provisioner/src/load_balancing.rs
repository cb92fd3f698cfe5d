//! How the load balancer in front of the game servers behaves:
//! `fixtures/load-balancer.toml`, built into the binary and shared with the
//! HA lab's HAProxy, so the lab rehearses what AWS runs. The ALB's idle
//! timeout, the target group's health check, stickiness and deregistration
//! delay, and the path of the ECS container health check come from here.

use serde::Deserialize;

/// The shared file, as shipped.
pub const SHIPPED: &str = include_str!("../../fixtures/load-balancer.toml");

/// The file's settings; the key names are shared with the lab.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancing {
    /// What routing and restart checks ask (`/ready`, not `/health`: a
    /// Redis failover must not take every node out at once).
    pub health_check_path: String,
    pub health_check_interval_seconds: i32,
    pub health_check_timeout_seconds: i32,
    pub healthy_threshold: i32,
    pub unhealthy_threshold: i32,
    pub idle_timeout_seconds: i32,
    pub stickiness_cookie_seconds: i32,
    pub deregistration_delay_seconds: i32,
}

impl LoadBalancing {
    /// The shipped settings. They are checked by a test, so a broken file
    /// never ships.
    pub fn shipped() -> LoadBalancing {
        Self::parse(SHIPPED).expect("fixtures/load-balancer.toml is checked by a test")
    }

    pub fn parse(text: &str) -> Result<LoadBalancing, String> {
        let settings: LoadBalancing = toml::from_str(text).map_err(|e| e.to_string())?;
        settings.validate()?;
        Ok(settings)
    }

    /// The ALB's limits (ELBv2 API reference, CreateTargetGroup and
    /// ModifyLoadBalancerAttributes): a health-check interval of 5-300 s and
    /// a timeout of 2-120 s below it, thresholds of 2-10, an idle timeout of
    /// 1-4000 s, a cookie of 1 s to 7 days, a deregistration delay of
    /// 0-3600 s.
    fn validate(&self) -> Result<(), String> {
        let within = |what: &str, v: i32, lo: i32, hi: i32| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(format!("{what} must be {lo}..={hi}, got {v}"))
            }
        };
        if !self.health_check_path.starts_with('/') {
            return Err(format!(
                "health_check_path must start with /, got {:?}",
                self.health_check_path
            ));
        }
        within(
            "health_check_interval_seconds",
            self.health_check_interval_seconds,
            5,
            300,
        )?;
        within(
            "health_check_timeout_seconds",
            self.health_check_timeout_seconds,
            2,
            120,
        )?;
        if self.health_check_timeout_seconds >= self.health_check_interval_seconds {
            return Err("health_check_timeout_seconds must be below the interval".into());
        }
        within("healthy_threshold", self.healthy_threshold, 2, 10)?;
        within("unhealthy_threshold", self.unhealthy_threshold, 2, 10)?;
        within("idle_timeout_seconds", self.idle_timeout_seconds, 1, 4000)?;
        within(
            "stickiness_cookie_seconds",
            self.stickiness_cookie_seconds,
            1,
            604_800,
        )?;
        within(
            "deregistration_delay_seconds",
            self.deregistration_delay_seconds,
            0,
            3600,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_file_parses_and_routes_on_readiness() {
        let lb = LoadBalancing::shipped();
        assert_eq!(lb.health_check_path, "/ready");
        assert!(lb.health_check_timeout_seconds < lb.health_check_interval_seconds);
    }

    #[test]
    fn out_of_range_values_are_refused_naming_the_key() {
        let bad = SHIPPED.replace(
            "health_check_interval_seconds = 5",
            "health_check_interval_seconds = 1",
        );
        let err = LoadBalancing::parse(&bad).unwrap_err();
        assert!(err.contains("health_check_interval_seconds"), "{err}");
        let unknown = format!("{SHIPPED}\nsurprise = 1\n");
        assert!(LoadBalancing::parse(&unknown)
            .unwrap_err()
            .contains("surprise"));
    }
}
