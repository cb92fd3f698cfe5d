//! Spaaace HA provisioner: builds, converges and tears down the game's AWS
//! stack. The binary in `main.rs` is a thin CLI over [`commands`].

pub mod aws;
pub mod calls;
pub mod commands;
pub mod engine;
pub mod error;
pub mod network;
pub mod profile;
pub mod stack;
pub mod tags;
pub mod wait;

pub use error::Error;
