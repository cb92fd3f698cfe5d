//! The control socket of `spaaace-lab up`: one JSON `Operation` per line
//! in, one JSON `Reply` per line out, on a Unix socket only its owner may
//! open (it can kill every process of the lab). `LabHandle` lets the runner
//! drive a lab in its own process or one behind this socket alike.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinHandle;

use crate::error::LabError;
use crate::lab::Lab;
use crate::ops::{LabInfo, LabStatus, Operation, Reply};

pub const SOCKET_NAME: &str = "control.sock";
/// Longer lines are not operations: refused before they are parsed.
const MAX_LINE: usize = 4096;
/// A rolling stop waits for a node's SIGTERM; nothing takes longer.
const REPLY_LIMIT: Duration = Duration::from_secs(120);

/// Serves `lab` on `dir/control.sock` until the returned task is aborted.
pub fn serve(lab: Arc<Lab>, dir: &Path) -> Result<JoinHandle<()>, LabError> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(SOCKET_NAME);
    let _ = std::fs::remove_file(&path);
    let listener =
        UnixListener::bind(&path).map_err(LabError::io(format!("binding {}", path.display())))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .map_err(LabError::io(format!("restricting {}", path.display())))?;
    Ok(tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(session(lab.clone(), stream));
        }
    }))
}

async fn session(lab: Arc<Lab>, stream: UnixStream) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read.take(64 * MAX_LINE as u64)).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let reply = match parse(&line) {
            Ok(op) => lab.execute(op).await.unwrap_or_else(|e| Reply::Error {
                message: e.to_string(),
            }),
            Err(message) => Reply::Error { message },
        };
        let mut out = serde_json::to_string(&reply).unwrap_or_else(|e| {
            format!(r#"{{"reply":"error","message":"cannot encode the reply: {e}"}}"#)
        });
        out.push('\n');
        if write.write_all(out.as_bytes()).await.is_err() {
            return;
        }
    }
}

fn parse(line: &str) -> Result<Operation, String> {
    if line.len() > MAX_LINE {
        return Err(format!("an operation is at most {MAX_LINE} bytes"));
    }
    serde_json::from_str(line).map_err(|e| format!("not an operation: {e}"))
}

/// A lab in another process, through its control socket.
#[derive(Clone, Debug)]
pub struct RemoteLab {
    path: PathBuf,
}

impl RemoteLab {
    /// The lab whose run directory is `dir` (as `spaaace-lab up` prints it).
    pub fn at(dir: &Path) -> RemoteLab {
        RemoteLab {
            path: dir.join(SOCKET_NAME),
        }
    }

    pub async fn execute(&self, op: &Operation) -> Result<Reply, LabError> {
        let failed = |detail: String| LabError::Control {
            path: self.path.clone(),
            detail,
        };
        let exchange = async {
            let stream = UnixStream::connect(&self.path)
                .await
                .map_err(|e| failed(format!("{e}; is `spaaace-lab up` running there?")))?;
            let (read, mut write) = stream.into_split();
            let mut line = serde_json::to_string(op).map_err(|e| failed(e.to_string()))?;
            line.push('\n');
            write
                .write_all(line.as_bytes())
                .await
                .map_err(|e| failed(e.to_string()))?;
            let mut answer = String::new();
            BufReader::new(read)
                .read_line(&mut answer)
                .await
                .map_err(|e| failed(e.to_string()))?;
            serde_json::from_str::<Reply>(&answer)
                .map_err(|e| failed(format!("unreadable reply {answer:?}: {e}")))
        };
        let reply = tokio::time::timeout(REPLY_LIMIT, exchange)
            .await
            .map_err(|_| failed(format!("no reply within {REPLY_LIMIT:?}")))??;
        match reply {
            Reply::Error { message } => Err(failed(message)),
            reply => Ok(reply),
        }
    }
}

/// A lab the runner drives: in this process, or behind a control socket.
#[derive(Clone)]
pub enum LabHandle {
    Local(Arc<Lab>),
    Remote(RemoteLab),
}

impl LabHandle {
    pub async fn execute(&self, op: Operation) -> Result<Reply, LabError> {
        match self {
            LabHandle::Local(lab) => lab.execute(op).await,
            LabHandle::Remote(remote) => remote.execute(&op).await,
        }
    }

    pub async fn info(&self) -> Result<LabInfo, LabError> {
        match self.execute(Operation::Describe).await? {
            Reply::Info(info) => Ok(info),
            other => Err(unexpected("describe", &other)),
        }
    }

    pub async fn status(&self) -> Result<LabStatus, LabError> {
        match self.execute(Operation::Status).await? {
            Reply::Status(status) => Ok(status),
            other => Err(unexpected("status", &other)),
        }
    }
}

fn unexpected(op: &str, reply: &Reply) -> LabError {
    LabError::UnexpectedReply {
        op: op.to_string(),
        reply: format!("{reply:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_an_operation() {
        assert!(parse(r#"{"op":"status"}"#).is_ok());
        assert!(parse("kill everything")
            .unwrap_err()
            .starts_with("not an operation"));
        assert!(parse(&"x".repeat(MAX_LINE + 1))
            .unwrap_err()
            .contains("at most"));
    }
}
