//! Environment profiles: TOML files, one per environment, giving the
//! desired stack's settings. The shipped ones (`fixtures/environments/`) are
//! built into the binary ([`crate::builtin`]).
//!
//! Sections other than the ones parsed here are kept as raw TOML, so a new
//! layer can read its own section with [`Profile::section`] without touching
//! this module.

use crate::Error;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Profile {
    pub path: PathBuf,
    pub project: String,
    pub environment: String,
    pub region: String,
    pub network: NetworkProfile,
    pub security: SecurityProfile,
    raw: toml::Table,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    project: String,
    environment: String,
    region: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkProfile {
    pub vpc_cidr: String,
    pub public_subnets: Vec<String>,
    pub private_subnets: Vec<String>,
    /// Zones to use, one per subnet pair; empty = the region's first ones.
    #[serde(default)]
    pub availability_zones: Vec<String>,
    pub nat_gateways: NatLayout,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NatLayout {
    /// One NAT gateway, in the first public subnet (cheap, not zone-redundant).
    Single,
    /// One NAT gateway per zone.
    PerAz,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityProfile {
    /// The gameserver's container port.
    pub game_port: u16,
    /// Host ports ECS maps containers to (dynamic port mapping).
    pub host_port_range: [u16; 2],
    pub redis_port: u16,
}

impl Profile {
    /// The profile of an environment, from the directory `dir`.
    pub fn for_env(dir: &Path, env: &str) -> Result<Self, Error> {
        Self::load(&dir.join(format!("{env}.toml")))
    }

    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Profile {
            path: path.to_path_buf(),
            cause: e.to_string(),
        })?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Self, Error> {
        let invalid = |cause: String| Error::InvalidProfile {
            path: path.to_path_buf(),
            cause,
        };
        let mut raw: toml::Table = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let network: NetworkProfile = take_section(&mut raw, "network").map_err(&invalid)?;
        let security: SecurityProfile = take_section(&mut raw, "security").map_err(&invalid)?;
        let header_table: toml::Table = raw
            .iter()
            .filter(|(_, v)| !v.is_table())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let header: Header = header_table
            .try_into()
            .map_err(|e: toml::de::Error| invalid(e.to_string()))?;
        let profile = Profile {
            path: path.to_path_buf(),
            project: header.project,
            environment: header.environment,
            region: header.region,
            network,
            security,
            raw,
        };
        profile.validate().map_err(invalid)?;
        Ok(profile)
    }

    /// Another layer's section, when the profile has one.
    pub fn section<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, Error> {
        let Some(value) = self.raw.get(name) else {
            return Ok(None);
        };
        value
            .clone()
            .try_into()
            .map(Some)
            .map_err(|e: toml::de::Error| Error::InvalidProfile {
                path: self.path.clone(),
                cause: format!("section [{name}]: {e}"),
            })
    }

    fn validate(&self) -> Result<(), String> {
        let name_ok = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        };
        if !name_ok(&self.project) || !name_ok(&self.environment) {
            return Err("project and environment must be lowercase letters, digits and '-'".into());
        }
        let n = &self.network;
        let vpc = parse_cidr(&n.vpc_cidr)?;
        if n.public_subnets.len() != n.private_subnets.len() || n.public_subnets.is_empty() {
            return Err("network: public_subnets and private_subnets need the same, non-zero length (one of each per zone)".into());
        }
        if !n.availability_zones.is_empty() && n.availability_zones.len() != n.public_subnets.len()
        {
            return Err("network: availability_zones must name one zone per subnet pair".into());
        }
        let mut subnets = Vec::new();
        for c in n.public_subnets.iter().chain(&n.private_subnets) {
            let s = parse_cidr(c)?;
            if !contains(vpc, s) {
                return Err(format!(
                    "network: subnet {c} is outside the VPC {}",
                    n.vpc_cidr
                ));
            }
            if let Some(other) = subnets
                .iter()
                .find(|o: &&(u32, u8, &String)| overlaps((o.0, o.1), s))
            {
                return Err(format!("network: subnet {c} overlaps {}", other.2));
            }
            subnets.push((s.0, s.1, c));
        }
        let [lo, hi] = self.security.host_port_range;
        if lo > hi {
            return Err(format!("security: host_port_range {lo}-{hi} is empty"));
        }
        Ok(())
    }
}

fn take_section<T: DeserializeOwned>(raw: &mut toml::Table, name: &str) -> Result<T, String> {
    let value = raw
        .remove(name)
        .ok_or_else(|| format!("missing section [{name}]"))?;
    value
        .try_into()
        .map_err(|e: toml::de::Error| format!("section [{name}]: {e}"))
}

/// (network address, prefix length) of an IPv4 CIDR block.
fn parse_cidr(cidr: &str) -> Result<(u32, u8), String> {
    let bad = || format!("{cidr:?} is not an IPv4 CIDR block such as 10.0.1.0/24");
    let (addr, len) = cidr.split_once('/').ok_or_else(bad)?;
    let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
    let len: u8 = len.parse().map_err(|_| bad())?;
    if !(16..=28).contains(&len) {
        return Err(format!("{cidr}: AWS allows prefix lengths /16 to /28"));
    }
    let addr = u32::from(addr);
    let mask = u32::MAX << (32 - len);
    if addr & !mask != 0 {
        return Err(format!(
            "{cidr}: host bits set (the network address is {})",
            Ipv4Addr::from(addr & mask)
        ));
    }
    Ok((addr, len))
}

fn contains(outer: (u32, u8), inner: (u32, u8)) -> bool {
    inner.1 >= outer.1 && (inner.0 & (u32::MAX << (32 - outer.1))) == outer.0
}

fn overlaps(a: (u32, u8), b: (u32, u8)) -> bool {
    contains(a, b) || contains(b, a)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
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
[ecs]
instance_type = "t3.small"
"#;

    #[test]
    fn parses_and_keeps_other_sections() {
        let p = Profile::parse(Path::new("x.toml"), GOOD).unwrap();
        assert_eq!(p.network.nat_gateways, NatLayout::Single);
        let ecs: toml::Table = p.section("ecs").unwrap().unwrap();
        assert_eq!(ecs["instance_type"].as_str(), Some("t3.small"));
    }

    #[test]
    fn rejects_overlapping_or_outside_subnets() {
        let overlap = GOOD.replace("10.0.11.0/24", "10.0.1.0/25");
        let err = Profile::parse(Path::new("x.toml"), &overlap)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("overlaps 10.0.1.0/24") && err.contains("x.toml"),
            "{err}"
        );
        let outside = GOOD.replace("10.0.11.0/24", "10.1.11.0/24");
        let err = Profile::parse(Path::new("x.toml"), &outside)
            .unwrap_err()
            .to_string();
        assert!(err.contains("outside the VPC"), "{err}");
    }

    #[test]
    fn rejects_malformed_cidr_naming_it() {
        let bad = GOOD.replace("10.0.0.0/16", "10.0.0.1/16");
        let err = Profile::parse(Path::new("x.toml"), &bad)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("10.0.0.1/16") && err.contains("host bits"),
            "{err}"
        );
    }
}
