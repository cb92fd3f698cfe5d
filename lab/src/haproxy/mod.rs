//! HAProxy in the two roles the lab gives it: the ALB and the Redis
//! primary endpoint. Each runs as its own process with its own generated
//! configuration and runtime socket.

pub mod config;
pub mod runtime;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::child::Child;
use crate::error::LabError;
use crate::ports::start_listening;
use crate::wait::wait_for;
pub use runtime::{AdminState, Runtime, ServerState};

pub struct HaProxy {
    pub addr: SocketAddr,
    pub runtime: Runtime,
    _child: Child,
}

impl HaProxy {
    /// Starts HAProxy named `name` on `ip` (`port`, or a free one) with the
    /// configuration `render(bind address, admin socket)` writes.
    pub async fn start(
        name: &str,
        dir: &Path,
        ip: IpAddr,
        port: Option<u16>,
        render: impl Fn(SocketAddr, &Path) -> String,
    ) -> Result<HaProxy, LabError> {
        let socket = dir.join(format!("{name}.sock"));
        if socket.to_string_lossy().contains(['"', '\n']) {
            return Err(LabError::Io {
                what: format!("using {} for HAProxy's socket", socket.display()),
                source: std::io::Error::other("the path holds a quote or a newline"),
            });
        }
        let config = dir.join(format!("{name}.cfg"));
        let log = dir.join(format!("{name}.log"));
        let program = program();
        let (child, port) = start_listening(name, ip, port, |port| {
            let text = render(SocketAddr::new(ip, port), &socket);
            let (config, log, program) = (config.clone(), log.clone(), program.clone());
            async move {
                std::fs::write(&config, text)
                    .map_err(LabError::io(format!("writing {}", config.display())))?;
                let mut cmd = Command::new(program);
                // -db: stay in the foreground, our child.
                cmd.arg("-db").arg("-f").arg(&config);
                Child::spawn(name, cmd, &log)
            }
        })
        .await?;
        let runtime = Runtime::new(&socket);
        wait_for(
            &format!("{name}'s runtime socket"),
            Duration::from_secs(10),
            || {
                let runtime = runtime.clone();
                async move { runtime.call("show info").await.map(|_| true) }
            },
        )
        .await?;
        Ok(HaProxy {
            addr: SocketAddr::new(ip, port),
            runtime,
            _child: child,
        })
    }
}

/// Debian installs haproxy in /usr/sbin, which a non-root PATH may lack.
fn program() -> PathBuf {
    let in_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("haproxy"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    in_path
        .into_iter()
        .chain([
            PathBuf::from("/usr/sbin/haproxy"),
            PathBuf::from("/usr/local/sbin/haproxy"),
        ])
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("haproxy"))
}
