//! Every process the lab starts dies with it. Each child asks the kernel
//! for SIGKILL when its parent thread ends (`PR_SET_PDEATHSIG`), so a
//! killed or panicking lab leaves nothing behind; children are spawned from
//! one thread that lives as long as the process, because the signal follows
//! the spawning *thread*, and a tokio worker may end before the lab does.
//! A dropped `Child` is killed and reaped.

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

use crate::error::LabError;
use crate::listening::listens;

type SpawnRequest = (Command, mpsc::Sender<std::io::Result<std::process::Child>>);

/// The one thread that forks every child.
fn spawner() -> &'static Mutex<mpsc::Sender<SpawnRequest>> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("lab-spawner".into())
            .spawn(move || {
                for (mut command, reply) in rx {
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("start the lab's spawner thread");
        Mutex::new(tx)
    })
}

pub struct Child {
    name: String,
    inner: std::process::Child,
    log: PathBuf,
}

impl Child {
    /// Starts `command` with stdout and stderr appended to `log`.
    pub fn spawn(name: &str, mut command: Command, log: &Path) -> Result<Child, LabError> {
        let io = |source| LabError::Io {
            what: format!("opening the log {}", log.display()),
            source,
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(io)?;
        let stderr = file.try_clone().map_err(io)?;
        command.stdin(Stdio::null()).stdout(file).stderr(stderr);
        let parent = std::process::id();
        // SAFETY: only async-signal-safe calls (prctl, getppid) between fork and exec.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The lab died before the prctl took effect.
                if libc::getppid() as u32 != parent {
                    return Err(std::io::Error::other("the lab exited during the spawn"));
                }
                Ok(())
            });
        }
        let program = command.get_program().to_string_lossy().into_owned();
        let (reply, answer) = mpsc::channel();
        spawner()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send((command, reply))
            .map_err(|_| LabError::Spawn {
                name: name.into(),
                program: program.clone(),
                source: std::io::Error::other("the spawner thread is gone"),
            })?;
        let inner = answer
            .recv()
            .map_err(|_| std::io::Error::other("the spawner thread is gone"))
            .and_then(|r| r)
            .map_err(|source| LabError::Spawn {
                name: name.into(),
                program,
                source,
            })?;
        Ok(Child {
            name: name.into(),
            inner,
            log: log.to_path_buf(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> u32 {
        self.inner.id()
    }

    pub fn log(&self) -> &Path {
        &self.log
    }

    /// How it ended, if it has.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.inner.try_wait().ok().flatten()
    }

    /// SIGKILL, as a crashed task or a lost instance dies.
    pub fn kill(&mut self) {
        let _ = self.inner.kill();
        let _ = self.inner.wait();
    }

    /// SIGTERM, then SIGKILL if it has not exited within `limit` (as ECS
    /// does after its stop timeout). The exit status, None if it was killed.
    pub async fn terminate(&mut self, limit: Duration) -> Option<ExitStatus> {
        if let Some(status) = self.exited() {
            return Some(status);
        }
        // SAFETY: signalling our own child, which we have not reaped yet.
        unsafe {
            libc::kill(self.pid() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.exited() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tracing::warn!(process = %self.name, ?limit, "did not stop after SIGTERM: killed");
        self.kill();
        None
    }

    /// Waits until this child itself listens on `addr`: another process
    /// answering on a port we were told was free does not count.
    pub async fn wait_listening(
        &mut self,
        addr: SocketAddr,
        limit: Duration,
    ) -> Result<(), LabError> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.exited() {
                return Err(LabError::Exited {
                    name: self.name.clone(),
                    status: status.to_string(),
                    log: self.log.clone(),
                });
            }
            if listens(self.pid(), addr) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(LabError::NotListening {
                    name: self.name.clone(),
                    addr,
                    log: self.log.clone(),
                });
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A port free on `ip` at this moment (another process may still take it
/// before our child binds it: callers retry on `LabError::Exited`).
pub fn free_port(ip: IpAddr) -> Result<u16, LabError> {
    TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|source| LabError::Io {
            what: format!("finding a free port on {ip}"),
            source,
        })
}
