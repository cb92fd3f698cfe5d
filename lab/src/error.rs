//! What can go wrong in the lab, each saying what happened and why.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::settings::SettingsError;
use crate::zone::Zone;

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("cannot start {name} ({program}): {source}; is it installed? `make deps` installs haproxy, redis-server and redis-sentinel")]
    Spawn {
        name: String,
        program: String,
        source: std::io::Error,
    },
    #[error("{name} exited at start ({status}); see {}", log.display())]
    Exited {
        name: String,
        status: String,
        log: PathBuf,
    },
    #[error("{name} did not listen on {addr} in time; see {}", log.display())]
    NotListening {
        name: String,
        addr: SocketAddr,
        log: PathBuf,
    },
    #[error("{name} found no free port in {tries} tries")]
    NoFreePort { name: String, tries: u32 },
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("redis at port {port}: {what}: {source}")]
    Redis {
        port: u16,
        what: String,
        source: redis::RedisError,
    },
    #[error("HAProxy's runtime API: {what}: {detail}")]
    HaProxy { what: String, detail: String },
    #[error("timed out after {seconds} s waiting for {what}")]
    Timeout { what: String, seconds: u64 },
    #[error("the game server binary {} is missing: build it with `cargo build -p gameserver` (or pass --gameserver)", path.display())]
    NoGameserver { path: PathBuf },
    #[error("node {0} is not running")]
    NodeDown(Zone),
    #[error("node {0} is already running")]
    NodeUp(Zone),
    #[error("the redis node of zone {0} is already running")]
    RedisUp(Zone),
    #[error("no redis primary is known: {0}")]
    NoPrimary(String),
    #[error("the lab answered {op} with {reply}")]
    UnexpectedReply { op: String, reply: String },
    #[error("the lab's control socket {}: {detail}", path.display())]
    Control { path: PathBuf, detail: String },
}

impl LabError {
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> LabError {
        let what = what.into();
        move |source| LabError::Io { what, source }
    }
}
