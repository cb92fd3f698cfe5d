//! Getting into a room from the browser: the start screen joins the room and
//! name chosen there, its invite link brings a friend into the same room, and
//! it lists the rooms the server runs with their player counts.

use crate::cdp::Page;
use crate::common::GameServer;
use crate::observer::Observer;
use crate::{assert_no_page_errors, launch_chromium, open_page, state_when, JOINED, LIMIT};
use std::path::Path;

/// Committed as docs/start-screen.png for the README's "Play" section.
const SCREENSHOT: &str = "/tmp/spaaace-start.png";

/// The start screen once it lists `room`: the suggested room, the row's text, the state.
fn listed(room: &str) -> String {
    format!(
        "(() => {{ const b = document.querySelector('#start-rooms [data-room=\"{room}\"]');
           if (!b || document.getElementById('start').hidden) return null;
           return {{ row: b.textContent, suggested: document.getElementById('start-room').value,
             name: document.getElementById('start-name').value, s: window.spaaace.state() }}; }})()"
    )
}

async fn fill(page: &Page, selector: &str, text: &str) {
    page.click_on(selector).await.expect("clicking a field");
    page.eval(&format!("document.querySelector('{selector}').select()"))
        .await
        .expect("selecting the field's text");
    page.insert_text(text).await.expect("typing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_screen_joins_the_chosen_room_and_its_invite_link_brings_a_friend() {
    let chromium = launch_chromium();
    let server = GameServer::start(&["--bots", "0"], &[]);
    // A room already playing, for the list.
    let _early = Observer::join_as(&server.ws_url(), "busy", "Early", "").await;

    let page = open_page(&chromium, &server.http_url("/")).await;
    page.allow_clipboard(&server.http_url(""))
        .await
        .expect("allowing the clipboard");
    let start = page
        .wait_for(
            "the start screen to list the busy room",
            &listed("busy"),
            LIMIT,
        )
        .await;
    assert_eq!(start["row"], "busy1 player", "{start}");
    let suggested = start["suggested"].as_str().unwrap_or_default();
    assert!(
        !suggested.is_empty()
            && suggested.len() <= 32
            && suggested
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "the suggested room is one the server accepts: {suggested:?}"
    );
    assert_eq!(
        (start["s"]["screen"].clone(), start["s"]["status"].clone()),
        ("start".into(), "idle".into()),
        "nothing connects before Play: {start}"
    );

    // A room id the server would refuse stays on the start screen and says why.
    fill(&page, "#start-room", "no spaces!").await;
    page.click_on("#start-play").await.expect("clicking Play");
    let refused = page
        .wait_for(
            "the start screen to refuse the room id",
            "document.getElementById('start-error').hidden ? null : document.getElementById('start-error').textContent",
            LIMIT,
        )
        .await;
    assert!(
        refused.as_str().unwrap_or_default().contains("1 to 32"),
        "{refused}"
    );
    assert_eq!(
        page.eval("window.spaaace.state().status").await.unwrap(),
        "idle"
    );

    fill(&page, "#start-name", "Alice").await;
    fill(&page, "#start-room", "friends").await;
    page.click_on("#start-play").await.expect("clicking Play");
    let joined = state_when(
        &page,
        "the page to join as Alice",
        "s.connected && s.shipId > 0 && s.name === 'Alice'",
    )
    .await;
    assert_eq!(
        (joined["room"].clone(), joined["screen"].clone()),
        ("friends".into(), "game".into())
    );
    let address = page
        .eval("location.search")
        .await
        .expect("reading the address");
    assert_eq!(address, "?room=friends", "a reload stays in the room");

    // The invite link reaches the clipboard, and it opens the same room for someone else.
    page.click_on("#invite")
        .await
        .expect("clicking copy invite link");
    let link = page
        .wait_for(
            "the invite link on the clipboard",
            "navigator.clipboard.readText().then((t) => t.includes('room=') ? t : null)",
            LIMIT,
        )
        .await;
    assert_eq!(link, server.http_url("/?room=friends"));
    assert_eq!(joined["inviteLink"], link);
    let friend = Page::open_isolated(chromium.ws_url(), 1280, 720)
        .await
        .expect("opening a friend's tab");
    friend
        .navigate(link.as_str().unwrap_or_default())
        .await
        .expect("opening the invite link");
    let guest = friend.wait_for("the friend to join", JOINED, LIMIT).await;
    assert_eq!(
        (guest["room"].clone(), guest["screen"].clone()),
        ("friends".into(), "game".into())
    );
    assert_ne!(guest["playerId"], joined["playerId"], "{guest}");
    assert_ne!(
        guest["name"], "Alice",
        "the friend's browser remembers no name: {guest}"
    );
    state_when(&friend, "the friend to see Alice's ship", "s.ships === 2").await;
    state_when(&page, "Alice to see the friend's ship", "s.ships === 2").await;

    // A new start screen in Alice's browser remembers her name and lists both rooms.
    let again = open_page(&chromium, &server.http_url("/")).await;
    let lobby = again
        .wait_for(
            "the list to show the friends' room",
            &listed("friends"),
            LIMIT,
        )
        .await;
    assert_eq!(lobby["name"], "Alice", "{lobby}");
    assert_eq!(lobby["row"], "friends2 players", "{lobby}");
    let rows = again
        .eval("[...document.querySelectorAll('#start-rooms button')].map((b) => b.dataset.room)")
        .await
        .expect("reading the list");
    assert_eq!(
        rows,
        serde_json::json!(["friends", "busy"]),
        "busiest first"
    );
    again
        .screenshot_of("#start-form", 24.0, Path::new(SCREENSHOT))
        .await
        .expect("screenshot");

    for p in [&page, &friend, &again] {
        assert_no_page_errors(p);
    }
}
