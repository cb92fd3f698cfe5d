//! The browser client in Debian's headless chromium against the real server,
//! one module per area: flying (keys, touch, prediction figures), reconnect
//! (token, takeover, restart, refusal), combat (shot down by a Rust player,
//! the death overlay and the kill feed), codec (the page's decoder against the
//! Rust encoder), lobby (start screen, invite link, room list) and sound.
//! `-- --nocapture` prints the prediction and frame figures; screenshots land
//! in /tmp/spaaace*.png.

#[path = "../cdp/mod.rs"]
mod cdp;
#[path = "../common/mod.rs"]
mod common;

mod codec;
mod combat;
mod flying;
mod lobby;
mod observer;
mod reconnect;
mod sound;

use cdp::{Chromium, Page};
use serde_json::Value;
use std::time::Duration;

/// Bound on every wait for the page or the server (a loaded 2-core machine is slow).
const LIMIT: Duration = Duration::from_secs(20);
const WORLD: f64 = 3000.0;

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

/// Waits until the client's debug state satisfies `condition` (over `s`).
async fn state_when(page: &Page, what: &str, condition: &str) -> Value {
    page.wait_for_state(what, condition, LIMIT).await
}

const JOINED: &str = "(() => { const s = window.spaaace && window.spaaace.state();
  return s && s.connected && s.shipId > 0 && s.serverShip && s.name ? s : null; })()";

fn assert_no_page_errors(page: &Page) {
    let errors = page.errors();
    assert!(errors.is_empty(), "the page logged errors: {errors:#?}");
}
