//! Sound through the page's own debug view (nothing listens): none before a
//! user gesture, an audio node for a shot after one, none while muted, the
//! mute remembered, and sounds placed by distance and direction.

use crate::common::GameServer;
use crate::{assert_no_page_errors, launch_chromium, num, open_page, state_when, JOINED, LIMIT};
use serde_json::Value;

/// Where the page's audio module puts sounds at a few offsets from the listener.
const PLACEMENTS: &str = "import('/js/audio.js').then((a) => ({
  here: a.placement(0, 0), right: a.placement(400, 0), left: a.placement(-400, 0),
  below: a.placement(0, 400), farRight: a.placement(900, 0), beyond: a.placement(a.HEAR_RANGE + 1, 0) }))";

/// Holds space (a user gesture, and the fire key) until `condition` holds.
async fn fire_until(page: &crate::cdp::Page, what: &str, condition: &str) -> Value {
    page.key("keyDown", " ").await.expect("pressing space");
    let after = state_when(page, what, condition).await;
    page.key("keyUp", " ").await.expect("releasing space");
    after
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shot_makes_a_sound_after_a_gesture_and_none_while_muted() {
    let chromium = launch_chromium();
    let server = GameServer::start(&["--bots", "0"], &[]);
    let page = open_page(&chromium, &server.http_url("/?room=sound")).await;
    let joined = page.wait_for("the page to join", JOINED, LIMIT).await;
    assert_eq!(
        joined["audio"]["context"], "none",
        "no audio before a gesture: {joined}"
    );

    let at = page.eval(PLACEMENTS).await.expect("placing sounds");
    let gain = |k: &str| num(&at[k], "/gain");
    let pan = |k: &str| num(&at[k], "/pan");
    assert_eq!((gain("here"), pan("here")), (1.0, 0.0), "{at}");
    assert!(
        pan("right") > 0.0 && pan("left") < 0.0 && pan("below") == 0.0,
        "{at}"
    );
    assert_eq!(gain("right"), gain("left"), "{at}");
    assert!(
        gain("farRight") < gain("right") && gain("farRight") > 0.0,
        "{at}"
    );
    assert_eq!(at["beyond"], Value::Null, "out of earshot: {at}");

    // The audio starts with the gesture; shots go on until one is heard.
    let fired = fire_until(&page, "a shot to be heard", "s.audio.played.fire >= 1").await;
    eprintln!("audio after the first shot: {}", fired["audio"]);
    let audio = &fired["audio"];
    assert_eq!(audio["muted"], false, "{fired}");
    assert!(
        audio["context"] != "none",
        "the gesture opened the audio: {fired}"
    );
    assert!(
        num(audio, "/played/fire") >= 1.0 && num(audio, "/nodes") > 0.0,
        "{fired}"
    );

    page.key("keyDown", "m").await.expect("pressing M");
    page.key("keyUp", "m").await.expect("releasing M");
    let muted = state_when(&page, "M to mute", "s.audio.muted").await;
    let button = page
        .eval("document.getElementById('mute').textContent")
        .await
        .unwrap();
    assert_eq!(button, "sound off");
    let shots = num(&muted, "/ownShots");
    let quiet = fire_until(
        &page,
        "a shot while muted",
        &format!("s.ownShots > {shots}"),
    )
    .await;
    assert_eq!(
        quiet["audio"]["nodes"], muted["audio"]["nodes"],
        "muted: no node: {quiet}"
    );
    assert_eq!(
        quiet["audio"]["played"], muted["audio"]["played"],
        "{quiet}"
    );

    // The mute outlives the page.
    page.call("Page.reload", serde_json::json!({}))
        .await
        .expect("reloading");
    let reloaded = page
        .wait_for("the reloaded page to join", JOINED, LIMIT)
        .await;
    assert_eq!(reloaded["audio"]["muted"], true, "{reloaded}");
    assert_eq!(reloaded["audio"]["nodes"], 0, "{reloaded}");
    assert_no_page_errors(&page);
}
