//! The monthly estimate of an environment: what the profile asks for, priced
//! with the unit prices kept as data in `fixtures/prices.toml` (built into
//! the binary, see [`crate::builtin`]). Pure: no AWS calls, so `cost` works
//! without credentials.

use crate::profile::{NatLayout, Profile};
use crate::workload_profile::WorkloadProfile;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum CostError {
    #[error("reading prices {path}: {cause}")]
    Read { path: PathBuf, cause: String },
    #[error("invalid prices {path}: {cause}")]
    Invalid { path: PathBuf, cause: String },
    #[error("no price for {what} {name:?} in {path}: add it under [{table}]")]
    MissingPrice {
        what: &'static str,
        name: String,
        table: &'static str,
        path: PathBuf,
    },
}

#[derive(Debug, Clone, Deserialize)]
pub struct Prices {
    #[serde(skip)]
    pub path: PathBuf,
    pub source: PriceSource,
    pub ec2_instance_hour: BTreeMap<String, f64>,
    pub ebs: EbsPrices,
    pub alb: AlbPrices,
    pub nat: NatPrices,
    pub public_ipv4: HourPrice,
    pub elasticache_node_hour: BTreeMap<String, f64>,
    pub data_transfer: TransferPrices,
    pub logs: LogPrices,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct PriceSource {
    pub region: String,
    pub currency: String,
    pub noted: String,
    pub note: String,
    pub hours_per_month: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EbsPrices {
    pub gp3_gb_month: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AlbPrices {
    pub hour: f64,
    pub lcu_hour: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NatPrices {
    pub hour: f64,
    pub gb_processed: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HourPrice {
    pub hour: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TransferPrices {
    pub out_gb: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogPrices {
    pub ingest_gb: f64,
}

impl Prices {
    pub fn load(path: &Path) -> Result<Self, CostError> {
        let text = std::fs::read_to_string(path).map_err(|e| CostError::Read {
            path: path.to_path_buf(),
            cause: e.to_string(),
        })?;
        Self::parse(path, &text)
    }

    /// Prices from `text`; `path` names it in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Self, CostError> {
        let mut prices: Prices = toml::from_str(text).map_err(|e| CostError::Invalid {
            path: path.to_path_buf(),
            cause: e.to_string(),
        })?;
        prices.path = path.to_path_buf();
        Ok(prices)
    }
}

/// One line of the estimate: `quantity` units at `unit_price` a month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    pub item: String,
    pub quantity: f64,
    pub unit: &'static str,
    pub unit_price: f64,
    pub monthly: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Estimate {
    pub environment: String,
    pub source: PriceSource,
    pub lines: Vec<Line>,
    pub total_monthly: f64,
}

/// The counts the estimate prices, read off the profiles.
#[derive(Debug, Clone, PartialEq)]
pub struct Footprint {
    pub zones: usize,
    pub nat_gateways: usize,
    pub instance_type: String,
    pub instances: i32,
    pub root_volume_gb: i32,
    pub cache_node_type: String,
    pub cache_nodes: i32,
}

impl Footprint {
    pub fn of(profile: &Profile, workload: &WorkloadProfile) -> Self {
        let zones = profile.network.public_subnets.len();
        Footprint {
            zones,
            nat_gateways: match profile.network.nat_gateways {
                NatLayout::Single => 1,
                NatLayout::PerAz => zones,
            },
            instance_type: workload.ecs.instance_type.clone(),
            instances: workload.ecs.desired_capacity,
            root_volume_gb: workload.ecs.root_volume_gb,
            cache_node_type: workload.cache.node_type.clone(),
            cache_nodes: if workload.cache.enabled {
                1 + workload.cache.replicas
            } else {
                0
            },
        }
    }
}

pub fn estimate(
    environment: &str,
    footprint: &Footprint,
    usage: &crate::workload_profile::CostProfile,
    prices: &Prices,
) -> Result<Estimate, CostError> {
    let hours = prices.source.hours_per_month;
    let missing = |what, name: &str, table| CostError::MissingPrice {
        what,
        name: name.to_string(),
        table,
        path: prices.path.clone(),
    };
    let instance_hour = *prices
        .ec2_instance_hour
        .get(&footprint.instance_type)
        .ok_or_else(|| {
            missing(
                "instance type",
                &footprint.instance_type,
                "ec2_instance_hour",
            )
        })?;
    let node_hour = *prices
        .elasticache_node_hour
        .get(&footprint.cache_node_type)
        .ok_or_else(|| {
            missing(
                "cache node type",
                &footprint.cache_node_type,
                "elasticache_node_hour",
            )
        })?;
    // An internet-facing ALB holds one public address per zone; each NAT
    // gateway holds its Elastic IP.
    let public_ips = footprint.zones + footprint.nat_gateways;
    let volume_gb = f64::from(footprint.instances * footprint.root_volume_gb);
    let lines = vec![
        line(
            format!("EC2 {} (ECS hosts)", footprint.instance_type),
            f64::from(footprint.instances),
            "instance",
            instance_hour * hours,
        ),
        line(
            "EBS gp3 root volumes".into(),
            volume_gb,
            "GB",
            prices.ebs.gp3_gb_month,
        ),
        line(
            "Application Load Balancer".into(),
            1.0,
            "ALB",
            prices.alb.hour * hours,
        ),
        line(
            "ALB capacity units".into(),
            usage.alb_lcu,
            "LCU",
            prices.alb.lcu_hour * hours,
        ),
        line(
            "NAT gateways".into(),
            footprint.nat_gateways as f64,
            "gateway",
            prices.nat.hour * hours,
        ),
        line(
            "NAT data processed".into(),
            usage.nat_gb_month,
            "GB",
            prices.nat.gb_processed,
        ),
        line(
            "Public IPv4 addresses".into(),
            public_ips as f64,
            "address",
            prices.public_ipv4.hour * hours,
        ),
        line(
            format!("ElastiCache {}", footprint.cache_node_type),
            f64::from(footprint.cache_nodes),
            "node",
            node_hour * hours,
        ),
        line(
            "Data transfer out".into(),
            usage.egress_gb_month,
            "GB",
            prices.data_transfer.out_gb,
        ),
        line(
            "CloudWatch Logs ingestion".into(),
            usage.logs_gb_month,
            "GB",
            prices.logs.ingest_gb,
        ),
    ];
    let total_monthly = round_cents(lines.iter().map(|l| l.monthly).sum());
    Ok(Estimate {
        environment: environment.to_string(),
        source: prices.source.clone(),
        lines,
        total_monthly,
    })
}

fn line(item: String, quantity: f64, unit: &'static str, unit_price: f64) -> Line {
    Line {
        item,
        quantity,
        unit,
        unit_price,
        monthly: round_cents(quantity * unit_price),
    }
}

fn round_cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

impl std::fmt::Display for Estimate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "Monthly estimate for {} ({}, {}; {}, noted {}; {} h/month)",
            self.environment,
            self.source.region,
            self.source.currency,
            self.source.note,
            self.source.noted,
            self.source.hours_per_month
        )?;
        for l in &self.lines {
            writeln!(
                f,
                "  {:<32} {:>8.1} {:<8} x {:>9.4} = {:>9.2}",
                l.item, l.quantity, l.unit, l.unit_price, l.monthly
            )?;
        }
        write!(f, "  {:<32} {:>41.2}", "Total", self.total_monthly)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload_profile::CostProfile;

    const PRICES: &str = r#"
[source]
region = "us-east-1"
currency = "USD"
noted = "test"
note = "test prices"
hours_per_month = 100
[ec2_instance_hour]
"t3.small" = 0.02
[ebs]
gp3_gb_month = 0.1
[alb]
hour = 0.02
lcu_hour = 0.01
[nat]
hour = 0.04
gb_processed = 0.05
[public_ipv4]
hour = 0.005
[elasticache_node_hour]
"cache.t4g.micro" = 0.016
[data_transfer]
out_gb = 0.09
[logs]
ingest_gb = 0.5
"#;

    fn prices() -> Prices {
        let mut p: Prices = toml::from_str(PRICES).unwrap();
        p.path = PathBuf::from("prices.toml");
        p
    }

    fn footprint(nat_gateways: usize) -> Footprint {
        Footprint {
            zones: 3,
            nat_gateways,
            instance_type: "t3.small".into(),
            instances: 2,
            root_volume_gb: 30,
            cache_node_type: "cache.t4g.micro".into(),
            cache_nodes: 2,
        }
    }

    fn usage() -> CostProfile {
        CostProfile {
            alb_lcu: 1.0,
            nat_gb_month: 10.0,
            egress_gb_month: 100.0,
            logs_gb_month: 2.0,
        }
    }

    #[test]
    fn prices_every_line_from_the_footprint() {
        let e = estimate("dev", &footprint(1), &usage(), &prices()).unwrap();
        let monthly = |item: &str| {
            e.lines
                .iter()
                .find(|l| l.item.starts_with(item))
                .unwrap()
                .monthly
        };
        assert_eq!(monthly("EC2 t3.small"), 4.0); // 2 x 0.02 x 100
        assert_eq!(monthly("EBS"), 6.0); // 60 GB x 0.1
        assert_eq!(monthly("NAT gateways"), 4.0);
        assert_eq!(monthly("Public IPv4"), 2.0); // 3 ALB + 1 EIP, x 0.005 x 100
        assert_eq!(monthly("ElastiCache"), 3.2);
        assert_eq!(monthly("Data transfer"), 9.0);
        let sum: f64 = e.lines.iter().map(|l| l.monthly).sum();
        assert!((e.total_monthly - sum).abs() < 0.005);
    }

    #[test]
    fn a_nat_per_zone_costs_more_gateways_and_addresses() {
        let single = estimate("dev", &footprint(1), &usage(), &prices()).unwrap();
        let per_az = estimate("prod", &footprint(3), &usage(), &prices()).unwrap();
        // Two more gateways (2 x 0.04 x 100) and two more addresses.
        assert!((per_az.total_monthly - single.total_monthly - 9.0).abs() < 0.005);
    }

    #[test]
    fn an_unpriced_type_is_named_with_the_table_to_fix() {
        let mut f = footprint(1);
        f.instance_type = "m7g.large".into();
        let err = estimate("dev", &f, &usage(), &prices())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("m7g.large")
                && err.contains("ec2_instance_hour")
                && err.contains("prices.toml"),
            "{err}"
        );
    }

    #[test]
    fn the_built_in_price_file_parses_and_prices_both_seed_types() {
        let p = crate::builtin::prices().unwrap();
        assert!(p.ec2_instance_hour.contains_key("t3.small"));
        assert!(p.ec2_instance_hour.contains_key("m6g.medium"));
        assert_eq!(p.source.region, "us-east-1");
    }
}
