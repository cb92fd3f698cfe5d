//! A TCP forwarder standing in for ElastiCache's primary endpoint name: new
//! connections go to whichever Redis is primary now (`point_to`), while
//! connections made before stay on the one they reached, as after a DNS
//! move. Plain threads, one pair per connection.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

pub struct Forwarder {
    pub port: u16,
    target: Arc<AtomicU16>,
    stopped: Arc<AtomicBool>,
    /// Both ends of every connection piped so far.
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Forwarder {
    pub fn start(target: u16) -> Forwarder {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the forwarder");
        let port = listener.local_addr().unwrap().port();
        let target = Arc::new(AtomicU16::new(target));
        let stopped = Arc::new(AtomicBool::new(false));
        let open = Arc::new(Mutex::new(Vec::new()));
        let (to, stop, piped) = (target.clone(), stopped.clone(), open.clone());
        thread::spawn(move || {
            for client in listener.incoming() {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(client) = client else { continue };
                let port = to.load(Ordering::Relaxed);
                if let Ok(upstream) = TcpStream::connect(("127.0.0.1", port)) {
                    let mut open = piped.lock().unwrap();
                    open.extend(
                        [client.try_clone(), upstream.try_clone()]
                            .into_iter()
                            .flatten(),
                    );
                    pipe(client, upstream);
                }
            }
        });
        Forwarder {
            port,
            target,
            stopped,
            open,
        }
    }

    /// Drops every connection made so far (a network cut).
    pub fn cut(&self) {
        for stream in self.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Where new connections go from now on.
    pub fn point_to(&self, port: u16) {
        self.target.store(port, Ordering::Relaxed);
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::Relaxed);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn pipe(a: TcpStream, b: TcpStream) {
    let (a2, b2) = (a.try_clone().unwrap(), b.try_clone().unwrap());
    thread::spawn(move || copy(a, b2));
    thread::spawn(move || copy(b, a2));
}

fn copy(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}
