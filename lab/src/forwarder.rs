//! A node's network path to Redis, with a switch: the way the lab cuts one
//! node off from Redis without root. Each node reaches the primary endpoint
//! only through its own forwarder. Cut, the forwarder moves no byte in
//! either direction and closes nothing: connections stay open, requests get
//! no answer, new connections hang before reaching Redis, as they do when
//! a network partition drops packets. Healed, what was held moves on, as
//! TCP delivers retransmitted segments once a partition heals.

use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::error::LabError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Link {
    Open,
    Cut,
}

pub struct Forwarder {
    pub addr: SocketAddr,
    link: watch::Sender<Link>,
    task: JoinHandle<()>,
}

impl Forwarder {
    /// Listens on a free port of `ip` and forwards to `upstream`.
    pub async fn start(ip: IpAddr, upstream: SocketAddr) -> Result<Forwarder, LabError> {
        let listener = TcpListener::bind((ip, 0))
            .await
            .map_err(LabError::io(format!("binding a Redis forwarder on {ip}")))?;
        let addr = listener
            .local_addr()
            .map_err(LabError::io("reading the forwarder's address"))?;
        let (link, watching) = watch::channel(Link::Open);
        let task = tokio::spawn(accept(listener, upstream, watching));
        Ok(Forwarder { addr, link, task })
    }

    pub fn set(&self, link: Link) {
        self.link.send_replace(link);
    }

    pub fn link(&self) -> Link {
        *self.link.borrow()
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        // The accept task owns every connection's task: they go with it.
        self.task.abort();
    }
}

async fn accept(listener: TcpListener, upstream: SocketAddr, link: watch::Receiver<Link>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((client, _)) => {
                    connections.spawn(relay(client, upstream, link.clone()));
                }
                Err(e) => tracing::warn!(error = %e, "forwarder: accept failed"),
            },
            Some(_) = connections.join_next() => {}
        }
    }
}

async fn relay(client: TcpStream, upstream: SocketAddr, mut link: watch::Receiver<Link>) {
    // A connection opened during a cut waits, as a SYN into a partition does.
    if open(&mut link).await.is_err() {
        return;
    }
    let server = match TcpStream::connect(upstream).await {
        Ok(server) => server,
        // Dropping the client's socket tells it the endpoint refused.
        Err(_) => return,
    };
    let _ = (client.set_nodelay(true), server.set_nodelay(true));
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::join!(
        pump(client_read, server_write, link.clone()),
        pump(server_read, client_write, link),
    );
}

/// Copies one direction while the link is open; a chunk read just before a
/// cut is held until it heals, and so is the end of the stream.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut link: watch::Receiver<Link>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if open(&mut link).await.is_err() {
            return;
        }
        // A read error ends this direction as an end of stream does.
        let n = from.read(&mut buf).await.unwrap_or_default();
        if open(&mut link).await.is_err() {
            return;
        }
        if n == 0 {
            let _ = to.shutdown().await;
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Until the link is open; Err when the forwarder is gone.
async fn open(link: &mut watch::Receiver<Link>) -> Result<(), watch::error::RecvError> {
    link.wait_for(|l| *l == Link::Open).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// An echo server standing in for the Redis endpoint.
    async fn echo() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    while let Ok(n @ 1..) = s.read(&mut buf).await {
                        if s.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    async fn round_trip(s: &mut TcpStream, msg: &[u8], limit: Duration) -> Option<Vec<u8>> {
        s.write_all(msg).await.unwrap();
        let mut got = vec![0u8; msg.len()];
        tokio::time::timeout(limit, s.read_exact(&mut got))
            .await
            .ok()?
            .ok()?;
        Some(got)
    }

    #[tokio::test]
    async fn a_cut_holds_bytes_without_closing_and_a_heal_delivers_them() {
        let fwd = Forwarder::start("127.0.0.1".parse().unwrap(), echo().await)
            .await
            .unwrap();
        let mut s = TcpStream::connect(fwd.addr).await.unwrap();
        assert_eq!(
            round_trip(&mut s, b"ping", Duration::from_secs(10))
                .await
                .unwrap(),
            b"ping"
        );

        fwd.set(Link::Cut);
        assert_eq!(fwd.link(), Link::Cut);
        // Nothing comes back while cut, and the connection stays open.
        assert_eq!(
            round_trip(&mut s, b"held", Duration::from_millis(300)).await,
            None
        );
        // A new connection is accepted but reaches nothing.
        let mut late = TcpStream::connect(fwd.addr).await.unwrap();
        assert_eq!(
            round_trip(&mut late, b"late", Duration::from_millis(300)).await,
            None
        );

        fwd.set(Link::Open);
        let mut got = vec![0u8; 4];
        tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut got))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            got, b"held",
            "the bytes sent during the cut arrive after the heal"
        );
        tokio::time::timeout(Duration::from_secs(10), late.read_exact(&mut got))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, b"late");
        assert_eq!(
            round_trip(&mut s, b"more", Duration::from_secs(10))
                .await
                .unwrap(),
            b"more"
        );
    }
}
