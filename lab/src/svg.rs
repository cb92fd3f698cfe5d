//! The picture of a run: players connected, updates per second and nodes
//! in the load balancer over time, with every fault marked, so the outage
//! and the recovery show at a glance. Plain SVG, no dependency.

use std::fmt::Write;

use crate::report::ScenarioReport;

const WIDTH: f64 = 960.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const PANEL: f64 = 120.0;
const SMALL_PANEL: f64 = 50.0;
const GAP: f64 = 28.0;

struct Panel {
    top: f64,
    height: f64,
    max: f64,
    label: String,
}

pub fn render(r: &ScenarioReport) -> String {
    let t = &r.timeline;
    let buckets = t.connected.len().max(1);
    let seconds = (buckets as f64 * t.bucket_ms as f64 / 1000.0).max(1.0);
    let plot_w = WIDTH - LEFT - RIGHT;
    let x = |s: f64| LEFT + plot_w * (s / seconds).clamp(0.0, 1.0);
    let bucket_s = t.bucket_ms as f64 / 1000.0;
    let max_updates = t.updates_per_second.iter().copied().fold(1.0, f64::max);
    let panels = [
        Panel {
            top: TOP,
            height: PANEL,
            max: f64::from(r.players.max(1)),
            label: "players connected".into(),
        },
        Panel {
            top: TOP + PANEL + GAP,
            height: PANEL,
            max: max_updates * 1.1,
            label: "updates received / s".into(),
        },
        Panel {
            top: TOP + 2.0 * (PANEL + GAP),
            height: SMALL_PANEL,
            max: 3.0,
            label: "nodes in the load balancer".into(),
        },
    ];
    let height = panels[2].top + SMALL_PANEL + 50.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\" font-family=\"sans-serif\" font-size=\"11\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{LEFT}\" y=\"20\" font-size=\"14\" font-weight=\"bold\">Scenario {} {}: {} players in {} rooms</text>\n",
        r.number,
        r.scenario.name(),
        r.players,
        r.rooms
    );
    let series: [Vec<Option<f64>>; 3] = [
        t.connected.iter().map(|v| Some(f64::from(*v))).collect(),
        t.updates_per_second.iter().map(|v| Some(*v)).collect(),
        t.nodes_in_service
            .iter()
            .map(|v| v.map(f64::from))
            .collect(),
    ];
    for (panel, values) in panels.iter().zip(series.iter()) {
        frame(&mut svg, panel, plot_w);
        let y = |v: f64| panel.top + panel.height * (1.0 - (v / panel.max).clamp(0.0, 1.0));
        // Steps, not slopes: each bucket holds its value for its whole width.
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                let (from, to) = (x(i as f64 * bucket_s), x((i + 1) as f64 * bucket_s));
                v.map(|v| format!("{from:.1},{:.1} {to:.1},{:.1}", y(v), y(v)))
            })
            .collect();
        let _ = writeln!(
            svg,
            "<polyline fill=\"none\" stroke=\"#1f6fb2\" stroke-width=\"1.5\" points=\"{}\"/>",
            points.join(" ")
        );
    }
    let bottom = panels[2].top + SMALL_PANEL;
    for s in (0..=seconds as u64).step_by(tick_step(seconds)) {
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{s} s</text>",
            x(s as f64),
            bottom + 14.0
        );
    }
    for (i, m) in r.marks.iter().enumerate() {
        let mx = x(m.at_ms / 1000.0);
        let color = if m.episode { "#c0392b" } else { "#e67e22" };
        let _ = writeln!(
            svg,
            "<line x1=\"{mx:.1}\" y1=\"{TOP}\" x2=\"{mx:.1}\" y2=\"{bottom}\" stroke=\"{color}\" stroke-dasharray=\"4 3\"/>\n\
             <text x=\"{:.1}\" y=\"{:.1}\" fill=\"{color}\">{}</text>",
            mx + 3.0,
            bottom + 28.0 + 12.0 * (i % 2) as f64,
            escape(&m.label)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn frame(svg: &mut String, p: &Panel, plot_w: f64) {
    let _ = writeln!(
        svg,
        "<rect x=\"{LEFT}\" y=\"{}\" width=\"{plot_w}\" height=\"{}\" fill=\"#f7f7f7\" stroke=\"#999\"/>\n\
         <text x=\"{LEFT}\" y=\"{:.1}\" fill=\"#333\">{}</text>\n\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{:.0}</text>\n\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">0</text>",
        p.top,
        p.height,
        p.top - 4.0,
        escape(&p.label),
        LEFT - 4.0,
        p.top + 10.0,
        p.max,
        LEFT - 4.0,
        p.top + p.height,
    );
}

fn tick_step(seconds: f64) -> usize {
    match seconds {
        s if s <= 20.0 => 2,
        s if s <= 60.0 => 5,
        s if s <= 180.0 => 15,
        _ => 30,
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
