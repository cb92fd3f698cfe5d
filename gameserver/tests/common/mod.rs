//! Shared by the integration tests: runs the real `gameserver` binary on a free
//! loopback port and kills it when dropped.
#![allow(dead_code)]

pub mod cluster;
pub mod forwarder;
mod listener;
pub mod play;

use listener::listens;

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
        Self::launch(None, args, envs, Stdio::inherit)
    }

    pub fn start_on(port: u16, args: &[&str], envs: &[(&str, &str)]) -> GameServer {
        Self::launch(Some(port), args, envs, Stdio::inherit)
    }

    /// Several servers started at the same moment (each with its own
    /// environment), waited for together.
    pub fn start_together(envs: &[Vec<(&str, &str)>]) -> Vec<GameServer> {
        let mut servers: Vec<GameServer> = envs
            .iter()
            .map(|envs| Self::spawn(free_port(), &[], envs, Stdio::inherit()))
            .collect();
        for (server, envs) in servers.iter_mut().zip(envs) {
            if let Err(exit) = server.wait_listening(Duration::from_secs(20)) {
                // Another test took the port first: this one starts again.
                eprintln!(
                    "gameserver could not listen on {} ({exit}); trying another port",
                    server.port
                );
                *server = Self::launch(None, &[], envs, Stdio::inherit);
            }
        }
        servers
    }

    /// Like `start`, with the server's log (stderr) written to `log`.
    pub fn start_logged(args: &[&str], envs: &[(&str, &str)], log: &std::path::Path) -> GameServer {
        Self::launch(None, args, envs, || {
            Stdio::from(std::fs::File::create(log).expect("create server log file"))
        })
    }

    /// A port from `free_port` is free only until someone binds it: another
    /// test's server may take it first. Then our child exits (or another
    /// process answers on the port), so we check that the listener is ours
    /// and try a fresh port when it is not.
    fn launch(
        fixed: Option<u16>,
        args: &[&str],
        envs: &[(&str, &str)],
        stderr: impl Fn() -> Stdio,
    ) -> GameServer {
        for _ in 0..5 {
            let port = fixed.unwrap_or_else(free_port);
            let mut server = Self::spawn(port, args, envs, stderr());
            match server.wait_listening(Duration::from_secs(20)) {
                Ok(()) => return server,
                Err(exit) if fixed.is_none() => {
                    eprintln!("gameserver could not listen on {port} ({exit}); trying another port")
                }
                Err(exit) => panic!("gameserver could not listen on {port}: it exited ({exit})"),
            }
        }
        panic!("gameserver found no free port in 5 tries");
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
        GameServer { port, child }
    }

    /// Waits until this child, not some other process, listens on the port;
    /// an error says how the child exited.
    fn wait_listening(&mut self, limit: Duration) -> Result<(), String> {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(status.to_string());
            }
            if listens(self.child.id(), self.port) {
                return Ok(());
            }
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

/// A plain HTTP/1.1 GET that never panics: (status, body), or (0, "") when
/// nothing answers (a server stopped, paused or not up yet).
pub fn try_get(port: u16, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new());
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    let mut response = String::new();
    if stream.write_all(request.as_bytes()).is_err()
        || stream.read_to_string(&mut response).is_err()
    {
        return (0, String::new());
    }
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

/// A saved room with one player holding `token`, `steps` into its game, as
/// a process that ran before would leave it.
pub fn saved_room(room: &str, token: &str, steps: u32) -> Vec<u8> {
    use gameserver::persist::{Envelope, PlayerRecord};
    use gameserver::sim::{SimConfig, World};
    let mut world = World::new(SimConfig::default(), 11);
    let p = world.add_player(Some("Old".into()));
    world.spawn_ship(p);
    for _ in 0..steps {
        world.step(&[]);
    }
    let record = PlayerRecord {
        token_hash: gameserver::token::TokenHash::of(token),
        grace_deadline: None,
    };
    let players = std::collections::BTreeMap::from([(p, record)]);
    Envelope::capture(room, &world, players, std::time::SystemTime::now())
        .encode()
        .unwrap()
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
