//! A game server process for the bench: this build's binary or another one
//! (`--compare`), on a free loopback port, killed when dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::probe;

/// How long a server gets to answer /ready.
const START_LIMIT: Duration = Duration::from_secs(30);

pub struct Server {
    child: Child,
    pub port: u16,
}

/// This build's server binary.
pub fn this_build() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_gameserver"))
}

impl Server {
    /// Starts `binary` without Redis unless `envs` say otherwise (on the
    /// CPUs `cpus` names, if any), and waits until it takes players. A port
    /// someone else took first means another try on another port.
    pub fn start(binary: &Path, envs: &[(&str, &str)], cpus: Option<&str>) -> Server {
        for _ in 0..5 {
            let port = free_port();
            let mut cmd = on_cpus(binary, cpus);
            cmd.env("PORT", port.to_string())
                .env("REDIS_ENABLED", "false")
                .env("RUST_LOG", "error")
                .stdin(Stdio::null())
                .stdout(Stdio::null());
            for (k, v) in envs {
                cmd.env(k, v);
            }
            let mut server = Server {
                child: cmd.spawn().expect("spawn the game server"),
                port,
            };
            if server.wait_ready() {
                return server;
            }
        }
        panic!("{} did not start in 5 tries", binary.display());
    }

    fn wait_ready(&mut self) -> bool {
        let started = Instant::now();
        while started.elapsed() < START_LIMIT {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if probe::http_get(&self.addr(), "/ready").is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}/ws", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A command for `program`, run by `taskset` on `cpus` (as `taskset -c`
/// reads them) when given.
pub fn on_cpus(program: &Path, cpus: Option<&str>) -> Command {
    match cpus {
        Some(cpus) => {
            let mut cmd = Command::new("taskset");
            cmd.arg("-c").arg(cpus).arg(program);
            cmd
        }
        None => Command::new(program),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}
