//! The shipped profiles and price list, compiled into the binary so that
//! `--env dev` and `cost` work wherever the binary runs (installed with
//! `cargo install`, copied into a CI image), not only inside the checkout.
//! `--config`, `--profiles-dir` and `--prices` still read files instead.

use crate::cost::{CostError, Prices};
use crate::profile::Profile;
use crate::Error;
use std::path::{Path, PathBuf};

/// A profile that ships with the binary.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    pub name: &'static str,
    /// The file as shipped, comments included.
    pub text: &'static str,
}

pub const PROFILES: &[Builtin] = &[
    Builtin {
        name: "dev",
        text: include_str!("../../fixtures/environments/dev.toml"),
    },
    Builtin {
        name: "prod",
        text: include_str!("../../fixtures/environments/prod.toml"),
    },
    Builtin {
        name: "emulator",
        text: include_str!("../../fixtures/environments/emulator.toml"),
    },
];

const PRICES: &str = include_str!("../../fixtures/prices.toml");

/// Where a built-in file says it comes from in messages.
fn origin(file: &str) -> PathBuf {
    Path::new("(built in)").join(file)
}

impl Builtin {
    pub fn find(name: &str) -> Option<Builtin> {
        PROFILES.iter().copied().find(|p| p.name == name)
    }

    pub fn profile(&self) -> Result<Profile, Error> {
        Profile::parse(&origin(&format!("{}.toml", self.name)), self.text)
    }
}

/// The built-in profile `env`, or an error naming the ones there are.
pub fn profile(env: &str) -> Result<Profile, Error> {
    Builtin::find(env).ok_or_else(|| unknown(env))?.profile()
}

/// `env` names no built-in profile.
pub fn unknown(env: &str) -> Error {
    Error::Usage(format!(
        "no profile {env:?}: the built-in ones are {} (`provisioner profiles`); \
         --config PATH or --profiles-dir DIR for another",
        names().join(", ")
    ))
}

pub fn names() -> Vec<&'static str> {
    PROFILES.iter().map(|p| p.name).collect()
}

/// The built-in price list.
pub fn prices() -> Result<Prices, CostError> {
    Prices::parse(&origin("prices.toml"), PRICES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_profile_parses_with_its_workload() {
        for p in PROFILES {
            let profile = p.profile().unwrap();
            assert_eq!(profile.environment, p.name);
            crate::workload_profile::WorkloadProfile::from_profile(&profile).unwrap();
        }
    }

    #[test]
    fn an_unknown_profile_names_the_built_in_ones() {
        let err = profile("staging").unwrap_err().to_string();
        assert!(err.contains("dev, prod, emulator"), "{err}");
    }
}
