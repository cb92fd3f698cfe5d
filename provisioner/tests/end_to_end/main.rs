//! The provisioner against moto, in process and as the binary: the network
//! and the whole stack, the command line, the whole cycle through the fault
//! proxy, the lock between concurrent runs, the IAM policy against the
//! calls really made, the emulator walkthrough, and the binary as
//! installed. One test binary: each binary links the whole SDK, and tests
//! in one binary run side by side.

#[path = "../common/mod.rs"]
mod common;

mod faults;
mod installed;
mod lock;
mod network;
mod policy;
mod try_it;
mod workload_cli;
mod workload_moto;
