//! The page's JavaScript decoder reads what the Rust encoder writes, and
//! refuses every truncated, padded or random frame with a ProtocolError.

use crate::common::GameServer;
use crate::{launch_chromium, num, open_page, JOINED, LIMIT};
use gameserver::protocol::{
    Constants, MovedShip, NewMissile, NewShip, ScoreRow, ServerMessage, ShipMotion, UpdateBody,
    UpdateKind, Welcome,
};

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
