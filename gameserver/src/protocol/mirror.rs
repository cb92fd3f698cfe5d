//! A client's copy of a room, rebuilt from update bodies: what the browser
//! client does, used by the tests, the load tool and the benchmark. It refuses
//! a delta that does not fit what it holds, so it also checks the server.

use std::collections::BTreeMap;

use thiserror::Error;

use super::quantize;
use super::update::{ShipMotion, UpdateBody, UpdateKind};

#[derive(Debug, Error, PartialEq, Eq)]
pub enum MirrorError {
    #[error("delta update at step {step} before any full update")]
    DeltaFirst { step: u32 },
    #[error("update at step {step} moves or removes object {id}, which the mirror does not hold")]
    UnknownObject { step: u32, id: u32 },
    #[error("update at step {step} announces object {id} again")]
    Duplicate { step: u32, id: u32 },
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MirrorShip {
    pub player: u32,
    pub x: f64,
    pub y: f64,
    pub vx: f64,
    pub vy: f64,
    pub angle: f64,
    pub thrusting: bool,
}

impl MirrorShip {
    fn set(&mut self, m: ShipMotion) {
        self.x = quantize::position_back(m.x);
        self.y = quantize::position_back(m.y);
        self.vx = quantize::ship_velocity_back(m.vx);
        self.vy = quantize::ship_velocity_back(m.vy);
        (self.angle, self.thrusting) = quantize::angle_thrust_back(m.angle_thrust);
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MirrorMissile {
    pub ship: u32,
    /// Where it was at `seen_step`; it flies straight from there.
    pub x: f64,
    pub y: f64,
    pub vx: f64,
    pub vy: f64,
    pub seen_step: u32,
}

#[derive(Clone, Debug, Default)]
pub struct WorldMirror {
    pub step: u32,
    pub synced: bool,
    pub ships: BTreeMap<u32, MirrorShip>,
    pub missiles: BTreeMap<u32, MirrorMissile>,
}

impl WorldMirror {
    pub fn apply(&mut self, body: &UpdateBody) -> Result<(), MirrorError> {
        let step = body.step;
        match body.kind {
            UpdateKind::Full => {
                self.ships.clear();
                self.missiles.clear();
                self.synced = true;
            }
            UpdateKind::Delta if !self.synced => return Err(MirrorError::DeltaFirst { step }),
            UpdateKind::Delta => {}
        }
        for id in &body.removed {
            if self.ships.remove(id).is_none() && self.missiles.remove(id).is_none() {
                return Err(MirrorError::UnknownObject { step, id: *id });
            }
        }
        for s in &body.new_ships {
            let mut ship = MirrorShip {
                player: s.player,
                x: 0.0,
                y: 0.0,
                vx: 0.0,
                vy: 0.0,
                angle: 0.0,
                thrusting: false,
            };
            ship.set(s.motion);
            if self.ships.insert(s.id, ship).is_some() {
                return Err(MirrorError::Duplicate { step, id: s.id });
            }
        }
        for s in &body.moved_ships {
            let ship = self
                .ships
                .get_mut(&s.id)
                .ok_or(MirrorError::UnknownObject { step, id: s.id })?;
            ship.set(s.motion);
        }
        for m in &body.new_missiles {
            let missile = MirrorMissile {
                ship: m.ship,
                x: quantize::position_back(m.x),
                y: quantize::position_back(m.y),
                vx: quantize::missile_velocity_back(m.vx),
                vy: quantize::missile_velocity_back(m.vy),
                seen_step: step,
            };
            if self.missiles.insert(m.id, missile).is_some() {
                return Err(MirrorError::Duplicate { step, id: m.id });
            }
        }
        self.step = step;
        Ok(())
    }
}
