//! Starting a listening child on a port found free a moment earlier, and
//! trying a fresh port when someone else took it first.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::child::{free_port, Child};
use crate::error::LabError;

const TRIES: u32 = 5;
/// Generous: the machine may be busy building and testing.
pub const START_LIMIT: Duration = Duration::from_secs(30);

/// Calls `start(port)` until the child it returns listens on `ip:port`;
/// `fixed` keeps one port (a restart must come back where it was).
pub async fn start_listening<F, Fut>(
    name: &str,
    ip: IpAddr,
    fixed: Option<u16>,
    mut start: F,
) -> Result<(Child, u16), LabError>
where
    F: FnMut(u16) -> Fut,
    Fut: Future<Output = Result<Child, LabError>>,
{
    for _ in 0..TRIES {
        let port = match fixed {
            Some(port) => port,
            None => free_port(ip)?,
        };
        let mut child = start(port).await?;
        match child
            .wait_listening(SocketAddr::new(ip, port), START_LIMIT)
            .await
        {
            Ok(()) => return Ok((child, port)),
            Err(LabError::Exited { .. }) if fixed.is_none() => {
                tracing::debug!(%name, port, "exited at start, probably the port was taken: trying another");
            }
            Err(e) => return Err(e),
        }
    }
    Err(LabError::NoFreePort {
        name: name.into(),
        tries: TRIES,
    })
}
