//! What the bench reads from outside the processes it measures: their CPU
//! time from /proc (user + system, all threads), a server's /metrics
//! counters, and the machine's load average.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// User plus system CPU time of process `pid` so far, all its threads; None
/// once it is gone.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: fields count from after its ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_secs_f64(ticks as f64 / clock_ticks()))
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf reads a constant of the running system.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as f64
    } else {
        100.0
    }
}

/// Resident memory of process `pid`, in MiB.
pub fn resident_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// The one-minute load average.
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// The counters of a server's /metrics the bench reports.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    pub steps: f64,
    pub ticks_skipped: f64,
    pub updates_sent: f64,
    pub updates_dropped: f64,
    pub inputs_accepted: f64,
    pub inputs_dropped: f64,
    pub players: f64,
    pub connections: f64,
    pub rooms_owned: f64,
    pub relay_dropped: f64,
}

impl Counters {
    /// Reads http://`addr`/metrics (`addr` as host:port); None when it does not answer.
    pub fn read(addr: &str) -> Option<Counters> {
        let body = http_get(addr, "/metrics")?;
        let get = |name: &str| {
            body.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
                .unwrap_or(0.0)
        };
        Some(Counters {
            steps: get("spaaace_steps_total"),
            ticks_skipped: get("spaaace_ticks_skipped_total"),
            updates_sent: get("spaaace_updates_sent_total"),
            updates_dropped: get("spaaace_updates_dropped_total"),
            inputs_accepted: get("spaaace_inputs_accepted_total"),
            inputs_dropped: get("spaaace_inputs_dropped_total"),
            players: get("spaaace_players"),
            connections: get("spaaace_connections"),
            rooms_owned: get("spaaace_rooms_owned"),
            relay_dropped: get("spaaace_relay_dropped_total"),
        })
    }

    /// What the counters grew by since `before`.
    pub fn since(&self, before: &Counters) -> Counters {
        Counters {
            steps: self.steps - before.steps,
            ticks_skipped: self.ticks_skipped - before.ticks_skipped,
            updates_sent: self.updates_sent - before.updates_sent,
            updates_dropped: self.updates_dropped - before.updates_dropped,
            inputs_accepted: self.inputs_accepted - before.inputs_accepted,
            inputs_dropped: self.inputs_dropped - before.inputs_dropped,
            players: self.players,
            connections: self.connections,
            rooms_owned: self.rooms_owned,
            relay_dropped: self.relay_dropped - before.relay_dropped,
        }
    }
}

/// A plain HTTP/1.1 GET's body; None when nothing answers or the status is not 200.
pub fn http_get(addr: &str, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_string())
}
