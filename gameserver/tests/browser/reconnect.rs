//! The page resumes by its token, pauses when another connection takes its
//! player (close 4006), reconnects by itself after a restart and gives up on a
//! refused room.

use crate::common::GameServer;
use crate::observer::Observer;
use crate::{launch_chromium, open_page, JOINED, LIMIT};
use serde_json::Value;

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
    assert_eq!(paused["lastCloseCode"], 4006, "{paused}");
    let why = page
        .eval("document.getElementById('fatal').hidden ? null : document.getElementById('fatal-text').textContent")
        .await
        .expect("reading the pause overlay");
    assert_eq!(why, "This game continues in another tab or window.");
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
