//! HAProxy's runtime API over its admin socket: what a target group's
//! register, deregister and describe-target-health calls are to an ALB.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use crate::error::LabError;

const CALL_LIMIT: Duration = Duration::from_secs(5);
/// `srv_op_state` of a server HAProxy sends traffic to.
const OP_RUNNING: u32 = 2;
/// `srv_admin_state` bits meaning maintenance (forced, inherited, from
/// config, from DNS resolution, from a health-check-driven "hard" maint).
const ADMIN_MAINT: u32 = 0x01 | 0x02 | 0x04 | 0x20 | 0x40;
const ADMIN_DRAIN: u32 = 0x08 | 0x10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdminState {
    /// Takes traffic.
    Ready,
    /// Takes no new connection (not even a sticky one); open ones stay, as
    /// an ALB target that is deregistering.
    Maint,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerState {
    pub name: String,
    /// Its health checks pass.
    pub up: bool,
    pub maint: bool,
    pub drain: bool,
}

impl ServerState {
    /// Gets new connections.
    pub fn in_service(&self) -> bool {
        self.up && !self.maint && !self.drain
    }
}

#[derive(Clone, Debug)]
pub struct Runtime {
    socket: PathBuf,
}

impl Runtime {
    pub fn new(socket: &Path) -> Runtime {
        Runtime {
            socket: socket.to_path_buf(),
        }
    }

    /// One command, its whole answer.
    pub async fn call(&self, command: &str) -> Result<String, LabError> {
        let failed = |detail: String| LabError::HaProxy {
            what: command.to_string(),
            detail,
        };
        let exchange = async {
            let mut stream = UnixStream::connect(&self.socket).await?;
            stream.write_all(format!("{command}\n").as_bytes()).await?;
            let mut answer = String::new();
            stream.read_to_string(&mut answer).await?;
            Ok::<_, std::io::Error>(answer)
        };
        tokio::time::timeout(CALL_LIMIT, exchange)
            .await
            .map_err(|_| failed(format!("no answer within {CALL_LIMIT:?}")))?
            .map_err(|e| failed(format!("{} ({})", e, self.socket.display())))
    }

    pub async fn servers(&self, backend: &str) -> Result<Vec<ServerState>, LabError> {
        let answer = self.call(&format!("show servers state {backend}")).await?;
        parse_servers_state(&answer).map_err(|detail| LabError::HaProxy {
            what: format!("show servers state {backend}"),
            detail,
        })
    }

    pub async fn set_state(
        &self,
        backend: &str,
        server: &str,
        state: AdminState,
    ) -> Result<(), LabError> {
        let word = match state {
            AdminState::Ready => "ready",
            AdminState::Maint => "maint",
        };
        self.expect_silence(&format!("set server {backend}/{server} state {word}"))
            .await
    }

    /// Marks a server's checks as failed: it takes traffic again once
    /// `rise` checks in a row pass, as a newly registered ALB target leaves
    /// its initial state after the healthy threshold.
    pub async fn mark_unchecked(&self, backend: &str, server: &str) -> Result<(), LabError> {
        self.expect_silence(&format!("set server {backend}/{server} health down"))
            .await
    }

    /// Connections open to a server now.
    pub async fn sessions(&self, backend: &str, server: &str) -> Result<Option<u64>, LabError> {
        let answer = self.call("show stat").await?;
        Ok(parse_current_sessions(&answer, backend, server))
    }

    /// Commands that succeed answer nothing but an empty line.
    async fn expect_silence(&self, command: &str) -> Result<(), LabError> {
        let answer = self.call(command).await?;
        if answer.trim().is_empty() {
            Ok(())
        } else {
            Err(LabError::HaProxy {
                what: command.into(),
                detail: answer.trim().into(),
            })
        }
    }
}

/// `show servers state`: a version line, a `# ` header naming the columns,
/// one line per server.
fn parse_servers_state(answer: &str) -> Result<Vec<ServerState>, String> {
    let mut lines = answer.lines().filter(|l| !l.trim().is_empty());
    lines.next().ok_or("empty answer")?;
    let header: Vec<&str> = lines
        .next()
        .and_then(|h| h.strip_prefix("# "))
        .ok_or_else(|| format!("no header in {answer:?}"))?
        .split_whitespace()
        .collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|c| *c == name)
            .ok_or(format!("no column {name}"))
    };
    let (name, op, admin) = (
        column("srv_name")?,
        column("srv_op_state")?,
        column("srv_admin_state")?,
    );
    lines
        .map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let number = |i: usize| -> Result<u32, String> {
                f.get(i)
                    .and_then(|v| v.parse().ok())
                    .ok_or(format!("bad line {line:?}"))
            };
            let admin = number(admin)?;
            Ok(ServerState {
                name: f.get(name).ok_or(format!("bad line {line:?}"))?.to_string(),
                up: number(op)? == OP_RUNNING,
                maint: admin & ADMIN_MAINT != 0,
                drain: admin & ADMIN_DRAIN != 0,
            })
        })
        .collect()
}

/// `scur` of one server in `show stat`'s CSV.
fn parse_current_sessions(csv: &str, backend: &str, server: &str) -> Option<u64> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next()?.trim_start_matches("# ").split(',').collect();
    let scur = header.iter().position(|c| *c == "scur")?;
    lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&backend) && f.get(1) == Some(&server))
        .and_then(|f| f.get(scur)?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_server_states() {
        // As HAProxy 2.6 answers, with a in maintenance and b down.
        let answer = "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight\n\
                      3 nodes 1 a 127.0.0.11 2 1 1\n3 nodes 2 b 127.0.0.12 0 0 1\n3 nodes 3 c 127.0.0.13 2 0 1\n\n";
        let states = parse_servers_state(answer).unwrap();
        assert_eq!(states.len(), 3);
        assert!(states[0].up && states[0].maint && !states[0].in_service());
        assert!(!states[1].up && !states[1].in_service());
        assert!(states[2].in_service());
        assert!(parse_servers_state("1\n3 nodes 1 a\n").is_err());
    }

    #[test]
    fn reads_current_sessions() {
        let csv = "# pxname,svname,qcur,qmax,scur,smax\nalb,FRONTEND,,,7,9\nnodes,a,0,0,4,5\nnodes,b,0,0,3,3\n";
        assert_eq!(parse_current_sessions(csv, "nodes", "a"), Some(4));
        assert_eq!(parse_current_sessions(csv, "nodes", "c"), None);
    }
}
