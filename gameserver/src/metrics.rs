//! Process-wide counters and tick-phase histograms, rendered in the Prometheus
//! text format at /metrics. Lock-free: rooms record from their own tasks.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::sim::StepPhase;

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

impl From<StepPhase> for Phase {
    fn from(phase: StepPhase) -> Phase {
        match phase {
            StepPhase::Inputs => Phase::Inputs,
            StepPhase::Bots => Phase::Bots,
            StepPhase::Physics => Phase::Physics,
            StepPhase::Collisions => Phase::Collisions,
            StepPhase::Timers => Phase::Timers,
        }
    }
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

/// Durations too long for the step histogram's buckets: their sum and count
/// (a Prometheus summary without quantiles).
#[derive(Default)]
pub struct Summary {
    count: AtomicU64,
    sum_ns: AtomicU64,
}

impl Summary {
    pub fn record(&self, d: Duration) {
        self.count.fetch_add(1, Relaxed);
        self.sum_ns
            .fetch_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX), Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} summary");
        let sum = self.sum_ns.load(Relaxed) as f64 / 1e9;
        let _ = writeln!(
            out,
            "{name}_sum {sum}\n{name}_count {}",
            self.count.load(Relaxed)
        );
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
    /// Rooms whose lease this node holds (a subset of `rooms`).
    pub rooms_owned: Gauge,
    /// Players of rooms owned here whose sockets are on other nodes.
    pub players_relayed_in: Gauge,
    /// Sockets here playing rooms owned by other nodes.
    pub players_relayed_out: Gauge,
    pub lease_renewals: Counter,
    pub lease_losses: Counter,
    pub fenced_writes_refused: Counter,
    /// Relay messages not published (queue full, or Redis did not take them).
    pub relay_dropped: Counter,
    pub takeovers: Counter,
    /// From the last word of the old owner to the new owner's room running.
    pub takeover: Summary,
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
        let counters: [(&str, &str, u64); 14] = [
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
            (
                "spaaace_lease_renewals_total",
                "Room leases renewed in Redis.",
                self.lease_renewals.get(),
            ),
            (
                "spaaace_lease_losses_total",
                "Rooms this node found taken over by another node.",
                self.lease_losses.get(),
            ),
            (
                "spaaace_fenced_writes_refused_total",
                "Snapshot writes Redis refused because another node owns the room.",
                self.fenced_writes_refused.get(),
            ),
            (
                "spaaace_relay_dropped_total",
                "Messages between nodes dropped (queue full or Redis unreachable).",
                self.relay_dropped.get(),
            ),
            (
                "spaaace_takeovers_total",
                "Rooms this node took over from a dead or departing owner.",
                self.takeovers.get(),
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        }
        let gauges = [
            (
                "spaaace_rooms",
                "Rooms on this node: run here or relayed to their owner.",
                self.rooms.get(),
            ),
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
            (
                "spaaace_rooms_owned",
                "Rooms whose lease this node holds.",
                self.rooms_owned.get(),
            ),
            (
                "spaaace_players_relayed_in",
                "Players of rooms owned here connected through other nodes.",
                self.players_relayed_in.get(),
            ),
            (
                "spaaace_players_relayed_out",
                "Sockets here playing rooms owned by other nodes.",
                self.players_relayed_out.get(),
            ),
        ];
        for (name, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        self.takeover.render(
            &mut out,
            "spaaace_takeover_seconds",
            "From the old owner's last message to the new owner's room running, per takeover.",
        );
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
