//! The envelope and restore without Redis: exact round trips, every refusal.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;
use crate::sim::{Input, SimConfig, World};
use crate::token::TokenHash;

const FIRE_UP: Input = Input {
    up: true,
    left: false,
    right: true,
    fire: true,
};

/// A busy world: bots, two players with ships, missiles in flight, a few hits.
fn busy_world() -> (World, BTreeMap<u32, PlayerRecord>) {
    let mut world = World::new(
        SimConfig {
            bots: 12,
            ..SimConfig::default()
        },
        7,
    );
    let a = world.add_player(Some("Ann".into()));
    let b = world.add_player(None);
    world.spawn_ship(a);
    world.spawn_ship(b);
    for _ in 0..900 {
        world.step(&[(a, FIRE_UP), (b, FIRE_UP)]);
    }
    world.drain_events();
    let mut players = BTreeMap::new();
    players.insert(
        a,
        PlayerRecord {
            token_hash: TokenHash::of("token-a"),
            grace_deadline: None,
        },
    );
    players.insert(
        b,
        PlayerRecord {
            token_hash: TokenHash::of("token-b"),
            grace_deadline: Some(millis_since_epoch(SystemTime::now()) + 10_000),
        },
    );
    (world, players)
}

fn json(world: &World) -> String {
    serde_json::to_string(world).unwrap()
}

#[test]
fn envelope_round_trip_restores_the_world_exactly_and_it_plays_on_identically() {
    let (mut world, players) = busy_world();
    assert!(
        !world.missiles().is_empty(),
        "the fixture should have missiles in flight"
    );
    let at = UNIX_EPOCH + Duration::from_millis(1_764_000_000_123);
    let bytes = Envelope::capture("lobby", &world, players.clone(), at)
        .encode()
        .unwrap();
    let back = Envelope::decode("lobby", &bytes).unwrap();
    assert_eq!(back.timestamp, 1_764_000_000_123);
    assert_eq!(back.taken_at(), at);
    assert_eq!(back.players, players);
    let mut restored = back.snapshot;
    assert_eq!(json(&restored), json(&world));
    for _ in 0..600 {
        world.step(&[(1, FIRE_UP)]);
        restored.step(&[(1, FIRE_UP)]);
    }
    assert_eq!(json(&restored), json(&world));
}

#[test]
fn envelope_keeps_the_seed_fields_and_no_clear_token() {
    let (world, players) = busy_world();
    let bytes = Envelope::capture("r1", &world, players, SystemTime::now())
        .encode()
        .unwrap();
    let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    for field in [
        "version",
        "roomId",
        "timestamp",
        "snapshot",
        "scoreData",
        "players",
    ] {
        assert!(value.get(field).is_some(), "missing {field}");
    }
    assert_eq!(value["version"], 1);
    let scores = value["scoreData"].as_object().unwrap();
    assert_eq!(scores.len(), world.ships().len());
    let some_ship = world.ships()[0].id.to_string();
    assert_eq!(scores[&some_ship]["name"], world.ships()[0].name.as_str());
    let text = String::from_utf8(bytes).unwrap();
    assert!(!text.contains("token-a"));
    assert!(text.contains(&serde_json::to_string(&TokenHash::of("token-a")).unwrap()));
}

fn valid_value(room: &str) -> serde_json::Value {
    let (world, players) = busy_world();
    let bytes = Envelope::capture(room, &world, players, SystemTime::now())
        .encode()
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn decode_value(room: &str, value: &serde_json::Value) -> Result<Envelope, DecodeError> {
    Envelope::decode(room, &serde_json::to_vec(value).unwrap())
}

#[test]
fn refuses_garbage_and_other_versions_with_a_reason() {
    let err = Envelope::decode("x", b"{not json").unwrap_err();
    assert!(matches!(err, DecodeError::Malformed(_)), "{err}");

    let mut newer = valid_value("x");
    newer["version"] = 2.into();
    let err = decode_value("x", &newer).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown format version 2 (this server reads version 1)"
    );

    // A different format that does not even parse as ours still says "version".
    let err = Envelope::decode("x", br#"{"version":"3","snapshot":[]}"#).unwrap_err();
    assert!(matches!(err, DecodeError::UnknownVersion { .. }), "{err}");

    let err = Envelope::decode("x", br#"{"snapshot":{}}"#).unwrap_err();
    assert!(err.to_string().contains("not a snapshot envelope"), "{err}");
}

#[test]
fn refuses_a_value_stored_under_another_room() {
    let err = decode_value("b", &valid_value("a")).unwrap_err();
    assert!(matches!(err, DecodeError::RoomMismatch { .. }), "{err}");
}

#[test]
fn refuses_worlds_that_break_the_sims_invariants() {
    type Corruption = fn(&mut serde_json::Value);
    let cases: [(&str, Corruption); 6] = [
        ("ship ids", |v| {
            let ships = v["snapshot"]["ships"].as_array_mut().unwrap();
            ships.swap(0, 1);
        }),
        ("outside the world", |v| {
            v["snapshot"]["ships"][0]["x"] = 3000.0.into()
        }),
        ("older than", |v| {
            v["snapshot"]["missiles"][0]["age"] = 30.into()
        }),
        ("not the ship of its player", |v| {
            let players = v["snapshot"]["players"].as_array_mut().unwrap();
            players[0]["ship"] = players[1]["ship"].clone();
        }),
        ("players listed", |v| {
            v["players"].as_object_mut().unwrap().remove("1");
        }),
        ("both a ship and a missile", |v| {
            let id = v["snapshot"]["ships"][0]["id"].clone();
            let missiles = v["snapshot"]["missiles"].as_array_mut().unwrap();
            let last = missiles.len() - 1;
            missiles[last]["id"] = id;
            missiles.sort_by_key(|m| m["id"].as_u64());
        }),
    ];
    for (want, corrupt) in cases {
        let mut value = valid_value("r");
        corrupt(&mut value);
        let err = decode_value("r", &value).unwrap_err();
        assert!(matches!(err, DecodeError::Inconsistent(_)), "{want}: {err}");
        assert!(err.to_string().contains(want), "{want}: {err}");
    }
}

#[test]
fn restore_gives_connected_players_a_fresh_grace_and_drops_expired_ones() {
    let (world, mut players) = busy_world();
    let now = SystemTime::now();
    let grace = Duration::from_secs(30);
    // Player 2 left a minute before the crash and its grace has run out.
    players.get_mut(&2).unwrap().grace_deadline = Some(millis_since_epoch(now) - 60_000);
    let ship_b = world.player(2).unwrap().ship.unwrap();
    let envelope = Envelope::capture("r", &world, players, now - Duration::from_secs(5));
    let room = restore(envelope, grace, now);
    assert_eq!(room.room_id, "r");
    assert_eq!(room.players.len(), 1);
    assert_eq!(room.players[0].id, 1);
    assert_eq!(room.players[0].grace_deadline, now + grace);
    assert!(room.players[0].token_hash.matches("token-a"));
    assert!(room.world.player(2).is_none());
    assert!(room.world.ship(ship_b).is_none());
    assert!(room.world.player(1).unwrap().ship.is_some());
}

#[test]
fn restore_keeps_a_grace_deadline_still_running() {
    let (world, players) = busy_world();
    let deadline = players[&2].grace_deadline.unwrap();
    let envelope = Envelope::capture("r", &world, players, SystemTime::now());
    let room = restore(envelope, Duration::from_secs(30), SystemTime::now());
    let b = room.players.iter().find(|p| p.id == 2).unwrap();
    assert_eq!(
        b.grace_deadline,
        UNIX_EPOCH + Duration::from_millis(deadline)
    );
}

#[test]
fn health_bodies_are_the_seeds() {
    assert_eq!(RedisHealth::Connected.http_status(), 200);
    assert_eq!(
        RedisHealth::Connected.body(),
        r#"{"status":"healthy","redis":"connected"}"#
    );
    assert_eq!(RedisHealth::Disconnected.http_status(), 503);
    assert_eq!(
        RedisHealth::Disconnected.body(),
        r#"{"status":"unhealthy","redis":"disconnected"}"#
    );
    assert_eq!(RedisHealth::Disabled.http_status(), 200);
}

#[test]
fn a_bad_redis_url_is_refused_without_showing_its_password() {
    let err = RedisStore::open("redis://:s3cret@cache:notaport", StoreOptions::default())
        .expect_err("an unparseable URL must be refused")
        .to_string();
    assert!(
        err.starts_with("invalid REDIS_URL redis://:***@cache:notaport"),
        "{err}"
    );
    assert!(!err.contains("s3cret"), "{err}");
}
