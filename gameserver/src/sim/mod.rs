//! The game itself, by the rules of ../shared/spaaace-rules.md: pure and
//! deterministic for a given seed (no I/O, no clocks, no async), and fully
//! serializable so a snapshot restores a world exactly.

mod bots;
mod collisions;
mod geometry;
mod grid;
mod invariants;
mod names;
mod rng;
mod world;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use geometry::{distance2, wrap, wrap_delta};
pub use invariants::InvalidWorld;
pub use world::World;

pub const WORLD_SIZE: f64 = 3000.0;
pub const STEPS_PER_SECOND: u32 = 60;
/// Units per step.
pub const SHIP_MAX_SPEED: f64 = 3.0;
/// Units per step, per `up` input.
pub const SHIP_ACCEL: f64 = 0.05;
/// Degrees per `left` / `right` input.
pub const TURN_DEGREES: f64 = 2.5;
/// Added to the ship's velocity, units per step.
pub const MISSILE_SPEED: f64 = 10.0;
pub const MISSILE_LIFE_STEPS: u32 = 30;
pub const HIT_RADIUS: f64 = 28.0;
pub const THRUST_SHOW_STEPS: u32 = 5;
pub const SPAWN_MARGIN: f64 = 200.0;
pub const SPAWN_RANGE: f64 = 2800.0;
pub const BOT_FIRE_RANGE: f64 = 400.0;
/// Bots turn while the target is more than this many degrees off.
pub const BOT_AIM_TOLERANCE: f64 = 4.0;

/// Human players count from 1; every bot belongs to player 0, so bots never hit each other.
pub type PlayerId = u32;
/// Ships and missiles share one counter per world and ids are never reused.
pub type ObjectId = u32;
pub const BOT_PLAYER: PlayerId = 0;

/// The phases of one step, in the rules' order (`World::step_observed`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepPhase {
    /// Each player's queued inputs.
    Inputs,
    /// The step counter advances and bots steer.
    Bots,
    Physics,
    Collisions,
    /// Thrust display, missile expiry, bot fire and respawn.
    Timers,
}

/// One input message: each flag applies once. Order: turn, thrust, fire.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Input {
    pub up: bool,
    pub left: bool,
    pub right: bool,
    pub fire: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimConfig {
    pub bots: u32,
    /// A ship fires at most once per this many steps (the original had no limit).
    pub fire_cooldown_steps: u32,
    /// A destroyed bot is replaced after this many steps (5000 ms).
    pub bot_respawn_steps: u32,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            bots: 3,
            fire_cooldown_steps: 15,
            bot_respawn_steps: 300,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ship {
    pub id: ObjectId,
    pub player: PlayerId,
    pub name: String,
    pub kills: u32,
    pub x: f64,
    pub y: f64,
    pub vx: f64,
    pub vy: f64,
    /// Degrees in [0, 360), 0 along +x, clockwise.
    pub angle: f64,
    /// Counts down from THRUST_SHOW_STEPS after each thrust; > 0 shows the flame.
    pub thrust_steps: u32,
    /// The first step at which this ship may fire again.
    pub next_fire_step: u64,
    pub bot: Option<BotBrain>,
}

impl Ship {
    pub fn is_bot(&self) -> bool {
        self.bot.is_some()
    }

    pub fn thrusting(&self) -> bool {
        self.thrust_steps > 0
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BotBrain {
    /// Steps until the next shot is due.
    pub fire_in: u32,
    /// Wrap-aware distance to the target picked this step; recomputed every
    /// step before it is read, so it is not part of a snapshot.
    #[serde(skip)]
    pub target_distance: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Missile {
    pub id: ObjectId,
    /// The shooter's ship.
    pub ship: ObjectId,
    pub player: PlayerId,
    pub x: f64,
    pub y: f64,
    pub vx: f64,
    pub vy: f64,
    pub angle: f64,
    pub age: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Player {
    pub id: PlayerId,
    /// The name the player chose, if any; otherwise each ship gets a generated one.
    pub name: Option<String>,
    pub deaths: u32,
    pub ship: Option<ObjectId>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Event {
    ShipSpawned {
        ship: ObjectId,
        player: PlayerId,
    },
    MissileFired {
        missile: ObjectId,
        ship: ObjectId,
    },
    Hit {
        missile: ObjectId,
        shooter_ship: ObjectId,
        shooter_player: PlayerId,
        victim_ship: ObjectId,
        victim_player: PlayerId,
        x: f64,
        y: f64,
    },
    /// Its life ran out, or it went with its player.
    MissileExpired {
        missile: ObjectId,
    },
    /// Its player left (not a hit).
    ShipRemoved {
        ship: ObjectId,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreEntry {
    pub ship: ObjectId,
    pub player: PlayerId,
    pub name: String,
    pub kills: u32,
    pub deaths: u32,
}
