//! The page loads, draws, joins and flies on a key press or a touch; a Rust
//! player sees the same moves.

use crate::cdp::Page;
use crate::common::GameServer;
use crate::observer::Observer;
use crate::{
    assert_no_page_errors, launch_chromium, num, open_page, ring_delta, JOINED, LIMIT, WORLD,
};
use serde_json::Value;
use std::path::Path;

const SCREENSHOT: &str = "/tmp/spaaace.png";

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

    assert_no_page_errors(&page);
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

    assert_no_page_errors(&page);
}
