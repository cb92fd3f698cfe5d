//! One game server node: the real `gameserver` binary on its zone's
//! loopback address, reaching Redis only through its forwarder, logging to
//! its own file. Started, killed and stopped as ECS does a task.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

use crate::child::Child;
use crate::error::LabError;
use crate::ports::start_listening;
use crate::probe;
use crate::wait::wait_for;
use crate::zone::Zone;

/// How long a starting node may take to restore its rooms and say ready.
const READY_LIMIT: Duration = Duration::from_secs(60);

#[derive(Clone, Debug)]
pub struct NodeSpec {
    pub zone: Zone,
    pub binary: PathBuf,
    /// The node's forwarder, in front of the primary endpoint.
    pub redis_url: String,
    pub log: PathBuf,
    /// Flags for every node (bots, snapshot interval, cluster settings).
    pub args: Vec<String>,
}

pub struct Node {
    spec: NodeSpec,
    /// Chosen at the first start; a restart comes back on it, as the
    /// target group knows the task by its address.
    port: Option<u16>,
    child: Option<Child>,
}

impl Node {
    pub fn new(spec: NodeSpec) -> Result<Node, LabError> {
        if !spec.binary.is_file() {
            return Err(LabError::NoGameserver { path: spec.binary });
        }
        Ok(Node {
            spec,
            port: None,
            child: None,
        })
    }

    pub fn addr(&self) -> Option<SocketAddr> {
        self.port
            .map(|p| SocketAddr::new(self.spec.zone.node_ip().into(), p))
    }

    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| c.exited().is_none())
    }

    /// Starts the process; returns once it listens (not yet ready).
    pub async fn start(&mut self) -> Result<SocketAddr, LabError> {
        if self.is_running() {
            return Err(LabError::NodeUp(self.spec.zone));
        }
        let spec = &self.spec;
        let name = format!("node {}", spec.zone);
        let (child, port) = start_listening(&name, spec.zone.node_ip().into(), self.port, |port| {
            let cmd = command(spec, port);
            let name = name.clone();
            async move { Child::spawn(&name, cmd, &spec.log) }
        })
        .await?;
        self.port = Some(port);
        self.child = Some(child);
        Ok(SocketAddr::new(spec.zone.node_ip().into(), port))
    }

    /// Until its own `/ready` answers 200.
    pub async fn wait_ready(&self) -> Result<(), LabError> {
        let addr = self.addr().ok_or(LabError::NodeDown(self.spec.zone))?;
        wait_for(
            &format!("node {} to be ready", self.spec.zone),
            READY_LIMIT,
            || async move { Ok(probe::status(addr, "/ready").await == Some(200)) },
        )
        .await
    }

    /// SIGKILL.
    pub fn kill(&mut self) -> Result<(), LabError> {
        self.running_child()?.kill();
        Ok(())
    }

    /// SIGTERM, SIGKILL after `limit` (the task's stop timeout).
    pub async fn stop(&mut self, limit: Duration) -> Result<Option<ExitStatus>, LabError> {
        Ok(self.running_child()?.terminate(limit).await)
    }

    fn running_child(&mut self) -> Result<&mut Child, LabError> {
        if !self.is_running() {
            return Err(LabError::NodeDown(self.spec.zone));
        }
        self.child
            .as_mut()
            .ok_or(LabError::NodeDown(self.spec.zone))
    }
}

fn command(spec: &NodeSpec, port: u16) -> Command {
    let mut cmd = Command::new(&spec.binary);
    cmd.env("PORT", port.to_string())
        .env("BIND", spec.zone.node_ip().to_string())
        .env("REDIS_URL", &spec.redis_url)
        .env("LOG_FORMAT", "human")
        .env(
            "RUST_LOG",
            std::env::var("LAB_NODE_LOG").unwrap_or_else(|_| "info".into()),
        )
        .args(&spec.args);
    cmd
}

/// The `gameserver` built beside this program (`target/<profile>/`), or
/// beside the test binary that runs it (`target/<profile>/deps/..`).
pub fn default_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join("gameserver")
}
