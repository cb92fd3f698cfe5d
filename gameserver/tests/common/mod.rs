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
        Self::spawn(port, args, envs, Stdio::inherit())
    }

    /// Like `start`, with the server's log (stderr) written to `log`.
    pub fn start_logged(args: &[&str], envs: &[(&str, &str)], log: &std::path::Path) -> GameServer {
        let file = std::fs::File::create(log).expect("create server log file");
        Self::spawn(free_port(), args, envs, Stdio::from(file))
    }

    fn spawn(port: u16, args: &[&str], envs: &[(&str, &str)], stderr: Stdio) -> GameServer {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gameserver"));
        cmd.args(args)
            .env("PORT", port.to_string())
            .env("REDIS_ENABLED", "false")
            // Quiet by default; a test's own RUST_LOG in `envs` wins.
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stderr(stderr);
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
            assert!(
                start.elapsed() < limit,
                "gameserver did not listen on {}",
                self.port
            );
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

/// A plain HTTP/1.1 GET over a fresh TCP connection: (status, lower-cased headers, body).
pub fn http_get(port: u16, path: &str) -> (u16, Vec<(String, String)>, String) {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect for HTTP GET");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .expect("send GET");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read HTTP response");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .expect("HTTP response without header end");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("HTTP status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

/// The value of an unlabelled Prometheus sample in a /metrics body.
pub fn metric(body: &str, name: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

impl GameServer {
    /// SIGTERM, as ECS stops a task; returns the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        self.child.wait().expect("wait for gameserver")
    }
}
