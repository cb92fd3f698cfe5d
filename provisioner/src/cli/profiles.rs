//! `profiles`: the profiles `--env` can name, and `profiles show NAME`,
//! one of them as a starting point for a custom profile (`--config`). No
//! AWS call.

use super::Outcome;
use crate::builtin::{self, Builtin};
use crate::cost::Footprint;
use crate::profile::Profile;
use crate::workload_profile::WorkloadProfile;
use crate::Error;
use serde::Serialize;
use std::fmt;
use std::path::Path;

#[derive(Debug, Serialize)]
pub struct Listing {
    /// Where they come from: `built in`, or the `--profiles-dir` directory.
    pub source: String,
    pub profiles: Vec<Entry>,
}

#[derive(Debug, Serialize)]
pub struct Entry {
    pub name: String,
    pub region: String,
    /// What it builds, in a few words.
    pub summary: String,
}

impl Entry {
    fn of(name: &str, profile: &Profile) -> Result<Entry, Error> {
        let Some(workload) = WorkloadProfile::optional(profile)? else {
            return Ok(Entry {
                name: name.to_string(),
                region: profile.region.clone(),
                summary: format!(
                    "{} zones, the network only",
                    profile.network.public_subnets.len()
                ),
            });
        };
        let f = Footprint::of(profile, &workload);
        let nats = if f.nat_gateways == 1 {
            "1 NAT gateway".to_string()
        } else {
            format!("{} NAT gateways", f.nat_gateways)
        };
        let redis = if f.cache_nodes > 0 {
            format!("Redis {} × {}", f.cache_nodes, f.cache_node_type)
        } else {
            "no Redis".to_string()
        };
        Ok(Entry {
            name: name.to_string(),
            region: profile.region.clone(),
            summary: format!(
                "{} zones, {nats}, {} × {}, {redis}",
                f.zones, f.instances, f.instance_type
            ),
        })
    }
}

impl fmt::Display for Listing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .profiles
            .iter()
            .map(|p| p.name.len())
            .max()
            .unwrap_or(0);
        for p in &self.profiles {
            writeln!(f, "{:width$}  {}  {}", p.name, p.region, p.summary)?;
        }
        write!(
            f,
            "({}; `provisioner profiles show NAME` prints one to start a custom profile from, \
             used with --config PATH)",
            self.source
        )
    }
}

/// The profiles `--env` finds: the built-in ones, or those in `dir`.
pub fn list(dir: Option<&Path>) -> Result<Outcome, Error> {
    let listing = match dir {
        None => Listing {
            source: "built in".into(),
            profiles: builtin::PROFILES
                .iter()
                .map(|p| Entry::of(p.name, &p.profile()?))
                .collect::<Result<_, _>>()?,
        },
        Some(dir) => {
            let read = std::fs::read_dir(dir).map_err(|e| Error::Profile {
                path: dir.to_path_buf(),
                cause: e.to_string(),
            })?;
            let mut profiles = Vec::new();
            for entry in read.flatten() {
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "toml") {
                    let name = path.file_stem().unwrap_or_default().to_string_lossy();
                    profiles.push(Entry::of(&name, &Profile::load(&path)?)?);
                }
            }
            profiles.sort_by(|a, b| a.name.cmp(&b.name));
            Listing {
                source: dir.display().to_string(),
                profiles,
            }
        }
    };
    Outcome::of(&listing, 0)
}

/// One profile's file as shipped, comments included.
#[derive(Debug, Serialize)]
pub struct Shown {
    pub name: String,
    pub toml: String,
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.toml.trim_end())
    }
}

pub fn show(name: &str, dir: Option<&Path>) -> Result<Outcome, Error> {
    let toml = match dir {
        None => Builtin::find(name)
            .ok_or_else(|| builtin::unknown(name))?
            .text
            .to_string(),
        Some(dir) => {
            let path = dir.join(format!("{name}.toml"));
            std::fs::read_to_string(&path).map_err(|e| Error::Profile {
                path,
                cause: e.to_string(),
            })?
        }
    };
    Outcome::of(
        &Shown {
            name: name.to_string(),
            toml,
        },
        0,
    )
}
