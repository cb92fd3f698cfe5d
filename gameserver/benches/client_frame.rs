//! Prints the browser client's frame time in headless chromium (software
//! rendering) with 10 and 200 ships in the room (all but one bots, steering
//! and firing): the page's own mean JavaScript time per animation frame
//! (update and canvas drawing), its frame rate and the ships it drew. With
//! `sound` the page got a click first, so every shot within earshot is
//! synthesized too. Figures, not assertions; read them as ratios between rows
//! of one run. `-- --binary PATH` measures another build of the server (and
//! the client it embeds), e.g. an older one, for a before and after; `-- 200`
//! one size.

#[path = "../tests/cdp/mod.rs"]
#[allow(dead_code)]
mod cdp;

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cdp::{Chromium, Page};
use serde_json::Value;

const SIZES: [u32; 2] = [10, 200];
const LIMIT: Duration = Duration::from_secs(60);
/// Bots start at rest and the page's averages need a moment.
const WARMUP: Duration = Duration::from_secs(3);
const SAMPLES: usize = 40;
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(binary: &str, bots: u32) -> (Server, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let child = Command::new(binary)
        .args(["--bots", &bots.to_string(), "--bind", "127.0.0.1"])
        .env("PORT", port.to_string())
        .env("REDIS_ENABLED", "false")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {binary}: {e}"));
    let server = Server(child);
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < LIMIT, "{binary} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
    (server, port)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn measure(chromium: &Chromium, binary: &str, ships: u32, sound: bool) -> String {
    let (_server, port) = start_server(binary, ships - 1);
    let page = Page::open(chromium.ws_url(), 1280, 720)
        .await
        .expect("opening a tab");
    page.navigate(&format!("http://127.0.0.1:{port}/?room=frame&name=Bench"))
        .await
        .expect("navigating");
    page.wait_for_state(
        "the page to see every ship",
        &format!("s.connected && s.ships >= {ships}"),
        LIMIT,
    )
    .await;
    if sound {
        page.click(640.0, 360.0).await.expect("clicking the canvas");
    }
    tokio::time::sleep(WARMUP).await;
    let (mut frame_ms, mut fps, mut drawn) = (vec![], vec![], vec![]);
    let first = page.eval("window.spaaace.state()").await.expect("state");
    for _ in 0..SAMPLES {
        let s = page.eval("window.spaaace.state()").await.expect("state");
        let get = |k: &str| s[k].as_f64().unwrap_or(f64::NAN);
        frame_ms.push(get("frameMs"));
        fps.push(get("fps"));
        drawn.push(get("drawnShips"));
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
    let last = page.eval("window.spaaace.state()").await.expect("state");
    let played = |s: &Value| s.pointer("/audio/played/fire").and_then(Value::as_f64);
    let shots = match (played(&first), played(&last)) {
        (Some(a), Some(b)) => format!("{}", b - a),
        _ => "-".into(),
    };
    format!(
        "{ships:>5} {:>6} {:>9.3} {:>5.0} {:>6.0} {shots:>12}",
        if sound { "on" } else { "off" },
        median(frame_ms),
        median(fps),
        median(drawn),
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let binary = args
        .iter()
        .position(|a| a == "--binary")
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_gameserver").to_string());
    // A number picks a size, e.g. `cargo bench --bench client_frame -- 200`.
    let picked: Vec<u32> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let sizes = SIZES
        .into_iter()
        .filter(|n| picked.is_empty() || picked.contains(n));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let chromium = Chromium::launch().unwrap_or_else(|e| panic!("{e}"));
    println!("Spaaace browser client frame time (headless chromium, software canvas, 1280x720)");
    println!("server: {binary}");
    println!("ships  sound  frame ms   fps  drawn  shots heard");
    for ships in sizes {
        for sound in [false, true] {
            let row = runtime.block_on(measure(&chromium, &binary, ships, sound));
            println!("{row}");
        }
    }
}
