//! One test per rule of ../shared/spaaace-rules.md, plus the properties a
//! snapshot and the grid rely on.

use super::geometry::{distance2, wrap};
use super::grid::Grid;
use super::*;

const NO_BOTS: SimConfig = SimConfig {
    bots: 0,
    fire_cooldown_steps: 15,
    bot_respawn_steps: 300,
};

fn world() -> World {
    World::new(NO_BOTS, 7)
}

/// A player with a ship placed and aimed by the test.
fn player_ship(w: &mut World, x: f64, y: f64, angle: f64) -> (PlayerId, ObjectId) {
    let p = w.add_player(None);
    let s = w.spawn_ship(p).unwrap();
    let i = w.ship_index(s).unwrap();
    let ship = &mut w.ships[i];
    (ship.x, ship.y, ship.angle) = (x, y, angle);
    (p, s)
}

fn ship(w: &World, id: ObjectId) -> &Ship {
    w.ship(id).unwrap()
}

const UP: Input = Input {
    up: true,
    left: false,
    right: false,
    fire: false,
};
const FIRE: Input = Input {
    up: false,
    left: false,
    right: false,
    fire: true,
};

#[test]
fn spawn_is_inside_margin_facing_down_at_rest() {
    let mut w = World::new(NO_BOTS, 1);
    for _ in 0..200 {
        let p = w.add_player(None);
        let id = w.spawn_ship(p).unwrap();
        let s = ship(&w, id).clone();
        assert!((200.0..3000.0).contains(&s.x) && (200.0..3000.0).contains(&s.y));
        assert_eq!(s.x, s.x.floor());
        assert_eq!((s.angle, s.vx, s.vy), (90.0, 0.0, 0.0));
    }
}

#[test]
fn thrust_accelerates_along_heading_and_shows_for_five_steps() {
    let mut w = world();
    let (p, s) = player_ship(&mut w, 1000.0, 1000.0, 0.0);
    w.step(&[(p, UP)]);
    let after = ship(&w, s);
    assert!((after.vx - 0.05).abs() < 1e-12 && after.vy.abs() < 1e-12);
    assert!((after.x - 1000.05).abs() < 1e-9);
    assert_eq!(
        after.thrust_steps, 4,
        "5 set by the input, minus this step's timer"
    );
    for _ in 0..4 {
        w.step(&[]);
    }
    assert!(!ship(&w, s).thrusting());
}

#[test]
fn speed_is_capped_at_three_units_per_step() {
    let mut w = world();
    let (p, s) = player_ship(&mut w, 1000.0, 1000.0, 45.0);
    for _ in 0..200 {
        w.step(&[(p, UP)]);
    }
    let s = ship(&w, s);
    let speed = (s.vx * s.vx + s.vy * s.vy).sqrt();
    assert!((speed - SHIP_MAX_SPEED).abs() < 1e-9, "speed {speed}");
}

#[test]
fn turning_is_two_and_a_half_degrees_per_input_and_stays_in_range() {
    let mut w = world();
    let left = Input {
        left: true,
        ..Input::default()
    };
    let (p, s) = player_ship(&mut w, 1000.0, 1000.0, 1.0);
    w.step(&[(p, left)]);
    assert!((ship(&w, s).angle - 358.5).abs() < 1e-9);
    let right = Input {
        right: true,
        ..Input::default()
    };
    w.step(&[(p, right), (p, right)]);
    assert!((ship(&w, s).angle - 3.5).abs() < 1e-9);
}

#[test]
fn positions_wrap_at_both_edges() {
    assert_eq!(wrap(3000.5), 0.5);
    assert_eq!(wrap(-0.5), 2999.5);
    let mut w = world();
    let (_, s) = player_ship(&mut w, 2999.0, 1.0, 0.0);
    let i = w.ship_index(s).unwrap();
    (w.ships[i].vx, w.ships[i].vy) = (2.0, -2.0);
    w.step(&[]);
    let s = ship(&w, s);
    assert!((s.x - 1.0).abs() < 1e-9 && (s.y - 2999.0).abs() < 1e-9);
}

#[test]
fn ships_drift_without_friction() {
    let mut w = world();
    let (_, s) = player_ship(&mut w, 100.0, 100.0, 0.0);
    let i = w.ship_index(s).unwrap();
    w.ships[i].vx = 1.5;
    for _ in 0..100 {
        w.step(&[]);
    }
    assert!((ship(&w, s).x - 250.0).abs() < 1e-9);
    assert_eq!(ship(&w, s).vx, 1.5);
}

#[test]
fn missile_starts_at_ship_with_added_velocity_and_lives_thirty_steps() {
    let mut w = world();
    let (p, s) = player_ship(&mut w, 500.0, 500.0, 0.0);
    let i = w.ship_index(s).unwrap();
    w.ships[i].vy = 1.0;
    w.step(&[(p, FIRE)]);
    let m = w.missiles()[0].clone();
    assert_eq!((m.ship, m.player, m.vx, m.vy), (s, p, 10.0, 1.0));
    assert!((m.x - 510.0).abs() < 1e-9, "moved once this step");
    for _ in 1..MISSILE_LIFE_STEPS - 1 {
        w.step(&[]);
    }
    assert_eq!(w.missiles().len(), 1, "alive through step 29");
    w.step(&[]);
    assert!(w.missiles().is_empty(), "gone after 30 steps");
    assert!(w
        .drain_events()
        .any(|e| e == Event::MissileExpired { missile: m.id }));
}

#[test]
fn fire_rate_is_limited_per_ship() {
    let mut w = world();
    let (p, _) = player_ship(&mut w, 500.0, 500.0, 0.0);
    let mut fired = 0;
    for _ in 0..60 {
        w.step(&[(p, FIRE), (p, FIRE)]);
        fired += w
            .drain_events()
            .filter(|e| matches!(e, Event::MissileFired { .. }))
            .count();
    }
    assert_eq!(fired, 4, "one missile per 15 steps over 60 steps");
}

#[test]
fn a_hit_removes_both_scores_the_shooter_and_counts_the_death() {
    let mut w = world();
    let (shooter, s) = player_ship(&mut w, 1000.0, 1000.0, 0.0);
    let (victim, v) = player_ship(&mut w, 1030.0, 1000.0, 0.0);
    w.step(&[(shooter, FIRE)]);
    assert!(w.ship(v).is_none(), "victim destroyed");
    assert!(w.missiles().is_empty(), "missile consumed");
    assert_eq!(ship(&w, s).kills, 1);
    assert_eq!(w.player(victim).unwrap().deaths, 1);
    assert_eq!(w.player(victim).unwrap().ship, None);
    assert!(
        w.scoreboard().iter().all(|e| e.ship != v),
        "score entry gone"
    );
    assert!(w.drain_events().any(|e| matches!(
        e,
        Event::Hit { victim_ship, shooter_player, .. } if victim_ship == v && shooter_player == shooter
    )));
}

#[test]
fn a_hit_happens_across_the_wrap_edge() {
    let mut w = world();
    let (shooter, _) = player_ship(&mut w, 2990.0, 1500.0, 0.0);
    let (_, v) = player_ship(&mut w, 25.0, 1500.0, 0.0);
    w.step(&[(shooter, FIRE)]);
    assert!(
        w.ship(v).is_none(),
        "missile at x=0 is 25 units from the victim"
    );
}

#[test]
fn own_missiles_are_harmless() {
    let mut w = world();
    let (p, s) = player_ship(&mut w, 1000.0, 1000.0, 0.0);
    for _ in 0..40 {
        w.step(&[(p, FIRE)]);
    }
    assert!(w.ship(s).is_some());
}

#[test]
fn bots_never_hit_each_other() {
    let mut w = World::new(SimConfig { bots: 2, ..NO_BOTS }, 3);
    let (a, b) = (w.ships[0].id, w.ships[1].id);
    (w.ships[0].x, w.ships[0].y, w.ships[0].angle) = (1000.0, 1000.0, 0.0);
    (w.ships[1].x, w.ships[1].y) = (1040.0, 1000.0);
    let i = w.ship_index(a).unwrap();
    w.fire(i);
    w.step(&[]);
    assert!(w.ship(a).is_some() && w.ship(b).is_some());
}

#[test]
fn kills_need_the_shooter_ship_alive() {
    let mut w = world();
    let (shooter, s) = player_ship(&mut w, 1000.0, 1000.0, 0.0);
    let (_, v) = player_ship(&mut w, 1200.0, 1000.0, 0.0);
    w.step(&[(shooter, FIRE)]);
    w.remove_player(shooter);
    for _ in 0..30 {
        w.step(&[]);
    }
    assert!(w.ship(s).is_none());
    assert!(
        w.ship(v).is_some(),
        "the missile went with its player, so no hit"
    );
}

#[test]
fn one_ship_per_player_and_restart_gives_a_fresh_one() {
    let mut w = world();
    let p = w.add_player(None);
    let first = w.spawn_ship(p).unwrap();
    assert_eq!(w.spawn_ship(p), Some(first), "restart while alive");
    assert_eq!(w.ships().iter().filter(|s| s.player == p).count(), 1);
    let (shooter, _) = player_ship(&mut w, 0.0, 0.0, 0.0);
    let i = w.ship_index(first).unwrap();
    (w.ships[i].x, w.ships[i].y) = (30.0, 0.0);
    w.step(&[(shooter, FIRE)]);
    assert!(w.ship(first).is_none());
    let second = w.spawn_ship(p).unwrap();
    assert_ne!(second, first);
    assert_eq!(ship(&w, second).kills, 0);
    assert_eq!(w.player(p).unwrap().deaths, 1, "deaths survive a restart");
}

#[test]
fn chosen_names_stay_generated_names_change() {
    let mut w = world();
    let p = w.add_player(Some("Zed".into()));
    let s = w.spawn_ship(p).unwrap();
    assert_eq!(ship(&w, s).name, "Zed");
    let bots = World::new(SimConfig { bots: 5, ..NO_BOTS }, 9);
    assert!(bots.ships().iter().all(|s| s.name.ends_with("Bot")));
}

#[test]
fn bot_turns_toward_target_then_thrusts() {
    let mut w = World::new(SimConfig { bots: 1, ..NO_BOTS }, 5);
    (w.ships[0].x, w.ships[0].y, w.ships[0].angle) = (1000.0, 1000.0, 90.0);
    // Target straight along +x: bearing 0, the bot faces 90, so it turns left.
    player_ship(&mut w, 1300.0, 1000.0, 0.0);
    w.step(&[]);
    assert!((w.ships[0].angle - 87.5).abs() < 1e-9);
    assert!(!w.ships[0].thrusting());
    w.ships[0].angle = 2.0;
    w.step(&[]);
    assert!(w.ships[0].vx > 0.0, "within 4 degrees it thrusts");
}

#[test]
fn bot_aims_across_the_wrap() {
    let mut w = World::new(SimConfig { bots: 1, ..NO_BOTS }, 5);
    (w.ships[0].x, w.ships[0].y, w.ships[0].angle) = (10.0, 1000.0, 180.0);
    // 20 units away across the left edge: bearing 180, already faced.
    player_ship(&mut w, 2990.0, 1000.0, 0.0);
    w.step(&[]);
    assert!(w.ships[0].vx < 0.0);
}

#[test]
fn bot_fires_on_schedule_only_within_range() {
    let near = bot_shots_with_target_at(300.0);
    let far = bot_shots_with_target_at(600.0);
    assert!(far.is_empty(), "no shot at a target 600 units away");
    assert!(!near.is_empty(), "shots at a target 300 units away");
    let first = near[0];
    assert!((250..=351).contains(&first), "first shot at step {first}");
    if let [a, b, ..] = near[..] {
        assert!((250..=350).contains(&(b - a)), "interval {}", b - a);
    }
}

/// Steps at which the lone bot fired over 800 steps at a still target.
fn bot_shots_with_target_at(distance: f64) -> Vec<u64> {
    let mut w = World::new(
        SimConfig {
            bots: 1,
            fire_cooldown_steps: 15,
            bot_respawn_steps: 300,
        },
        11,
    );
    let bot = w.ships[0].id;
    let (_, target) = player_ship(&mut w, 1000.0 + distance, 1000.0, 0.0);
    let mut shots = Vec::new();
    for _ in 0..800 {
        // Pin both in place so only the timer decides.
        for s in &mut w.ships {
            (s.vx, s.vy) = (0.0, 0.0);
            if s.id == bot {
                (s.x, s.y, s.angle) = (1000.0, 1000.0, 0.0);
            }
            if s.id == target {
                (s.x, s.y) = (1000.0 + distance, 1000.0);
            }
        }
        w.missiles.clear();
        w.step(&[]);
        if w.drain_events()
            .any(|e| matches!(e, Event::MissileFired { ship, .. } if ship == bot))
        {
            shots.push(w.step_count());
        }
    }
    shots
}

#[test]
fn destroyed_bot_is_replaced_after_five_seconds() {
    let mut w = World::new(SimConfig { bots: 1, ..NO_BOTS }, 5);
    let bot = w.ships[0].clone();
    let (p, _) = player_ship(&mut w, bot.x - 30.0, bot.y, 0.0);
    w.ships[0].bot.as_mut().unwrap().fire_in = 1000;
    w.step(&[(p, FIRE)]);
    assert!(w.ship(bot.id).is_none());
    let killed_at = w.step_count();
    let mut respawned_at = None;
    for _ in 0..400 {
        w.step(&[]);
        if w.ships().iter().any(|s| s.is_bot()) && respawned_at.is_none() {
            respawned_at = Some(w.step_count());
        }
    }
    assert_eq!(respawned_at, Some(killed_at + 300));
    let new_bot = w.ships().iter().find(|s| s.is_bot()).unwrap();
    assert_ne!(new_bot.id, bot.id);
    assert_eq!(new_bot.kills, 0);
}

#[test]
fn removing_a_player_removes_ship_missiles_and_score() {
    let mut w = world();
    let (p, s) = player_ship(&mut w, 100.0, 100.0, 0.0);
    w.step(&[(p, FIRE)]);
    w.remove_player(p);
    assert!(w.ship(s).is_none() && w.missiles().is_empty() && w.player(p).is_none());
    assert!(w.scoreboard().is_empty());
}

#[test]
fn same_seed_same_game() {
    let run = || {
        let mut w = World::new(
            SimConfig {
                bots: 20,
                ..NO_BOTS
            },
            42,
        );
        for _ in 0..2000 {
            w.step(&[]);
        }
        serde_json::to_string(&w).unwrap()
    };
    assert_eq!(run(), run());
}

#[test]
fn a_restored_snapshot_continues_exactly() {
    let mut w = World::new(
        SimConfig {
            bots: 30,
            ..NO_BOTS
        },
        99,
    );
    let p = w.add_player(Some("Kim".into()));
    w.spawn_ship(p);
    for _ in 0..700 {
        w.step(&[(p, UP)]);
    }
    let mut restored: World = serde_json::from_str(&serde_json::to_string(&w).unwrap()).unwrap();
    for i in 0..1500u32 {
        let input = Input {
            up: i % 3 == 0,
            left: i % 7 == 0,
            right: false,
            fire: i % 20 == 0,
        };
        w.step(&[(p, input)]);
        restored.step(&[(p, input)]);
    }
    assert_eq!(
        serde_json::to_string(&w).unwrap(),
        serde_json::to_string(&restored).unwrap()
    );
    assert!(w.missiles().iter().any(|m| m.age > 0) || !w.ships().is_empty());
}

#[test]
fn grid_nearest_matches_brute_force() {
    let mut rng = super::rng::Rng::new(1234);
    for n in [2usize, 3, 10, 100, 1000] {
        let points: Vec<(f64, f64)> = (0..n)
            .map(|_| (rng.next_f64() * WORLD_SIZE, rng.next_f64() * WORLD_SIZE))
            .collect();
        let mut grid = Grid::default();
        grid.build(points.iter().copied());
        for me in 0..n.min(200) {
            let got = super::bots::nearest_other(&grid, &points, me).unwrap();
            let (x, y) = points[me];
            let best = (0..n)
                .filter(|&i| i != me)
                .map(|i| distance2(x, y, points[i].0, points[i].1))
                .fold(f64::INFINITY, f64::min);
            let d = distance2(x, y, points[got].0, points[got].1);
            assert_eq!(d, best, "n={n} me={me}");
        }
    }
}

#[test]
fn grid_collisions_match_brute_force() {
    let mut w = World::new(
        SimConfig {
            bots: 400,
            ..NO_BOTS
        },
        77,
    );
    let mut rng = super::rng::Rng::new(5);
    for i in 0..300 {
        let p = w.add_player(None);
        let s = w.spawn_ship(p).unwrap();
        let idx = w.ship_index(s).unwrap();
        w.ships[idx].angle = rng.next_f64() * 360.0;
        if i % 2 == 0 {
            w.fire(idx);
        }
    }
    w.move_objects();
    // Brute force: every missile that has a foreign ship within the radius must hit.
    let expected: usize = w
        .missiles()
        .iter()
        .filter(|m| {
            w.ships().iter().any(|s| {
                s.player != m.player && distance2(m.x, m.y, s.x, s.y) < HIT_RADIUS * HIT_RADIUS
            })
        })
        .count();
    let before = w.missiles().len();
    w.resolve_collisions();
    let hits = w
        .drain_events()
        .filter(|e| matches!(e, Event::Hit { .. }))
        .count();
    assert_eq!(before - w.missiles().len(), hits);
    // Several missiles may share one victim, so hits can be fewer than candidates, never more.
    assert!(
        hits <= expected && hits > 0,
        "hits {hits} expected {expected}"
    );
}

#[test]
fn generated_names_are_unique_among_live_ships() {
    for bots in [20u32, 61, 300] {
        let w = World::new(SimConfig { bots, ..NO_BOTS }, bots as u64);
        let mut names: Vec<&str> = w.ships().iter().map(|s| s.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), bots as usize, "{bots} bots");
        assert!(names.iter().all(|n| n.contains("Bot")));
    }
}

#[test]
fn invariants_hold_through_play_and_catch_tampering() {
    let mut w = World::new(
        SimConfig {
            bots: 10,
            ..NO_BOTS
        },
        8,
    );
    let (p, _) = player_ship(&mut w, 500.0, 500.0, 0.0);
    for _ in 0..1200 {
        w.step(&[(p, FIRE)]);
        assert_eq!(w.check_invariants(), Ok(()));
    }
    let mut stale_counter = w.clone();
    stale_counter.next_object_id = 1;
    assert!(stale_counter.check_invariants().is_err());
    let mut extra_bots = w.clone();
    extra_bots.bot_respawns.push(5);
    assert!(extra_bots.check_invariants().is_err());
    let mut outside = w.clone();
    outside.ships[0].x = f64::NAN;
    assert!(outside.check_invariants().is_err());
}
