//! The browser client in Debian's headless chromium against the real server:
//! the page loads, draws, joins and flies on a key press or a touch; a player
//! speaking the protocol from Rust sees the same moves and can shoot the page's
//! ship down (explosion, "try again", Enter); the page resumes by its token,
//! pauses when another connection takes its player, reconnects by itself after a
//! restart, gives up on a refused room; and its JavaScript decoder reads what the
//! Rust encoder writes. `-- --nocapture` prints the prediction and frame figures;
//! the screenshots land in /tmp/spaaace.png and /tmp/spaaace-destroyed.png.

mod cdp;
mod common;

use cdp::{Chromium, Page};
use common::GameServer;
use futures_util::{SinkExt, StreamExt};
use gameserver::protocol::{
    ClientMessage, Constants, Join, MirrorShip, MovedShip, NewMissile, NewShip, ScoreRow,
    ServerMessage, ShipMotion, UpdateBody, UpdateKind, Welcome, WorldMirror,
};
use gameserver::sim::Input;
use serde_json::Value;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// Bound on every wait for the page or the server (a loaded 2-core machine is slow).
const LIMIT: Duration = Duration::from_secs(20);
const WORLD: f64 = 3000.0;
const SCREENSHOT: &str = "/tmp/spaaace.png";

fn launch_chromium() -> Chromium {
    Chromium::launch().unwrap_or_else(|e| panic!("{e}"))
}

async fn open_page(chromium: &Chromium, url: &str) -> Page {
    let page = Page::open(chromium.ws_url(), 1280, 720)
        .await
        .unwrap_or_else(|e| panic!("opening a tab: {e}"));
    page.navigate(url)
        .await
        .unwrap_or_else(|e| panic!("navigating to {url}: {e}"));
    page
}

/// Shortest signed difference b - a across the wrapping world edge.
fn ring_delta(a: f64, b: f64) -> f64 {
    let d = (b - a).rem_euclid(WORLD);
    if d >= WORLD / 2.0 {
        d - WORLD
    } else {
        d
    }
}

fn num(v: &Value, pointer: &str) -> f64 {
    v.pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("client state has no number at {pointer}: {v}"))
}

const JOINED: &str = "(() => { const s = window.spaaace && window.spaaace.state();
  return s && s.connected && s.shipId > 0 && s.serverShip && s.name ? s : null; })()";

/// Counts lit pixels on the whole canvas and own-ship-cyan pixels around its centre,
/// where the camera keeps the own ship.
const CANVAS_DRAWN: &str = "(() => {
  const c = document.getElementById('game');
  const g = c.getContext('2d');
  const all = g.getImageData(0, 0, c.width, c.height).data;
  let lit = 0;
  for (let i = 0; i < all.length; i += 4) if (all[i] + all[i + 1] + all[i + 2] > 90) lit++;
  const r = 40;
  const mid = g.getImageData((c.width >> 1) - r, (c.height >> 1) - r, 2 * r, 2 * r).data;
  let own = 0;
  for (let i = 0; i < mid.length; i += 4) if (mid[i] < 140 && mid[i + 1] > 170 && mid[i + 2] > 200) own++;
  return lit > 500 && own > 120 ? { lit, own } : null; })()";

/// A second player speaking the protocol directly: it keeps its own copy of the room
/// from the server's updates, independent of the page's JavaScript decoder, and can
/// hunt a ship down.
struct Observer {
    mirror: Arc<Mutex<WorldMirror>>,
    ship: Arc<AtomicU32>,
    out: mpsc::UnboundedSender<Vec<u8>>,
    tasks: [tokio::task::JoinHandle<()>; 2],
    seq: u32,
}

impl Observer {
    async fn join(url: &str, room: &str) -> Observer {
        Self::join_with_token(url, room, "").await
    }

    async fn join_with_token(url: &str, room: &str, token: &str) -> Observer {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .unwrap_or_else(|e| panic!("observer connecting to {url}: {e}"));
        let (mut tx, mut rx) = ws.split();
        let (out, mut outgoing) = mpsc::unbounded_channel::<Vec<u8>>();
        let writer = tokio::spawn(async move {
            while let Some(frame) = outgoing.recv().await {
                if tx.send(Message::binary(frame)).await.is_err() {
                    break;
                }
            }
        });
        let mirror = Arc::new(Mutex::new(WorldMirror::default()));
        let ship = Arc::new(AtomicU32::new(0));
        let (shared, own_ship) = (mirror.clone(), ship.clone());
        let reader = tokio::spawn(async move {
            while let Some(Ok(msg)) = rx.next().await {
                let Message::Binary(frame) = msg else {
                    continue;
                };
                match ServerMessage::decode(&frame) {
                    Ok(ServerMessage::Update { body, .. }) => {
                        if let Err(e) = shared.lock().expect("mirror lock").apply(&body) {
                            panic!("observer: server update does not fit the mirror: {e}");
                        }
                    }
                    Ok(ServerMessage::Welcome(w)) => own_ship.store(w.ship_id, Ordering::Relaxed),
                    Ok(ServerMessage::YourShip { ship_id }) => {
                        own_ship.store(ship_id, Ordering::Relaxed)
                    }
                    Ok(_) => {}
                    Err(e) => panic!("observer: undecodable server frame: {e}"),
                }
            }
        });
        let join = ClientMessage::Join(Join {
            room: room.into(),
            name: "Observer".into(),
            token: token.into(),
        });
        out.send(join.encode()).expect("observer writer running");
        Observer {
            mirror,
            ship,
            out,
            tasks: [writer, reader],
            seq: 0,
        }
    }

    fn assert_connected(&self, what: &str) {
        assert!(
            self.tasks.iter().all(|t| !t.is_finished()),
            "observer connection ended while waiting for {what}"
        );
    }

    /// Polls the mirror until `pred` holds for the ship `id` (bounded by LIMIT).
    async fn wait_ship(&self, what: &str, id: u32, pred: impl Fn(f64, f64) -> bool) -> (f64, f64) {
        let start = Instant::now();
        loop {
            if let Some(s) = self.mirror.lock().expect("mirror lock").ships.get(&id) {
                if pred(s.x, s.y) {
                    return (s.x, s.y);
                }
            }
            self.assert_connected(what);
            assert!(
                start.elapsed() < LIMIT,
                "timed out after {LIMIT:?} waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Flies at the ship `target` and fires until it is gone. Steers once per server
    /// update, from the positions the server confirmed, with the three inputs the
    /// update interval allows (60 per second).
    async fn hunt(&mut self, target: u32, limit: Duration) {
        let start = Instant::now();
        let mut last_step = u32::MAX;
        loop {
            let (me, them, step) = {
                let m = self.mirror.lock().expect("mirror lock");
                let me = m.ships.get(&self.ship.load(Ordering::Relaxed)).copied();
                (me, m.ships.get(&target).copied(), m.step)
            };
            if them.is_none() && step != 0 {
                return;
            }
            self.assert_connected("the hunt");
            assert!(
                start.elapsed() < limit,
                "the observer did not hit ship {target} within {limit:?}"
            );
            if let (Some(me), Some(them), true) = (me, them, step != last_step) {
                last_step = step;
                self.steer(&me, &them);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn steer(&mut self, me: &MirrorShip, them: &MirrorShip) {
        let (dx, dy) = (ring_delta(me.x, them.x), ring_delta(me.y, them.y));
        let dist = dx.hypot(dy);
        let off = (dy.atan2(dx).to_degrees() - me.angle + 540.0).rem_euclid(360.0) - 180.0;
        let turns = (off.abs() / 2.5).round().min(3.0) as usize;
        for i in 0..3 {
            let input = Input {
                left: i < turns && off < 0.0,
                right: i < turns && off > 0.0,
                up: off.abs() < 30.0 && dist > 220.0,
                fire: off.abs() < 4.0 && dist < 330.0,
            };
            if input != Input::default() {
                self.seq += 1;
                let msg = ClientMessage::Input {
                    seq: self.seq,
                    input,
                };
                self.out
                    .send(msg.encode())
                    .expect("observer writer running");
            }
        }
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_draws_joins_and_flies_the_own_ship_on_arrow_up() {
    let chromium = launch_chromium();
    let server = GameServer::start(&["--bots", "0"], &[]);
    let page = open_page(&chromium, &server.http_url("/?room=browser&name=Tester")).await;

    let joined = page
        .wait_for("the page to join with a ship", JOINED, LIMIT)
        .await;
    assert_eq!(
        joined["name"], "Tester",
        "the ?name= parameter reaches the scoreboard"
    );
    assert_eq!(joined["room"], "browser");
    let ship_id = num(&joined, "/shipId") as u32;
    let drawn = page
        .wait_for("the canvas to draw the own ship", CANVAS_DRAWN, LIMIT)
        .await;
    eprintln!("canvas: {drawn}");

    let observer = Observer::join(&server.ws_url(), "browser").await;
    let (x0, y0) = observer
        .wait_ship("the observer to see the page's ship", ship_id, |_, _| true)
        .await;
    let seen = page
        .wait_for(
            "the page to show the observer's ship",
            "(() => { const s = window.spaaace.state(); return s.ships === 2 ? s : null; })()",
            LIMIT,
        )
        .await;
    // No bots and no input yet: the ship has not moved since it spawned.
    assert!(
        (num(&seen, "/serverShip/x") - x0).abs() < 0.1,
        "page and observer agree on x: {seen}"
    );
    assert!(
        (num(&seen, "/serverShip/y") - y0).abs() < 0.1,
        "page and observer agree on y: {seen}"
    );

    page.key("keyDown", "ArrowUp")
        .await
        .expect("pressing ArrowUp");
    let moved = page
        .wait_for(
            "the server to move the own ship after ArrowUp",
            &format!(
                "(() => {{ const s = window.spaaace.state(); if (!s.serverShip || s.lastInputSeq === 0) return null;
                  const d = (a, b) => {{ let v = (b - a) % {WORLD}; if (v >= {WORLD} / 2) v -= {WORLD}; if (v < -{WORLD} / 2) v += {WORLD}; return v; }};
                  return Math.hypot(d({x0}, s.serverShip.x), d({y0}, s.serverShip.y)) > 5 ? s : null; }})()"
            ),
            LIMIT,
        )
        .await;
    page.screenshot(Path::new(SCREENSHOT))
        .await
        .expect("screenshot");
    // A new ship points along +y (angle 90), so thrust moves it down, not sideways.
    let (dx, dy) = (
        ring_delta(x0, num(&moved, "/serverShip/x")),
        ring_delta(y0, num(&moved, "/serverShip/y")),
    );
    assert!(
        dy > 5.0 && dx.abs() < 0.5,
        "thrust moved the ship by ({dx}, {dy}): {moved}"
    );
    assert!(num(&moved, "/inputSeq") >= num(&moved, "/lastInputSeq"));
    // The page draws its own ship where it predicts it, which moves the same way.
    let shown = page
        .wait_for(
            "the page's predicted ship to move down",
            &format!(
                "(() => {{ const s = window.spaaace.state(); if (!s.myShip) return null;
                  let d = (s.myShip.y - {y0}) % {WORLD}; if (d < 0) d += {WORLD};
                  return d > 5 && d < {WORLD} / 2 ? s.myShip : null; }})()"
            ),
            LIMIT,
        )
        .await;
    assert!(
        ring_delta(x0, num(&shown, "/x")).abs() < 0.5,
        "predicted ship moved sideways: {shown}"
    );

    // The observer, decoding with the Rust codec, sees the same move.
    let (x1, y1) = observer
        .wait_ship("the observer to see the ship move down", ship_id, |_, y| {
            ring_delta(y0, y) > 5.0
        })
        .await;
    assert!(
        ring_delta(x0, x1).abs() < 0.5,
        "observer saw a sideways move to ({x1}, {y1})"
    );

    // Two more seconds of inputs, turning while thrusting, to measure the prediction.
    page.key("keyDown", "ArrowLeft")
        .await
        .expect("pressing ArrowLeft");
    let until = num(&moved, "/inputSeq") + 120.0;
    page.wait_for(
        "120 more inputs",
        &format!("window.spaaace.state().inputSeq >= {until}"),
        LIMIT,
    )
    .await;
    page.key("keyUp", "ArrowLeft")
        .await
        .expect("releasing ArrowLeft");
    page.key("keyUp", "ArrowUp")
        .await
        .expect("releasing ArrowUp");
    let settled = page
        .wait_for(
            "the server to apply every input",
            "(() => { const s = window.spaaace.state(); return s.keys === 0 && s.pendingInputs === 0 && s.lastInputSeq === s.inputSeq ? s : null; })()",
            LIMIT,
        )
        .await;
    assert_eq!(
        settled["serverError"],
        Value::Null,
        "holding keys stays within the server's input rate: {settled}"
    );
    eprintln!(
        "figures: prediction corrections {} (mean {} units, max {} units), frame {} ms, {} fps, rtt {} ms",
        settled["prediction"]["corrections"],
        settled["prediction"]["meanUnits"],
        settled["prediction"]["maxUnits"],
        settled["frameMs"],
        settled["fps"],
        settled["rttMs"]
    );

    let errors = page.errors();
    assert!(errors.is_empty(), "the page logged errors: {errors:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_resumes_with_its_token_and_reconnects_by_itself() {
    let chromium = launch_chromium();
    let mut server = GameServer::start(&["--bots", "0"], &[]);
    let port = server.port;
    let page = open_page(&chromium, &server.http_url("/?room=comeback")).await;
    let first = page.wait_for("the page to join", JOINED, LIMIT).await;
    assert_eq!(first["resumed"], false, "{first}");

    // A reload keeps sessionStorage: the page presents its token and gets its player back.
    page.call("Page.reload", serde_json::json!({}))
        .await
        .expect("reloading");
    let again = page
        .wait_for(
            "the reloaded page to resume its player",
            "(() => { const s = window.spaaace && window.spaaace.state();
               return s && s.connected && s.resumed && s.serverShip ? s : null; })()",
            LIMIT,
        )
        .await;
    assert_eq!(again["playerId"], first["playerId"], "{again}");
    assert_eq!(again["shipId"], first["shipId"], "{again}");

    // Another client presenting the same token takes the player over; the page pauses
    // instead of stealing it back, until asked to play here again.
    let token = page
        .eval("sessionStorage.getItem('spaaace:token:comeback')")
        .await
        .expect("reading the token");
    let token = token
        .as_str()
        .expect("the page keeps its token in sessionStorage");
    let usurper = Observer::join_with_token(&server.ws_url(), "comeback", token).await;
    let paused = page
        .wait_for(
            "the page to pause when taken over",
            "(() => { const s = window.spaaace.state(); return s.status === 'paused' ? s : null; })()",
            LIMIT,
        )
        .await;
    assert_eq!(paused["lastCloseCode"], 1000, "{paused}");
    page.eval("document.getElementById('resume').click()")
        .await
        .expect("clicking Play here");
    let back_here = page
        .wait_for(
            "the page to take its player back",
            "(() => { const s = window.spaaace.state(); return s.connected && s.resumed ? s : null; })()",
            LIMIT,
        )
        .await;
    assert_eq!(back_here["playerId"], first["playerId"], "{back_here}");
    drop(usurper);

    // SIGTERM: the server closes sockets with 4000 and exits; the page retries on its own.
    page.eval("window.samePage = true")
        .await
        .expect("marking the page");
    let term = std::process::Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .expect("running kill");
    assert!(term.success(), "kill -TERM {} failed", server.pid());
    let exit = server
        .child_mut()
        .wait()
        .expect("waiting for the server to exit");
    assert!(exit.success(), "graceful shutdown exits 0, got {exit}");
    page.wait_for(
        "the page to notice the lost server",
        "window.spaaace.state().status === 'reconnecting'",
        LIMIT,
    )
    .await;
    let closed = page
        .eval("window.spaaace.state().lastCloseCode")
        .await
        .expect("reading the close code");
    assert_eq!(
        closed, 4000,
        "a graceful shutdown closes with 4000 (server restarting)"
    );
    let server = GameServer::start_on(port, &["--bots", "0"], &[]);
    let back = page
        .wait_for(
            "the page to reconnect and get a ship again",
            "(() => { const s = window.spaaace.state();
               return window.samePage === true && s.connected && s.reconnects >= 1 && s.shipId > 0 && s.updates > 0 ? s : null; })()",
            LIMIT,
        )
        .await;
    assert_eq!(back["error"], Value::Null, "{back}");

    // A refused room is final: the page shows why instead of retrying.
    let bad = open_page(&chromium, &server.http_url("/?room=no%20spaces!")).await;
    let failed = bad
        .wait_for(
            "the page to give up on an invalid room",
            "(() => { const s = window.spaaace.state(); return s.status === 'failed' ? s : null; })()",
            LIMIT,
        )
        .await;
    let why = failed["error"].as_str().unwrap_or_default();
    assert!(
        why.contains("4004") && why.contains("invalid room"),
        "the error says what failed: {failed}"
    );
    let shown = bad
        .eval("document.getElementById('fatal').hidden ? null : document.getElementById('fatal-text').textContent")
        .await
        .expect("reading the error overlay");
    assert_eq!(shown.as_str(), Some(why), "the overlay shows the error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroyed_ship_explodes_and_enter_flies_again() {
    let chromium = launch_chromium();
    let server = GameServer::start(&["--bots", "0"], &[]);
    let page = open_page(&chromium, &server.http_url("/?room=duel&name=Target")).await;
    let joined = page
        .wait_for("the page to join with a ship", JOINED, LIMIT)
        .await;
    let first_ship = num(&joined, "/shipId") as u32;

    let mut hunter = Observer::join(&server.ws_url(), "duel").await;
    // Crossing the world at top speed takes about 12 s; aiming and firing take a few more.
    hunter.hunt(first_ship, Duration::from_secs(60)).await;

    let dead = page
        .wait_for(
            "the page to show its ship destroyed, with an explosion",
            "(() => { const s = window.spaaace.state();
               return !s.alive && s.shipId === 0 && s.effects > 0 && !document.getElementById('dead').hidden ? s : null; })()",
            LIMIT,
        )
        .await;
    assert_eq!(dead["myShip"], Value::Null, "{dead}");
    let killer = page
        .wait_for(
            "the scoreboard to credit the observer",
            "(() => { const row = [...document.querySelectorAll('#score-rows tr')]
                 .find((tr) => tr.cells[0].textContent === 'Observer');
               return row && row.cells[1].textContent === '1' ? row.textContent : null; })()",
            LIMIT,
        )
        .await;
    eprintln!("scoreboard row: {killer}");
    page.wait_for(
        "the death overlay to name the killer",
        "document.getElementById('killer').textContent === 'by Observer'",
        LIMIT,
    )
    .await;
    page.screenshot(Path::new("/tmp/spaaace-destroyed.png"))
        .await
        .expect("screenshot");

    page.key("keyDown", "Enter").await.expect("pressing Enter");
    page.key("keyUp", "Enter").await.expect("releasing Enter");
    let again = page
        .wait_for(
            "Enter to give the page a new ship",
            &format!(
                "(() => {{ const s = window.spaaace.state();
                   return s.alive && s.shipId > 0 && s.shipId !== {first_ship} && s.serverShip && s.deaths === 1
                     && document.getElementById('dead').hidden ? s : null; }})()"
            ),
            LIMIT,
        )
        .await;
    assert_eq!(again["kills"], 0, "a new ship starts with 0 kills: {again}");

    let errors = page.errors();
    assert!(errors.is_empty(), "the page logged errors: {errors:#?}");
}

/// One frame of every server message type, encoded by the server's own Rust codec,
/// with values that reach multi-byte varints, negative velocities and the thrust bit.
fn server_frames() -> Vec<Vec<u8>> {
    let constants = Constants {
        world_width: 3000,
        world_height: 3000,
        steps_per_second: 60,
        updates_per_second: 20,
        ship_max_speed: 3.0,
        ship_accel: 0.05,
        turn_degrees: 2.5,
        missile_speed: 10.0,
        missile_life_steps: 30,
        fire_cooldown_steps: 15,
        reconnect_grace_seconds: 30,
    };
    let motion = ShipMotion {
        x: 65535,
        y: 1,
        vx: -120,
        vy: 7,
        angle_thrust: 0x8000 | 8192,
    };
    let update = UpdateBody {
        step: 0x0102_0304,
        kind: UpdateKind::Delta,
        new_ships: vec![NewShip {
            id: 300,
            player: 0,
            motion,
        }],
        moved_ships: vec![MovedShip {
            id: 70_000,
            motion: ShipMotion {
                angle_thrust: 16384,
                ..motion
            },
        }],
        new_missiles: vec![NewMissile {
            id: 70_001,
            ship: 300,
            x: 32768,
            y: 0,
            vx: -13_000,
            vy: 250,
        }],
        removed: vec![5, 2_000_000],
    };
    [
        ServerMessage::Welcome(Welcome {
            player_id: 7,
            ship_id: 42,
            token: "tök-1".into(),
            resumed: true,
            step: 123_456,
            constants,
        }),
        ServerMessage::Update {
            last_input_seq: 99,
            body: update,
        },
        ServerMessage::Score(vec![
            ScoreRow {
                ship_id: 300,
                player_id: 0,
                kills: 200,
                deaths: 0,
                name: "ZoëBot".into(),
            },
            ScoreRow {
                ship_id: 42,
                player_id: 7,
                kills: 1,
                deaths: 3,
                name: String::new(),
            },
        ]),
        ServerMessage::Pong { echo: 0xdead_beef },
        ServerMessage::Error {
            code: 4,
            message: "input rate exceeded".into(),
        },
        ServerMessage::YourShip { ship_id: 0 },
        ServerMessage::Killed {
            victim_ship: 12,
            shooter_ship: 70_000,
            shooter_name: "ZoëBot".into(),
        },
    ]
    .iter()
    .map(ServerMessage::encode)
    .collect()
}

/// Decodes the frames, every strict prefix of them, each with a byte too many, and
/// random frames; anything other than a message or a ProtocolError is collected.
const DECODE_ALL: &str = "(frames) => {
  const d = (bytes) => window.spaaace.decode(bytes);
  const wrong = [];
  const refused = (what, bytes) => {
    try { d(bytes); wrong.push(`${what}: accepted`); }
    catch (e) { if (e.name !== 'ProtocolError') wrong.push(`${what}: ${e.name}: ${e.message}`); }
  };
  const decoded = frames.map((f) => d(f));
  frames.forEach((f, i) => {
    for (let n = 0; n < f.length; n++) refused(`frame ${i} cut to ${n}`, f.slice(0, n));
    refused(`frame ${i} plus a byte`, [...f, 0]);
  });
  let seed = 12345;
  const rnd = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  let accepted = 0;
  for (let i = 0; i < 5000; i++) {
    const f = Array.from({ length: rnd(48) }, () => rnd(256));
    if (f.length) f[0] = 0x81 + rnd(8);
    try { d(f); accepted++; }
    catch (e) { if (e.name !== 'ProtocolError') wrong.push(`random ${JSON.stringify(f)}: ${e.name}: ${e.message}`); }
  }
  return { decoded, wrong: wrong.slice(0, 10), accepted };
}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_decoder_reads_what_the_rust_encoder_writes() {
    let chromium = launch_chromium();
    let server = GameServer::start(&["--bots", "0"], &[]);
    let page = open_page(&chromium, &server.http_url("/?room=codec")).await;
    page.wait_for("the page to join", JOINED, LIMIT).await;

    let frames = serde_json::to_string(&server_frames()).expect("frames as JSON");
    let out = page
        .eval(&format!("({DECODE_ALL})({frames})"))
        .await
        .expect("running the decoder");
    assert_eq!(
        out["wrong"],
        serde_json::json!([]),
        "decoder misbehaved: {out}"
    );
    eprintln!("random frames the decoder accepted: {}", out["accepted"]);

    let m = &out["decoded"];
    let welcome = &m[0];
    assert_eq!(welcome["type"], "welcome");
    assert_eq!(
        (welcome["playerId"].clone(), welcome["shipId"].clone()),
        (7.into(), 42.into())
    );
    assert_eq!(
        (welcome["token"].clone(), welcome["resumed"].clone()),
        ("tök-1".into(), true.into())
    );
    assert_eq!(welcome["step"], 123_456);
    let c = &welcome["consts"];
    assert_eq!(
        (c["worldWidth"].clone(), c["updatesPerSecond"].clone()),
        (3000.into(), 20.into())
    );
    assert!((num(c, "/shipAccel") - 0.05).abs() < 1e-6, "{c}");
    assert_eq!(
        (
            c["missileLifeSteps"].clone(),
            c["reconnectGraceSeconds"].clone()
        ),
        (30.into(), 30.into())
    );

    let u = &m[1];
    assert_eq!(
        (u["type"].clone(), u["lastInputSeq"].clone()),
        ("update".into(), 99.into())
    );
    assert_eq!(
        (u["step"].clone(), u["full"].clone()),
        (0x0102_0304.into(), false.into())
    );
    let ship = &u["newShips"][0];
    assert_eq!(
        (ship["id"].clone(), ship["player"].clone()),
        (300.into(), 0.into())
    );
    assert!(
        (num(ship, "/x") - 65535.0 * 3000.0 / 65536.0).abs() < 1e-9,
        "{ship}"
    );
    assert!(
        (num(ship, "/vx") + 3.0).abs() < 1e-9 && (num(ship, "/vy") - 0.175).abs() < 1e-9,
        "{ship}"
    );
    assert!(
        (num(ship, "/angle") - 90.0).abs() < 1e-9 && ship["thrust"] == true,
        "{ship}"
    );
    let moved = &u["movedShips"][0];
    assert_eq!(moved["id"], 70_000);
    assert!(
        (num(moved, "/angle") - 180.0).abs() < 1e-9 && moved["thrust"] == false,
        "{moved}"
    );
    let missile = &u["newMissiles"][0];
    assert_eq!(
        (missile["id"].clone(), missile["ship"].clone()),
        (70_001.into(), 300.into())
    );
    assert!((num(missile, "/x") - 1500.0).abs() < 1e-9, "{missile}");
    assert!((num(missile, "/vx") + 13.0).abs() < 1e-9 && (num(missile, "/vy") - 0.25).abs() < 1e-9);
    assert_eq!(u["removed"], serde_json::json!([5, 2_000_000]));

    let score = &m[2]["entries"];
    assert_eq!(score[0]["name"], "ZoëBot");
    assert_eq!(
        (score[0]["kills"].clone(), score[1]["deaths"].clone()),
        (200.into(), 3.into())
    );
    assert_eq!(
        (score[1]["player"].clone(), score[1]["name"].clone()),
        (7.into(), "".into())
    );
    assert_eq!(m[3]["echo"], 0xdead_beef_u32);
    assert_eq!(
        (m[4]["code"].clone(), m[4]["message"].clone()),
        (4.into(), "input rate exceeded".into())
    );
    assert_eq!(
        (m[5]["type"].clone(), m[5]["shipId"].clone()),
        ("your_ship".into(), 0.into())
    );
    assert_eq!(
        (
            m[6]["type"].clone(),
            m[6]["victimShip"].clone(),
            m[6]["shooterShip"].clone(),
            m[6]["shooterName"].clone()
        ),
        ("killed".into(), 12.into(), 70_000.into(), "ZoëBot".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn touch_buttons_fly_the_ship() {
    let chromium = launch_chromium();
    let server = GameServer::start(&["--bots", "0"], &[]);
    let page = Page::open(chromium.ws_url(), 800, 600)
        .await
        .unwrap_or_else(|e| panic!("opening a tab: {e}"));
    page.call(
        "Emulation.setTouchEmulationEnabled",
        serde_json::json!({ "enabled": true, "maxTouchPoints": 2 }),
    )
    .await
    .expect("emulating a touch screen");
    page.navigate(&server.http_url("/?room=touch"))
        .await
        .expect("navigating");
    let joined = page.wait_for("the page to join", JOINED, LIMIT).await;
    let y0 = num(&joined, "/serverShip/y");

    let thrust = page
        .wait_for(
            "the touch buttons to show",
            "(() => { if (document.getElementById('touch').hidden) return null;
               const r = document.querySelector('#touch [data-key=up]').getBoundingClientRect();
               return { x: r.x + r.width / 2, y: r.y + r.height / 2 }; })()",
            LIMIT,
        )
        .await;
    let finger = (num(&thrust, "/x"), num(&thrust, "/y"));
    page.touch("touchStart", &[finger])
        .await
        .expect("touching thrust");
    let moved = page
        .wait_for(
            "the server to move the ship while thrust is touched",
            &format!(
                "(() => {{ const s = window.spaaace.state(); if (!s.serverShip) return null;
                  let d = (s.serverShip.y - {y0}) % {WORLD}; if (d < 0) d += {WORLD};
                  return d > 5 && d < {WORLD} / 2 ? s : null; }})()"
            ),
            LIMIT,
        )
        .await;
    assert_eq!(moved["keys"], 1, "only thrust is held: {moved}");
    page.touch("touchEnd", &[])
        .await
        .expect("lifting the finger");
    page.wait_for(
        "the thrust to stop when the finger lifts",
        "window.spaaace.state().keys === 0",
        LIMIT,
    )
    .await;

    let errors = page.errors();
    assert!(errors.is_empty(), "the page logged errors: {errors:#?}");
}
