//! A small Chrome DevTools Protocol driver for the browser tests: starts Debian's
//! headless chromium, speaks CDP over its WebSocket and drives one page.

mod chromium;
mod connection;
mod page;

pub use chromium::Chromium;
pub use page::Page;

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum CdpError {
    #[error("chromium not found at {0}: run `make deps` (it installs Debian's chromium)")]
    ChromiumMissing(PathBuf),
    #[error("could not create the chromium profile directory {path}: {source}")]
    ProfileDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("could not start chromium at {path}: {source}")]
    Spawn {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("chromium exited before it opened DevTools ({status}); its log:\n{log}")]
    ChromiumExited {
        status: std::process::ExitStatus,
        log: String,
    },
    #[error("chromium wrote no {path} within {waited:?}; its log:\n{log}")]
    NoDevToolsPort {
        path: PathBuf,
        waited: Duration,
        log: String,
    },
    #[error("malformed DevToolsActivePort file {path}: {content:?}")]
    BadPortFile { path: PathBuf, content: String },
    #[error("DevTools WebSocket {url}: {source}")]
    Connect {
        url: String,
        source: Box<tokio_tungstenite::tungstenite::Error>,
    },
    #[error("DevTools connection closed while waiting for {0}")]
    Closed(String),
    #[error("{method}: no reply within {waited:?}")]
    Timeout { method: String, waited: Duration },
    #[error("{method} failed: {message}")]
    Command { method: String, message: String },
    #[error("{method}: unexpected reply {reply}")]
    BadReply { method: String, reply: String },
    #[error("page script `{expression}` threw: {message}")]
    Script { expression: String, message: String },
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}
