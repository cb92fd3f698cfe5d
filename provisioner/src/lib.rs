//! Spaaace HA provisioner: builds, converges and tears down the game's AWS
//! stack. The binary in `main.rs` is a thin process around [`cli`].

pub mod aws;
pub mod builtin;
pub mod calls;
pub mod chaos;
pub mod cli;
pub mod cost;
pub mod deploy;
pub mod engine;
pub mod error;
pub mod explain;
pub mod load_balancing;
pub mod lock;
pub mod network;
pub mod profile;
pub mod retry;
pub mod session;
pub mod stack;
pub mod tags;
pub mod wait;
pub mod workload;
pub mod workload_profile;

pub use error::Error;
