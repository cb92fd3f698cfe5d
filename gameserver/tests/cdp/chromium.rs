//! Starts headless chromium with a fresh profile and finds its DevTools endpoint.

use super::CdpError;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const CHROMIUM_PATH: &str = "/usr/bin/chromium";

/// How long chromium may take to open its DevTools port on a loaded 2-core machine.
const STARTUP_LIMIT: Duration = Duration::from_secs(30);

/// A running headless chromium; killed and its profile removed on drop.
pub struct Chromium {
    child: Child,
    dir: PathBuf,
    ws_url: String,
}

impl Chromium {
    pub fn launch() -> Result<Chromium, CdpError> {
        let binary = Path::new(CHROMIUM_PATH);
        if !binary.exists() {
            return Err(CdpError::ChromiumMissing(binary.to_path_buf()));
        }
        let dir = fresh_dir()?;
        let profile = dir.join("profile");
        let log_path = dir.join("chromium.log");
        let log = fs::File::create(&log_path).map_err(|source| CdpError::ProfileDir {
            path: log_path.clone(),
            source,
        })?;
        // Exactly these flags: without them chromium stalls on this closed network.
        let child = Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            // Its own process group, so that drop can end the helper processes too.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|source| CdpError::Spawn {
                path: binary.to_path_buf(),
                source,
            })?;
        let mut chromium = Chromium {
            child,
            dir,
            ws_url: String::new(),
        };
        chromium.ws_url = chromium.wait_for_devtools(&profile.join("DevToolsActivePort"))?;
        Ok(chromium)
    }

    /// The browser-level DevTools WebSocket URL.
    pub fn ws_url(&self) -> &str {
        &self.ws_url
    }

    fn log(&self) -> String {
        let text = fs::read_to_string(self.dir.join("chromium.log")).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(30).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// Chromium writes "PORT\nPATH" once it listens; poll for it (setup, not an assertion).
    fn wait_for_devtools(&mut self, port_file: &Path) -> Result<String, CdpError> {
        let start = Instant::now();
        loop {
            if let Ok(content) = fs::read_to_string(port_file) {
                let mut lines = content.lines();
                if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                    let port: u16 = port.trim().parse().map_err(|_| CdpError::BadPortFile {
                        path: port_file.to_path_buf(),
                        content: content.clone(),
                    })?;
                    return Ok(format!("ws://127.0.0.1:{port}{}", path.trim()));
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(CdpError::ChromiumExited {
                    status,
                    log: self.log(),
                });
            }
            if start.elapsed() > STARTUP_LIMIT {
                return Err(CdpError::NoDevToolsPort {
                    path: port_file.to_path_buf(),
                    waited: STARTUP_LIMIT,
                    log: self.log(),
                });
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        // The whole group: renderer and GPU helpers outlive a killed browser process
        // for a moment and keep writing into the profile.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        for _ in 0..40 {
            if fs::remove_dir_all(&self.dir).is_ok() || !self.dir.exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

/// A new, empty directory per browser: a reused profile would carry state between runs.
fn fresh_dir() -> Result<PathBuf, CdpError> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "spaaace-chromium-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    fs::create_dir(&dir).map_err(|source| CdpError::ProfileDir {
        path: dir.clone(),
        source,
    })?;
    Ok(dir)
}
