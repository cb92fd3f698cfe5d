//! A real `redis-server` for the tests: started on a free loopback port with
//! persistence off and its own scratch directory, stoppable and restartable on
//! the same port (outage tests), killed when dropped.
#![allow(dead_code)]

// Some test crates include this file without `common`, so it brings its own copy.
#[allow(clippy::duplicate_mod)]
#[path = "listener.rs"]
mod listener;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    pub port: u16,
    args: Vec<String>,
    tls: bool,
    dir: PathBuf,
    child: Option<Child>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

impl RedisServer {
    pub fn start() -> RedisServer {
        Self::start_with(&[])
    }

    /// Extra `redis-server` arguments, e.g. `["--requirepass", "x"]`.
    pub fn start_with(extra: &[&str]) -> RedisServer {
        let mut server = Self::prepare(extra, false);
        server.spawn();
        server
    }

    /// A server whose only listener is TLS on `port` (the plain port is off).
    pub fn start_tls(cert: &str, key: &str, ca: &str, extra: &[&str]) -> RedisServer {
        let mut args = vec![
            "--tls-cert-file",
            cert,
            "--tls-key-file",
            key,
            "--tls-ca-cert-file",
            ca,
            "--tls-auth-clients",
            "no",
        ];
        args.extend_from_slice(extra);
        let mut server = Self::prepare(&args, true);
        server.spawn();
        server
    }

    fn prepare(extra: &[&str], tls: bool) -> RedisServer {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("spaaace-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create redis scratch dir");
        RedisServer {
            port,
            args: extra.iter().map(|s| s.to_string()).collect(),
            tls,
            dir,
            child: None,
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The server's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// A plain synchronous connection for the test to look with.
    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection())
            .expect("test connection to redis-server")
    }

    /// Kills the server at once, as an outage would (the port stays reserved for `restart`).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts (again) on the same port, empty, and waits until it answers.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    fn spawn(&mut self) {
        let port = self.port.to_string();
        let listen: [&str; 2] = if self.tls {
            ["--tls-port", &port]
        } else {
            ["--port", &port]
        };
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(listen)
            .args(if self.tls {
                &["--port", "0"][..]
            } else {
                &[][..]
            })
            .arg("--dir")
            .arg(&self.dir)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start redis-server ({e}): it is not installed? run `make deps`")
            });
        self.child = Some(child);
        self.wait_listening();
    }

    /// Until this child, not another test's redis-server, listens on the port.
    fn wait_listening(&mut self) {
        let start = Instant::now();
        while !self
            .child
            .as_ref()
            .is_some_and(|c| listener::listens(c.id(), self.port))
        {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "redis-server on port {} exited at start: {status}",
                    self.port
                );
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "redis-server did not listen on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
