//! The world of one room and the step that advances it.

use serde::{Deserialize, Serialize};

use super::geometry::{heading, normalize_angle, wrap};
use super::grid::Grid;
use super::names;
use super::rng::Rng;
use super::*;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct World {
    pub(super) config: SimConfig,
    pub(super) rng: Rng,
    pub(super) step: u64,
    pub(super) next_object_id: ObjectId,
    pub(super) next_player_id: PlayerId,
    /// Each list is kept sorted by id (ids only grow), so lookups are binary
    /// searches and iteration order, hence the simulation, is deterministic.
    pub(super) ships: Vec<Ship>,
    pub(super) missiles: Vec<Missile>,
    pub(super) players: Vec<Player>,
    /// Steps at which a destroyed bot is replaced.
    pub(super) bot_respawns: Vec<u64>,
    #[serde(skip)]
    pub(super) events: Vec<Event>,
    #[serde(skip)]
    pub(super) grid: Grid,
}

impl World {
    pub fn new(config: SimConfig, seed: u64) -> World {
        let bots = config.bots;
        let mut world = World {
            config,
            rng: Rng::new(seed),
            step: 0,
            next_object_id: 1,
            next_player_id: 1,
            ships: Vec::new(),
            missiles: Vec::new(),
            players: Vec::new(),
            bot_respawns: Vec::new(),
            events: Vec::new(),
            grid: Grid::default(),
        };
        for _ in 0..bots {
            world.spawn_bot();
        }
        world
    }

    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// Adds or removes bots (the newest first) until `bots` are alive or due to respawn.
    pub fn set_bot_count(&mut self, bots: u32) {
        self.config.bots = bots;
        let mut have = self.ships.iter().filter(|s| s.is_bot()).count() + self.bot_respawns.len();
        while have < bots as usize {
            self.spawn_bot();
            have += 1;
        }
        while have > bots as usize {
            if self.bot_respawns.pop().is_none() {
                if let Some(pos) = self.ships.iter().rposition(Ship::is_bot) {
                    let ship = self.ships.remove(pos);
                    self.events.push(Event::ShipRemoved { ship: ship.id });
                }
            }
            have -= 1;
        }
    }

    pub fn step_count(&self) -> u64 {
        self.step
    }

    pub fn add_player(&mut self, name: Option<String>) -> PlayerId {
        let id = self.next_player_id;
        self.next_player_id += 1;
        self.players.push(Player {
            id,
            name,
            deaths: 0,
            ship: None,
        });
        id
    }

    /// The player, its ship, the ship's missiles and its score go at once.
    pub fn remove_player(&mut self, player: PlayerId) {
        let Ok(index) = self.players.binary_search_by_key(&player, |p| p.id) else {
            return;
        };
        let removed = self.players.remove(index);
        if let Some(ship) = removed.ship {
            self.ships.retain(|s| s.id != ship);
            self.events.push(Event::ShipRemoved { ship });
            let events = &mut self.events;
            self.missiles.retain(|m| {
                let keep = m.ship != ship;
                if !keep {
                    events.push(Event::MissileExpired { missile: m.id });
                }
                keep
            });
        }
    }

    /// Join or restart: the player's live ship if it has one, else a new one.
    pub fn spawn_ship(&mut self, player: PlayerId) -> Option<ObjectId> {
        let index = self.players.binary_search_by_key(&player, |p| p.id).ok()?;
        if let Some(ship) = self.players[index].ship {
            return Some(ship);
        }
        let name = self.players[index].name.clone();
        let id = self.push_ship(player, name, None);
        self.players[index].ship = Some(id);
        Some(id)
    }

    pub(super) fn spawn_bot(&mut self) -> ObjectId {
        let brain = BotBrain {
            fire_in: self.bot_fire_interval(),
            target_distance: None,
        };
        self.push_ship(BOT_PLAYER, None, Some(brain))
    }

    pub(super) fn bot_fire_interval(&mut self) -> u32 {
        (250.0 + self.rng.next_f64() * 100.0).round() as u32
    }

    /// A new ship at a random spot; `name` None means a generated one.
    fn push_ship(
        &mut self,
        player: PlayerId,
        name: Option<String>,
        bot: Option<BotBrain>,
    ) -> ObjectId {
        let id = self.new_object_id();
        let name = name.unwrap_or_else(|| {
            let suffix = if bot.is_some() { "Bot" } else { "" };
            let taken: Vec<&str> = self.ships.iter().map(|s| s.name.as_str()).collect();
            names::unused_name(&mut self.rng, suffix, id, &taken)
        });
        let x = (self.rng.next_f64() * SPAWN_RANGE).floor() + SPAWN_MARGIN;
        let y = (self.rng.next_f64() * SPAWN_RANGE).floor() + SPAWN_MARGIN;
        self.ships.push(Ship {
            id,
            player,
            name,
            kills: 0,
            x,
            y,
            vx: 0.0,
            vy: 0.0,
            angle: 90.0,
            thrust_steps: 0,
            next_fire_step: 0,
            bot,
        });
        self.events.push(Event::ShipSpawned { ship: id, player });
        id
    }

    fn new_object_id(&mut self) -> ObjectId {
        let id = self.next_object_id;
        self.next_object_id += 1;
        id
    }

    /// Phase 1: one input of one player (applied to its ship, if it has one).
    pub(super) fn apply_input(&mut self, player: PlayerId, input: Input) {
        let Some(ship) = self.player(player).and_then(|p| p.ship) else {
            return;
        };
        let Some(index) = self.ship_index(ship) else {
            return;
        };
        let s = &mut self.ships[index];
        if input.left {
            s.angle = normalize_angle(s.angle - TURN_DEGREES);
        }
        if input.right {
            s.angle = normalize_angle(s.angle + TURN_DEGREES);
        }
        if input.up {
            thrust(s);
        }
        if input.fire {
            self.fire(index);
        }
    }

    /// Fires a missile from the ship at `index` unless its cooldown is running.
    pub(super) fn fire(&mut self, index: usize) {
        if self.step < self.ships[index].next_fire_step {
            return;
        }
        let id = self.new_object_id();
        let s = &mut self.ships[index];
        s.next_fire_step = self.step + u64::from(self.config.fire_cooldown_steps);
        let (hx, hy) = heading(s.angle);
        self.missiles.push(Missile {
            id,
            ship: s.id,
            player: s.player,
            x: s.x,
            y: s.y,
            vx: s.vx + MISSILE_SPEED * hx,
            vy: s.vy + MISSILE_SPEED * hy,
            angle: s.angle,
            age: 0,
        });
        self.events.push(Event::MissileFired {
            missile: id,
            ship: s.id,
        });
    }

    /// Phase 2.
    pub(super) fn begin_step(&mut self) {
        self.step += 1;
    }

    /// Phase 4a: cap ship speed, move everything, wrap.
    pub(super) fn move_objects(&mut self) {
        for s in &mut self.ships {
            let speed2 = s.vx * s.vx + s.vy * s.vy;
            if speed2 > SHIP_MAX_SPEED * SHIP_MAX_SPEED {
                let scale = SHIP_MAX_SPEED / speed2.sqrt();
                s.vx *= scale;
                s.vy *= scale;
            }
            s.x = wrap(s.x + s.vx);
            s.y = wrap(s.y + s.vy);
        }
        for m in &mut self.missiles {
            m.x = wrap(m.x + m.vx);
            m.y = wrap(m.y + m.vy);
        }
    }

    /// Phase 5: thrust display, missile expiry, bot fire, bot respawn.
    pub(super) fn run_timers(&mut self) {
        for s in &mut self.ships {
            s.thrust_steps = s.thrust_steps.saturating_sub(1);
        }
        let events = &mut self.events;
        self.missiles.retain_mut(|m| {
            m.age += 1;
            let alive = m.age < MISSILE_LIFE_STEPS;
            if !alive {
                events.push(Event::MissileExpired { missile: m.id });
            }
            alive
        });
        self.run_bot_fire_timers();
        self.respawn_due_bots();
    }

    fn respawn_due_bots(&mut self) {
        let step = self.step;
        let due = self.bot_respawns.iter().filter(|&&at| at <= step).count();
        self.bot_respawns.retain(|&at| at > step);
        for _ in 0..due {
            self.spawn_bot();
        }
    }

    /// One whole step, in the rules' order.
    pub fn step(&mut self, inputs: &[(PlayerId, Input)]) {
        self.step_observed(inputs, |_| {});
    }

    /// One whole step, in the rules' order, calling `done` after each phase
    /// (the room times them). The only place that order is written.
    pub fn step_observed(&mut self, inputs: &[(PlayerId, Input)], mut done: impl FnMut(StepPhase)) {
        for &(player, input) in inputs {
            self.apply_input(player, input);
        }
        done(StepPhase::Inputs);
        self.begin_step();
        self.steer_bots();
        done(StepPhase::Bots);
        self.move_objects();
        done(StepPhase::Physics);
        self.resolve_collisions();
        done(StepPhase::Collisions);
        self.run_timers();
        done(StepPhase::Timers);
    }

    pub fn drain_events(&mut self) -> std::vec::Drain<'_, Event> {
        self.events.drain(..)
    }

    pub fn ships(&self) -> &[Ship] {
        &self.ships
    }

    pub fn ship(&self, id: ObjectId) -> Option<&Ship> {
        self.ship_index(id).map(|i| &self.ships[i])
    }

    pub(super) fn ship_index(&self, id: ObjectId) -> Option<usize> {
        self.ships.binary_search_by_key(&id, |s| s.id).ok()
    }

    pub fn missiles(&self) -> &[Missile] {
        &self.missiles
    }

    pub fn players(&self) -> &[Player] {
        &self.players
    }

    pub fn player(&self, id: PlayerId) -> Option<&Player> {
        let index = self.players.binary_search_by_key(&id, |p| p.id).ok()?;
        Some(&self.players[index])
    }

    pub fn scoreboard(&self) -> Vec<ScoreEntry> {
        self.ships
            .iter()
            .map(|s| ScoreEntry {
                ship: s.id,
                player: s.player,
                name: s.name.clone(),
                kills: s.kills,
                deaths: self.player(s.player).map_or(0, |p| p.deaths),
            })
            .collect()
    }
}

pub(super) fn thrust(s: &mut Ship) {
    let (hx, hy) = heading(s.angle);
    s.vx += SHIP_ACCEL * hx;
    s.vy += SHIP_ACCEL * hy;
    s.thrust_steps = THRUST_SHOW_STEPS;
}
