//! The lab's three "availability zones": each game server node runs on its
//! own loopback address (all of 127/8 is loopback on Linux), so the load
//! balancer, the logs and the report name nodes as AWS would name zones.

use std::fmt;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Zone {
    A,
    B,
    C,
}

impl Zone {
    pub const ALL: [Zone; 3] = [Zone::A, Zone::B, Zone::C];

    pub fn letter(self) -> &'static str {
        match self {
            Zone::A => "a",
            Zone::B => "b",
            Zone::C => "c",
        }
    }

    /// Where this zone's game server node listens.
    pub fn node_ip(self) -> Ipv4Addr {
        match self {
            Zone::A => Ipv4Addr::new(127, 0, 0, 11),
            Zone::B => Ipv4Addr::new(127, 0, 0, 12),
            Zone::C => Ipv4Addr::new(127, 0, 0, 13),
        }
    }

    pub fn from_letter(letter: &str) -> Option<Zone> {
        Zone::ALL.into_iter().find(|z| z.letter() == letter)
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.letter())
    }
}
