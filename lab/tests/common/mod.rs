//! Shared by the lab's tests: the game server binary built once, and a lab
//! on free ports in its own scratch directory, removed after a pass.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use lab::lab::{Lab, LabOptions};
use lab::node::default_binary;
use lab::redis::FailoverTiming;

/// `cargo test -p lab` builds this crate, not the game server's binary:
/// build it once, in the profile these tests run in.
pub fn gameserver() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let binary = default_binary();
            let release = binary.parent().is_some_and(|d| d.ends_with("release"));
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut cmd = Command::new(cargo);
            cmd.args(["build", "-p", "gameserver", "--bin", "gameserver"]);
            // What cargo sets for this test process would make the inner build
            // look different to build scripts (ring's) and rebuild half the tree.
            for (key, _) in std::env::vars_os() {
                let key = key.to_string_lossy();
                let per_package = [
                    "CARGO_PKG_",
                    "CARGO_MANIFEST_",
                    "CARGO_CRATE_",
                    "CARGO_BIN_",
                ]
                .iter()
                .any(|p| key.starts_with(p));
                if per_package || key == "CARGO_PRIMARY_PACKAGE" || key == "CARGO_TARGET_TMPDIR" {
                    cmd.env_remove(key.as_ref());
                }
            }
            if release {
                cmd.arg("--release");
            }
            let status = cmd.status().expect("run cargo build -p gameserver");
            assert!(status.success(), "cargo build -p gameserver failed");
            binary
        })
        .clone()
}

pub struct ScratchDir(pub PathBuf);

impl ScratchDir {
    pub fn new(name: &str) -> ScratchDir {
        let dir = std::env::temp_dir().join(format!("spaaace-lab-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        ScratchDir(dir)
    }
}

impl Drop for ScratchDir {
    /// Kept after a failure: the logs say what happened.
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("lab files kept in {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

pub fn options(dir: &ScratchDir) -> LabOptions {
    LabOptions {
        dir: dir.0.clone(),
        alb_port: None,
        gameserver: gameserver(),
        redispatch: true,
        failover: FailoverTiming::default(),
        snapshot_interval_ms: 1000,
        node_args: Vec::new(),
    }
}

pub async fn start(dir: &ScratchDir) -> Lab {
    Lab::start(options(dir)).await.expect("start the lab")
}
