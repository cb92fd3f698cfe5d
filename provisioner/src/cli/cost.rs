//! `cost`: the monthly estimate, from the profile and the prices; no AWS
//! call, so no session.

use super::Outcome;
use crate::cost::{self, Footprint, Prices};
use crate::profile::Profile;
use crate::workload_profile::WorkloadProfile;
use crate::Error;
use std::path::Path;

/// Prices from `prices`, or the built-in list.
pub fn estimate(profile: &Profile, prices: Option<&Path>) -> Result<Outcome, Error> {
    let workload = WorkloadProfile::from_profile(profile)?;
    let prices = match prices {
        Some(path) => Prices::load(path)?,
        None => crate::builtin::prices()?,
    };
    let estimate = cost::estimate(
        &profile.environment,
        &Footprint::of(profile, &workload),
        &workload.cost,
        &prices,
    )?;
    Outcome::of(&estimate, 0)
}
