//! The real `gameserver` binary with several WebSocket clients: joining,
//! update rate, moving, firing, hits, restart, one ship per player, reconnect.

mod common;

use std::time::Duration;

use common::play::hunt;
use common::GameServer;
use gameserver::client::{ClientError, GameClient};
use gameserver::protocol::{ServerMessage, UpdateKind};
use gameserver::sim::Input;

/// Generous bound for anything that should take well under a second.
const LIMIT: Duration = Duration::from_secs(20);

fn is_update(m: &ServerMessage) -> bool {
    matches!(m, ServerMessage::Update { .. })
}

async fn until_my_ship_is_mirrored(c: &mut GameClient) {
    c.pump_until(LIMIT, |v, m| {
        is_update(m) && v.world.ships.contains_key(&v.my_ship)
    })
    .await
    .expect("own ship never appeared in an update");
}

#[tokio::test]
async fn join_gives_welcome_then_full_update_then_deltas_at_the_configured_rate() {
    for rate in [20u32, 10] {
        let server = GameServer::start(
            &[
                "--bots",
                "3",
                "--update-rate",
                &rate.to_string(),
                "--seed",
                "1",
            ],
            &[],
        );
        let mut c = GameClient::join(&server.ws_url(), "default", "Tester", "")
            .await
            .unwrap();
        let w = &c.view.welcome;
        assert!(w.player_id >= 1 && w.ship_id >= 1 && !w.resumed);
        assert_eq!(w.token.len(), 43);
        let k = &w.constants;
        assert_eq!(
            (k.world_width, k.world_height, k.steps_per_second),
            (3000, 3000, 60)
        );
        assert_eq!(
            (
                k.updates_per_second,
                k.fire_cooldown_steps,
                k.reconnect_grace_seconds
            ),
            (rate as u16, 15, 30)
        );
        assert_eq!((k.ship_max_speed, k.missile_life_steps), (3.0, 30));

        let first = c.pump_until(LIMIT, |_, m| is_update(m)).await.unwrap();
        let ServerMessage::Update { body, .. } = first else {
            unreachable!()
        };
        assert_eq!(
            body.kind,
            UpdateKind::Full,
            "a joining player's first update is full"
        );
        assert_eq!(body.new_ships.len(), 4, "3 bots and my ship");
        assert_eq!(body.new_ships.iter().filter(|s| s.player == 0).count(), 3);

        // Count updates over a 2 s window: a behaviour check with wide bounds.
        let window = tokio::time::Instant::now() + Duration::from_secs(2);
        let (mut steps, mut kinds) = (vec![body.step], Vec::new());
        while let Ok(m) = tokio::time::timeout_at(window, c.pump()).await {
            if let ServerMessage::Update { body, .. } = m.unwrap() {
                steps.push(body.step);
                kinds.push(body.kind);
            }
        }
        let expected = 2 * rate as usize;
        assert!(
            (expected / 2..=expected * 3 / 2).contains(&kinds.len()),
            "rate {rate}: {} updates in 2 s",
            kinds.len()
        );
        assert!(
            kinds.iter().all(|k| *k == UpdateKind::Delta),
            "later updates are deltas"
        );
        let every = 60 / rate;
        assert!(
            steps.windows(2).all(|p| p[1] - p[0] == every),
            "rate {rate}: update steps {steps:?}"
        );
    }
}

#[tokio::test]
async fn thrust_turn_and_fire_change_the_world() {
    let server = GameServer::start(&["--bots", "0", "--seed", "2"], &[]);
    let mut c = GameClient::join(&server.ws_url(), "move", "Mover", "")
        .await
        .unwrap();
    until_my_ship_is_mirrored(&mut c).await;
    let me = c.view.my_ship;
    let start = c.view.world.ships[&me];
    assert_eq!(
        (start.vx, start.vy, start.angle),
        (0.0, 0.0, 90.0),
        "spawned at rest facing down"
    );

    let up = Input {
        up: true,
        ..Input::default()
    };
    let mut last = 0;
    for _ in 0..20 {
        last = c.send_input(up).await.unwrap();
    }
    c.pump_until(LIMIT, |v, m| is_update(m) && v.last_input_seq == last)
        .await
        .unwrap();
    let ship = c.view.world.ships[&me];
    // Each input applies exactly once: 20 x 0.05 along 90 degrees (+y).
    assert!(
        (ship.vy - 1.0).abs() < 0.03 && ship.vx.abs() < 0.03,
        "velocity {ship:?}"
    );

    for _ in 0..4 {
        last = c
            .send_input(Input {
                right: true,
                ..Input::default()
            })
            .await
            .unwrap();
    }
    c.pump_until(LIMIT, |v, m| is_update(m) && v.last_input_seq == last)
        .await
        .unwrap();
    let ship = c.view.world.ships[&me];
    assert!(
        (ship.angle - 100.0).abs() < 0.05,
        "4 x 2.5 degrees right: {}",
        ship.angle
    );
    let moved = c.view.world.ships[&me];
    assert!(moved.y != start.y, "drifting ship moved");

    c.send_input(Input {
        fire: true,
        ..Input::default()
    })
    .await
    .unwrap();
    c.pump_until(LIMIT, |v, _| {
        v.world.missiles.values().any(|m| m.ship == me)
    })
    .await
    .unwrap();
    let missile = c
        .view
        .world
        .missiles
        .values()
        .find(|m| m.ship == me)
        .copied()
        .unwrap();
    let a = 100f64.to_radians();
    assert!(
        (missile.vx - (ship.vx + 10.0 * a.cos())).abs() < 0.05,
        "{missile:?}"
    );
    assert!(
        (missile.vy - (ship.vy + 10.0 * a.sin())).abs() < 0.05,
        "{missile:?}"
    );
    // It lives 30 steps: a later update removes it.
    c.pump_until(LIMIT, |v, _| v.world.missiles.is_empty())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_hit_scores_restart_gives_one_new_ship_and_a_token_resumes_ship_and_kills() {
    let server = GameServer::start(&["--bots", "0", "--seed", "3"], &[]);
    let url = server.ws_url();
    let mut hunter = GameClient::join(&url, "arena", "Hunter", "").await.unwrap();
    let mut prey = GameClient::join(&url, "arena", "Prey", "").await.unwrap();
    let prey_ship = prey.view.my_ship;
    until_my_ship_is_mirrored(&mut hunter).await;
    hunt(&mut hunter, prey.player_id(), Duration::from_secs(90)).await;

    // The victim is told its ship is gone, and the scoreboard counts the death.
    prey.pump_until(LIMIT, |v, _| v.my_ship == 0).await.unwrap();
    hunter
        .pump_until(LIMIT, |v, _| !v.world.ships.contains_key(&prey_ship))
        .await
        .unwrap();
    let row = hunter
        .view
        .score_of_player(hunter.player_id())
        .unwrap()
        .clone();
    assert_eq!((row.kills, row.name.as_str()), (1, "Hunter"));

    // Restart gives a new ship; asking again while it lives does not add one.
    prey.restart().await.unwrap();
    prey.pump_until(LIMIT, |v, _| v.my_ship != 0).await.unwrap();
    let new_ship = prey.view.my_ship;
    assert!(new_ship > prey_ship, "ids are never reused");
    prey.restart().await.unwrap();
    prey.restart().await.unwrap();
    let me = prey.player_id();
    prey.pump_until(LIMIT, |v, m| {
        is_update(m) && v.world.ships.contains_key(&new_ship)
    })
    .await
    .unwrap();
    // Ten more updates: still exactly one ship of this player.
    for _ in 0..10 {
        prey.pump_until(LIMIT, |_, m| is_update(m)).await.unwrap();
        let mine = prey
            .view
            .world
            .ships
            .values()
            .filter(|s| s.player == me)
            .count();
        assert_eq!(mine, 1);
    }
    assert_eq!(prey.view.my_ship, new_ship);
    prey.pump_until(LIMIT, |v, _| {
        v.score_of_player(me).is_some_and(|r| r.deaths == 1)
    })
    .await
    .unwrap();

    // The hunter drops and comes back with its token: same player, ship and kills.
    let (player, ship, token) = (
        hunter.player_id(),
        hunter.view.my_ship,
        hunter.view.welcome.token.clone(),
    );
    drop(hunter);
    let mut back = GameClient::join(&url, "arena", "", &token).await.unwrap();
    let w = &back.view.welcome;
    assert!(w.resumed);
    assert_eq!((w.player_id, w.ship_id), (player, ship));
    back.pump_until(LIMIT, |v, _| {
        v.score_of_player(player).is_some_and(|r| r.kills == 1)
    })
    .await
    .unwrap();
    until_my_ship_is_mirrored(&mut back).await;

    // A token from nowhere is a new player, not an error.
    let stranger = GameClient::join(&url, "arena", "", "not-a-token")
        .await
        .unwrap();
    assert!(!stranger.view.welcome.resumed);
    assert_ne!(stranger.player_id(), player);
}

#[tokio::test]
async fn a_newer_connection_with_the_token_replaces_the_older_one() {
    let server = GameServer::start(&["--bots", "0"], &[]);
    let url = server.ws_url();
    let mut first = GameClient::join(&url, "twice", "", "").await.unwrap();
    let token = first.view.welcome.token.clone();
    let second = GameClient::join(&url, "twice", "", &token).await.unwrap();
    assert!(second.view.welcome.resumed);
    assert_eq!(second.player_id(), first.player_id());
    let closed = first.pump_until(LIMIT, |_, _| false).await;
    assert!(
        matches!(
            closed,
            Err(ClientError::Closed {
                code: Some(4006),
                ..
            })
        ),
        "{closed:?}"
    );
}

#[tokio::test]
async fn after_the_grace_period_the_player_is_gone() {
    let server = GameServer::start(&["--bots", "0", "--reconnect-grace-secs", "1"], &[]);
    let url = server.ws_url();
    let c = GameClient::join(&url, "short", "", "").await.unwrap();
    let (player, token) = (c.player_id(), c.view.welcome.token.clone());
    drop(c);
    // Watch the players gauge fall to zero rather than sleeping a guess.
    let deadline = std::time::Instant::now() + LIMIT;
    loop {
        let (_, _, body) = common::http_get(server.port, "/metrics");
        if common::metric(&body, "spaaace_players") == Some(0.0) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "player never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let again = GameClient::join(&url, "short", "", &token).await.unwrap();
    assert!(!again.view.welcome.resumed);
    assert_ne!(again.player_id(), player);

    // A room with nobody left, connected or in grace, goes away.
    drop(again);
    loop {
        let (_, _, body) = common::http_get(server.port, "/metrics");
        if common::metric(&body, "spaaace_rooms") == Some(0.0) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "empty room never removed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
