//! A Rust player shoots the page's ship down: explosion, the killer named,
//! "try again", Enter; the kill feed shows the kill.

use crate::common::GameServer;
use crate::observer::Observer;
use crate::{assert_no_page_errors, launch_chromium, num, open_page, state_when, JOINED, LIMIT};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroyed_ship_explodes_shows_in_the_kill_feed_and_enter_flies_again() {
    let chromium = launch_chromium();
    let server = GameServer::start(&["--bots", "0"], &[]);
    let page = open_page(&chromium, &server.http_url("/?room=duel&name=Target")).await;
    let joined = page
        .wait_for("the page to join with a ship", JOINED, LIMIT)
        .await;
    let first_ship = num(&joined, "/shipId") as u32;
    // A click is a user gesture: from now on the page may play sound.
    page.click(640.0, 360.0).await.expect("clicking the canvas");
    state_when(
        &page,
        "sound to start after the click",
        "s.audio.context !== 'none'",
    )
    .await;

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
    let felt = state_when(
        &page,
        "the kill feed to show the page's own death, highlighted",
        "s.killFeed.some((e) => e.text === 'Observer ✕ Target' && e.mine)",
    )
    .await;
    assert_eq!(
        felt["audio"]["played"]["death"], 1,
        "one death sound: {felt}"
    );
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

    // A kill between two other players: in the feed, not highlighted; the older entry fades out.
    let prey = Observer::join_as(&server.ws_url(), "duel", "Prey", "").await;
    let prey_ship = state_when(&page, "the page to see the prey", "s.ships === 3").await;
    assert_eq!(prey_ship["ships"], 3);
    let target = loop {
        match prey.ship_id() {
            0 => tokio::time::sleep(Duration::from_millis(20)).await,
            id => break id,
        }
    };
    hunter.hunt(target, Duration::from_secs(60)).await;
    let feed = state_when(
        &page,
        "the kill feed to show the observer's kill of the prey",
        "s.killFeed.some((e) => e.text === 'Observer ✕ Prey' && !e.mine)",
    )
    .await;
    eprintln!("kill feed: {}", feed["killFeed"]);
    state_when(
        &page,
        "the page's own death to fade out of the feed",
        "!s.killFeed.some((e) => e.text.endsWith('Target'))",
    )
    .await;

    assert_no_page_errors(&page);
}
