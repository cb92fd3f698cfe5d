//! Shared by the integration tests: runs the real `gameserver` binary on a free
//! loopback port and kills it when dropped.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

pub struct GameServer {
    pub port: u16,
    child: Child,
}

impl GameServer {
    /// Starts the binary with `args` and extra environment on a free port and
    /// waits until it accepts TCP connections.
    pub fn start(args: &[&str], envs: &[(&str, &str)]) -> GameServer {
        Self::start_on(free_port(), args, envs)
    }

    pub fn start_on(port: u16, args: &[&str], envs: &[(&str, &str)]) -> GameServer {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gameserver"));
        cmd.args(args)
            .env("PORT", port.to_string())
            .env("REDIS_ENABLED", "false")
            .stdin(Stdio::null());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn gameserver");
        let server = GameServer { port, child };
        server.wait_listening(Duration::from_secs(20));
        server
    }

    fn wait_listening(&self, limit: Duration) {
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(start.elapsed() < limit, "gameserver did not listen on {}", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn http_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}/ws", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, as a crashed node would die.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }
}

impl Drop for GameServer {
    fn drop(&mut self) {
        self.kill();
    }
}
