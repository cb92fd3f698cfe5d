use proptest::prelude::*;

use super::*;
use crate::sim::{Input, SimConfig, World};

fn constants() -> Constants {
    Constants {
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
    }
}

fn sample_body() -> UpdateBody {
    let motion = ShipMotion {
        x: 65535,
        y: 1,
        vx: -127,
        vy: 120,
        angle_thrust: 0x8000 | 16384,
    };
    UpdateBody {
        step: 123_456,
        kind: UpdateKind::Delta,
        new_ships: vec![NewShip {
            id: 300,
            player: 0,
            motion,
        }],
        moved_ships: vec![MovedShip {
            id: 7,
            motion: ShipMotion::default(),
        }],
        new_missiles: vec![NewMissile {
            id: 1_000_000,
            ship: 7,
            x: 2,
            y: 3,
            vx: -13000,
            vy: 32767,
        }],
        removed: vec![1, 128, u32::MAX],
    }
}

#[test]
fn every_client_message_round_trips() {
    let messages = [
        ClientMessage::Join(Join {
            room: "default".into(),
            name: "Zoë".into(),
            token: "t".repeat(64),
        }),
        ClientMessage::Join(Join {
            room: "r".into(),
            name: String::new(),
            token: String::new(),
        }),
        ClientMessage::Input {
            seq: u32::MAX,
            input: Input {
                up: true,
                left: false,
                right: true,
                fire: true,
            },
        },
        ClientMessage::Input {
            seq: 0,
            input: Input::default(),
        },
        ClientMessage::Restart,
        ClientMessage::Ping { echo: 0xdead_beef },
    ];
    for msg in messages {
        let bytes = msg.encode();
        assert_eq!(
            ClientMessage::decode(&bytes),
            Ok(msg.clone()),
            "{msg:?} as {bytes:?}"
        );
    }
}

#[test]
fn every_server_message_round_trips() {
    let messages = [
        ServerMessage::Welcome(Welcome {
            player_id: 9,
            ship_id: 44,
            token: "abc-_".into(),
            resumed: true,
            step: 77,
            constants: constants(),
        }),
        ServerMessage::Update {
            last_input_seq: 5,
            body: sample_body(),
        },
        ServerMessage::Update {
            last_input_seq: 0,
            body: UpdateBody {
                kind: UpdateKind::Full,
                ..sample_body()
            },
        },
        ServerMessage::Score(vec![
            ScoreRow {
                ship_id: 1,
                player_id: 0,
                kills: 3,
                deaths: 0,
                name: "Ada Bot".into(),
            },
            ScoreRow {
                ship_id: 200,
                player_id: 5,
                kills: 0,
                deaths: 70_000,
                name: "Zoë".into(),
            },
        ]),
        ServerMessage::Score(vec![]),
        ServerMessage::Pong { echo: 17 },
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
    ];
    for msg in messages {
        let bytes = msg.encode();
        assert_eq!(ServerMessage::decode(&bytes), Ok(msg.clone()), "{msg:?}");
    }
}

#[test]
fn wire_layout_matches_the_spec() {
    let input = ClientMessage::Input {
        seq: 0x0403_0201,
        input: Input {
            up: true,
            fire: true,
            ..Input::default()
        },
    };
    assert_eq!(input.encode(), vec![0x02, 0x01, 0x02, 0x03, 0x04, 0b1001]);
    let join = ClientMessage::Join(Join {
        room: "ab".into(),
        name: String::new(),
        token: "t".into(),
    });
    assert_eq!(join.encode(), vec![0x01, 1, 2, b'a', b'b', 0, 1, b't']);
    assert_eq!(
        encode_update_frame(1, &[9, 9]),
        vec![0x82, 1, 0, 0, 0, 9, 9]
    );
}

#[test]
fn decoder_names_each_kind_of_garbage() {
    assert_eq!(ClientMessage::decode(&[]), Err(DecodeError::Empty));
    assert_eq!(
        ClientMessage::decode(&[0x7f]),
        Err(DecodeError::UnknownType(0x7f))
    );
    assert_eq!(
        ClientMessage::decode(&[0x01, 2, 0, 0, 0]),
        Err(DecodeError::UnsupportedVersion(2))
    );
    assert_eq!(
        ClientMessage::decode(&[0x02, 1, 0, 0, 0, 0x10]),
        Err(DecodeError::ReservedKeyBits(0x10))
    );
    assert_eq!(
        ClientMessage::decode(&[0x02, 1, 0]),
        Err(DecodeError::Truncated { field: "seq" })
    );
    assert_eq!(
        ClientMessage::decode(&[0x03, 0]),
        Err(DecodeError::TrailingBytes { kind: 3, extra: 1 })
    );
    assert_eq!(
        ClientMessage::decode(&[0x01, 1, 1, 0xff, 0, 0]),
        Err(DecodeError::BadUtf8 { field: "room" })
    );
    let mut long_token = vec![0x01, 1, 1, b'a', 0, 65];
    long_token.extend(std::iter::repeat_n(b'x', 65));
    assert_eq!(
        ClientMessage::decode(&long_token),
        Err(DecodeError::TooLong {
            field: "token",
            len: 65,
            max: 64
        })
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic_the_decoders(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let client = ClientMessage::decode(&bytes);
        let server = ServerMessage::decode(&bytes);
        // Whatever decodes must encode back to the very same bytes: the format has one spelling.
        if let Ok(msg) = client {
            if !matches!(msg, ClientMessage::Join(_)) || bytes.len() < 256 {
                prop_assert_eq!(msg.encode(), bytes.clone());
            }
        }
        if let Ok(msg) = server {
            prop_assert_eq!(ServerMessage::decode(&msg.encode()), Ok(msg));
        }
    }

    #[test]
    fn flipped_bytes_of_valid_frames_never_panic(pos in 0usize..64, byte in any::<u8>(), cut in 0usize..64) {
        let mut frame = ServerMessage::Update { last_input_seq: 1, body: sample_body() }.encode();
        let at = pos % frame.len();
        frame[at] = byte;
        frame.truncate(frame.len() - cut % frame.len());
        let _ = ServerMessage::decode(&frame);
        let _ = ClientMessage::decode(&frame);
    }
}

#[test]
fn garbage_of_valid_types_is_mostly_refused() {
    // A seeded walk over random frames that start with a real message type:
    // the decoder must reject the bulk of them instead of reading nonsense.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut refused = 0;
    let total = 20_000;
    for _ in 0..total {
        let len = (next() % 40) as usize + 1;
        let mut frame: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        frame[0] = [0x01, 0x02, 0x81, 0x82, 0x83][(next() % 5) as usize];
        let c = ClientMessage::decode(&frame);
        let s = ServerMessage::decode(&frame);
        if c.is_err() && s.is_err() {
            refused += 1;
        }
    }
    assert!(
        refused > total * 9 / 10,
        "only {refused} of {total} garbage frames refused"
    );
}

/// A world with enough bots that ships spawn, fire, die and respawn.
fn busy_world() -> World {
    World::new(
        SimConfig {
            bots: 60,
            fire_cooldown_steps: 15,
            bot_respawn_steps: 30,
        },
        7,
    )
}

#[test]
fn deltas_rebuild_exactly_what_a_full_update_describes() {
    let mut world = busy_world();
    let mut encoder = UpdateEncoder::new();
    let mut follower = WorldMirror::default();
    let mut removed_seen = 0;
    let mut missiles_seen = 0;
    for tick in 0..600 {
        world.step(&[]);
        if tick % 3 != 0 {
            continue;
        }
        let delta = encoder.delta(&world);
        let full = encoder.full(&world);
        let decode = |b: &[u8]| UpdateBody::decode(&mut wire::Reader::new(b)).unwrap();
        let (delta, full) = (decode(&delta), decode(&full));
        if tick == 0 {
            follower.apply(&full).unwrap();
        } else {
            follower.apply(&delta).unwrap();
        }
        removed_seen += delta.removed.len();
        missiles_seen += delta.new_missiles.len();
        let mut fresh = WorldMirror::default();
        fresh.apply(&full).unwrap();
        assert_eq!(follower.ships, fresh.ships, "ships differ at tick {tick}");
        assert_eq!(
            follower.missiles.keys().collect::<Vec<_>>(),
            fresh.missiles.keys().collect::<Vec<_>>(),
            "missiles differ at tick {tick}"
        );
        assert_eq!(fresh.ships.len(), world.ships().len());
    }
    assert!(
        missiles_seen > 0 && removed_seen > 0,
        "the world never fired or removed anything"
    );
}

#[test]
fn a_delta_lists_only_ships_whose_quantized_motion_changed() {
    let mut world = World::new(
        SimConfig {
            bots: 0,
            ..SimConfig::default()
        },
        1,
    );
    let a = world.add_player(Some("A".into()));
    let b = world.add_player(Some("B".into()));
    let ship_a = world.spawn_ship(a).unwrap();
    world.spawn_ship(b).unwrap();
    let mut encoder = UpdateEncoder::new();
    encoder.delta(&world);
    world.step(&[(
        a,
        Input {
            up: true,
            ..Input::default()
        },
    )]);
    let delta = UpdateBody::decode(&mut wire::Reader::new(&encoder.delta(&world))).unwrap();
    assert_eq!(
        delta.moved_ships.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![ship_a]
    );
    assert!(delta.new_ships.is_empty() && delta.removed.is_empty());
    world.remove_player(a);
    let delta = UpdateBody::decode(&mut wire::Reader::new(&encoder.delta(&world))).unwrap();
    assert_eq!(delta.removed, vec![ship_a]);
}
