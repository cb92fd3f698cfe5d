//! Process-wide counters and tick-phase histograms, rendered in the Prometheus
//! text format at /metrics. Lock-free: rooms record from their own tasks.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// The parts of one room step, timed separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Inputs,
    Bots,
    Physics,
    Collisions,
    Timers,
    Encode,
    /// Copying the world for a snapshot (encoding and writing happen elsewhere).
    Snapshot,
}

impl Phase {
    pub const ALL: [Phase; 7] = [
        Phase::Inputs,
        Phase::Bots,
        Phase::Physics,
        Phase::Collisions,
        Phase::Timers,
        Phase::Encode,
        Phase::Snapshot,
    ];

    fn name(self) -> &'static str {
        match self {
            Phase::Inputs => "inputs",
            Phase::Bots => "bots",
            Phase::Physics => "physics",
            Phase::Collisions => "collisions",
            Phase::Timers => "timers",
            Phase::Encode => "encode",
            Phase::Snapshot => "snapshot",
        }
    }
}

/// Upper bounds in microseconds; the last bucket is +Inf.
const BUCKETS_US: [u64; 12] = [
    5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 16_667,
];

#[derive(Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS_US.len()],
    count: AtomicU64,
    sum_ns: AtomicU64,
}

impl Histogram {
    /// Mean of everything recorded (zero before the first record).
    pub fn mean(&self) -> Duration {
        let count = self.count.load(Relaxed);
        Duration::from_nanos(self.sum_ns.load(Relaxed).checked_div(count).unwrap_or(0))
    }

    pub fn record(&self, d: Duration) {
        let us = d.as_micros() as u64;
        if let Some(i) = BUCKETS_US.iter().position(|&b| us <= b) {
            self.buckets[i].fetch_add(1, Relaxed);
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_ns.fetch_add(d.as_nanos() as u64, Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (bound, bucket) in BUCKETS_US.iter().zip(&self.buckets) {
            cumulative += bucket.load(Relaxed);
            let le = *bound as f64 / 1e6;
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
        }
        let count = self.count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
        let sum = self.sum_ns.load(Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
    }
}

#[derive(Default)]
pub struct Gauge(AtomicU64);

impl Gauge {
    pub fn inc(&self) {
        self.0.fetch_add(1, Relaxed);
    }
    pub fn dec(&self) {
        self.0.fetch_sub(1, Relaxed);
    }
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Relaxed);
    }
    pub fn sub(&self, n: u64) {
        self.0.fetch_sub(n, Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

#[derive(Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

#[derive(Default)]
pub struct Metrics {
    phases: [Histogram; Phase::ALL.len()],
    pub step: Histogram,
    pub steps: Counter,
    pub ticks_skipped: Counter,
    pub rooms: Gauge,
    pub players: Gauge,
    pub connections: Gauge,
    pub connections_refused: Counter,
    pub updates_sent: Counter,
    pub updates_dropped: Counter,
    pub bytes_sent: Counter,
    pub inputs_accepted: Counter,
    pub inputs_dropped: Counter,
    pub bad_frames: Counter,
}

impl Metrics {
    pub fn phase(&self, phase: Phase) -> &Histogram {
        &self.phases[phase as usize]
    }

    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str(
            "# HELP spaaace_tick_phase_seconds Time spent in each phase of a room step.\n",
        );
        out.push_str("# TYPE spaaace_tick_phase_seconds histogram\n");
        for phase in Phase::ALL {
            let labels = format!("phase=\"{}\"", phase.name());
            self.phase(phase)
                .render(&mut out, "spaaace_tick_phase_seconds", &labels);
        }
        out.push_str("# HELP spaaace_step_seconds Time of a whole room step, encode included.\n");
        out.push_str("# TYPE spaaace_step_seconds histogram\n");
        self.step
            .render(&mut out, "spaaace_step_seconds", "all=\"1\"");
        let counters: [(&str, &str, u64); 9] = [
            ("spaaace_steps_total", "Room steps run.", self.steps.get()),
            (
                "spaaace_ticks_skipped_total",
                "Ticks skipped because a room fell behind.",
                self.ticks_skipped.get(),
            ),
            (
                "spaaace_connections_refused_total",
                "WebSocket connections refused at the connection limit.",
                self.connections_refused.get(),
            ),
            (
                "spaaace_updates_sent_total",
                "Update frames queued to players.",
                self.updates_sent.get(),
            ),
            (
                "spaaace_updates_dropped_total",
                "Updates dropped for players whose send queue was full.",
                self.updates_dropped.get(),
            ),
            (
                "spaaace_sent_bytes_total",
                "Bytes of WebSocket payload sent.",
                self.bytes_sent.get(),
            ),
            (
                "spaaace_inputs_accepted_total",
                "Input messages passed to rooms.",
                self.inputs_accepted.get(),
            ),
            (
                "spaaace_inputs_dropped_total",
                "Input messages dropped by the rate limit or a full room queue.",
                self.inputs_dropped.get(),
            ),
            (
                "spaaace_bad_frames_total",
                "Client frames refused as protocol violations.",
                self.bad_frames.get(),
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        }
        let gauges = [
            ("spaaace_rooms", "Rooms running.", self.rooms.get()),
            (
                "spaaace_players",
                "Players in rooms, connected or within reconnect grace.",
                self.players.get(),
            ),
            (
                "spaaace_connections",
                "Open WebSocket connections.",
                self.connections.get(),
            ),
        ];
        for (name, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.phase(Phase::Bots).record(Duration::from_micros(3));
        m.phase(Phase::Bots).record(Duration::from_micros(40));
        m.phase(Phase::Bots).record(Duration::from_secs(1));
        let text = m.render();
        assert!(
            text.contains("spaaace_tick_phase_seconds_bucket{phase=\"bots\",le=\"0.000005\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("spaaace_tick_phase_seconds_bucket{phase=\"bots\",le=\"0.00005\"} 2\n")
        );
        assert!(text.contains("spaaace_tick_phase_seconds_bucket{phase=\"bots\",le=\"+Inf\"} 3\n"));
        assert!(text.contains("spaaace_tick_phase_seconds_count{phase=\"encode\"} 0\n"));
    }
}
