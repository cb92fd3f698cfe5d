//! The load balancer's numbers, from `fixtures/load-balancer.toml`: the file
//! the provisioner's ALB target group reads too, compiled in so the lab's
//! HAProxy cannot drift from what AWS runs.

use serde::{Deserialize, Serialize};

const SHARED_FILE: &str = include_str!("../../fixtures/load-balancer.toml");

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadBalancer {
    /// What routing checks ask (`/ready`: can this process take players).
    pub health_check_path: String,
    pub health_check_interval_seconds: u32,
    pub health_check_timeout_seconds: u32,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
    /// A connection silent this long is closed (`timeout tunnel` for WebSockets).
    pub idle_timeout_seconds: u32,
    pub stickiness_cookie_seconds: u32,
    /// How long a deregistered node keeps its open connections.
    pub deregistration_delay_seconds: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("fixtures/load-balancer.toml does not parse: {0}")]
    Parse(#[from] toml::de::Error),
    #[error(
        "fixtures/load-balancer.toml: {field} = {value} is outside what an ALB accepts ({allowed})"
    )]
    OutOfRange {
        field: &'static str,
        value: u32,
        allowed: &'static str,
    },
    #[error("fixtures/load-balancer.toml: health_check_path {0:?} must be a path starting with / and free of spaces")]
    Path(String),
}

impl LoadBalancer {
    /// The numbers the lab and the provisioner share.
    pub fn shared() -> Result<LoadBalancer, SettingsError> {
        Self::parse(SHARED_FILE)
    }

    pub fn parse(text: &str) -> Result<LoadBalancer, SettingsError> {
        let lb: LoadBalancer = toml::from_str(text)?;
        lb.validate()?;
        Ok(lb)
    }

    /// The ALB's limits, so a value AWS would refuse fails here too (and
    /// nothing odd reaches the HAProxy configuration).
    fn validate(&self) -> Result<(), SettingsError> {
        let path = &self.health_check_path;
        if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(SettingsError::Path(path.clone()));
        }
        let checks: [(&'static str, u32, u32, u32, &'static str); 7] = [
            (
                "health_check_interval_seconds",
                self.health_check_interval_seconds,
                5,
                300,
                "5-300",
            ),
            (
                "health_check_timeout_seconds",
                self.health_check_timeout_seconds,
                2,
                120,
                "2-120",
            ),
            ("healthy_threshold", self.healthy_threshold, 2, 10, "2-10"),
            (
                "unhealthy_threshold",
                self.unhealthy_threshold,
                2,
                10,
                "2-10",
            ),
            (
                "idle_timeout_seconds",
                self.idle_timeout_seconds,
                1,
                4000,
                "1-4000",
            ),
            (
                "stickiness_cookie_seconds",
                self.stickiness_cookie_seconds,
                1,
                604_800,
                "1-604800",
            ),
            (
                "deregistration_delay_seconds",
                self.deregistration_delay_seconds,
                0,
                3600,
                "0-3600",
            ),
        ];
        for (field, value, low, high, allowed) in checks {
            if !(low..=high).contains(&value) {
                return Err(SettingsError::OutOfRange {
                    field,
                    value,
                    allowed,
                });
            }
        }
        if self.health_check_timeout_seconds >= self.health_check_interval_seconds {
            return Err(SettingsError::OutOfRange {
                field: "health_check_timeout_seconds",
                value: self.health_check_timeout_seconds,
                allowed: "below health_check_interval_seconds",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_file_parses_and_routes_on_ready() {
        let lb = LoadBalancer::shared().unwrap();
        assert_eq!(lb.health_check_path, "/ready");
        assert_eq!(lb.stickiness_cookie_seconds, 86_400);
        assert_eq!(lb.idle_timeout_seconds, 120);
    }

    #[test]
    fn refuses_what_an_alb_would_refuse() {
        let good = SHARED_FILE;
        let bad = good.replace(
            "health_check_interval_seconds = 5",
            "health_check_interval_seconds = 1",
        );
        assert!(matches!(
            LoadBalancer::parse(&bad),
            Err(SettingsError::OutOfRange {
                field: "health_check_interval_seconds",
                ..
            })
        ));
        let bad = good.replace(
            "health_check_timeout_seconds = 3",
            "health_check_timeout_seconds = 5",
        );
        assert!(matches!(
            LoadBalancer::parse(&bad),
            Err(SettingsError::OutOfRange { .. })
        ));
        let bad = good.replace("\"/ready\"", "\"/ready\\nserver evil 1.2.3.4:80\"");
        assert!(matches!(
            LoadBalancer::parse(&bad),
            Err(SettingsError::Path(_))
        ));
        let bad = good.replace("healthy_threshold = 2", "");
        assert!(matches!(
            LoadBalancer::parse(&bad),
            Err(SettingsError::Parse(_))
        ));
    }
}
