//! `spaaace-lab up` as a user runs it: it prints where to play, a scenario
//! runs against it through its control socket, and when it stops (ctrl-c,
//! SIGTERM, even SIGKILL) every process it started is gone.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{gameserver, ScratchDir};

const LIMIT: Duration = Duration::from_secs(120);

fn up(dir: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_spaaace-lab"))
        .args(["up", "--port", "0", "--redispatch", "false", "--dir"])
        .arg(dir)
        .arg("--gameserver")
        .arg(gameserver())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start spaaace-lab up");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut url = None;
    for line in lines.by_ref() {
        let line = line.expect("read spaaace-lab's output");
        if let Some(rest) = line.trim().strip_prefix("play:") {
            url = Some(rest.trim().to_string());
        }
        if line.starts_with("ctrl-c stops") {
            break;
        }
    }
    // Keep draining so the lab never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, url.expect("spaaace-lab up prints where to play"))
}

/// Processes whose parent is `pid`, and whether each still runs.
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| stat(*p).is_some_and(|(_, ppid)| ppid == pid))
        .collect()
}

/// (state, parent pid) from /proc/PID/stat; None once the process is gone.
fn stat(pid: u32) -> Option<(char, u32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &text[text.rfind(')')? + 2..];
    let mut fields = after_name.split_whitespace();
    let state = fields.next()?.chars().next()?;
    Some((state, fields.next()?.parse().ok()?))
}

fn all_gone(pids: &[u32]) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        // A killed child whose new parent does not reap it stays a zombie: it runs nothing.
        let alive: Vec<u32> = pids
            .iter()
            .copied()
            .filter(|p| stat(*p).is_some_and(|(s, _)| s != 'Z'))
            .collect();
        if alive.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "still running after the lab stopped: {alive:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn up_serves_a_rehearsal_and_leaves_nothing_running() {
    let dir = ScratchDir::new("cli-up");
    let (mut lab, url) = up(&dir.0);
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("?room=NAME"),
        "{url}"
    );
    // Redis primary and replica, three Sentinels, two HAProxies, three nodes.
    let started = children(lab.id());
    assert_eq!(started.len(), 10, "{started:?}");

    let out = dir.0.join("report");
    let run = Command::new(env!("CARGO_BIN_EXE_spaaace-lab"))
        .args([
            "run",
            "crash",
            "--players",
            "6",
            "--rooms",
            "1",
            "--room-affinity",
            "--lab",
        ])
        .arg(&dir.0)
        .arg("--out")
        .arg(&out)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run a scenario against the lab");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{}\n{}",
        stdout,
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("| 1 crash | 6 | 6 |"), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("1-crash.json")).unwrap()).unwrap();
    assert_eq!(report["summary"]["resumed_as_themselves"], 6);
    assert_eq!(report["per_player"].as_array().unwrap().len(), 6);
    let svg = std::fs::read_to_string(out.join("1-crash.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("kill -9 node a"));
    // The crashed node was started again by the scenario: the lab is whole.
    assert_eq!(children(lab.id()).len(), 10);

    // SIGTERM, as ctrl-c: the lab stops everything and exits cleanly.
    unsafe { libc::kill(lab.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(status) = lab.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "spaaace-lab up did not stop");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status}");
    all_gone(&started);
}

#[test]
fn a_killed_lab_takes_its_processes_with_it() {
    let dir = ScratchDir::new("cli-kill");
    let (mut lab, _) = up(&dir.0);
    let started = children(lab.id());
    assert_eq!(started.len(), 10, "{started:?}");
    lab.kill().unwrap();
    lab.wait().unwrap();
    all_gone(&started);
}

#[test]
fn a_scenario_without_a_lab_says_so() {
    let dir = ScratchDir::new("cli-nolab");
    std::fs::create_dir_all(&dir.0).unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_spaaace-lab"))
        .args(["run", "crash", "--lab"])
        .arg(&dir.0)
        .output()
        .unwrap();
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("is `spaaace-lab up` running there?"),
        "{stderr}"
    );
}
