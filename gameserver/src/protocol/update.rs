//! The shared update body: its decoded form, and the encoder that turns a
//! room's world into full or delta bodies, once per update tick.

use bytes::{BufMut, Bytes, BytesMut};

use super::quantize;
use super::wire::{put_varint, DecodeError, Reader};
use crate::sim::{Missile, ObjectId, Ship, World};

/// A ship's quantized motion (8 bytes on the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ShipMotion {
    pub x: u16,
    pub y: u16,
    pub vx: i8,
    pub vy: i8,
    pub angle_thrust: u16,
}

impl ShipMotion {
    pub fn of(ship: &Ship) -> ShipMotion {
        ShipMotion {
            x: quantize::position(ship.x),
            y: quantize::position(ship.y),
            vx: quantize::ship_velocity(ship.vx),
            vy: quantize::ship_velocity(ship.vy),
            angle_thrust: quantize::angle_thrust(ship.angle, ship.thrusting()),
        }
    }

    fn put(&self, out: &mut impl BufMut) {
        out.put_u16_le(self.x);
        out.put_u16_le(self.y);
        out.put_i8(self.vx);
        out.put_i8(self.vy);
        out.put_u16_le(self.angle_thrust);
    }

    fn read(r: &mut Reader<'_>) -> Result<ShipMotion, DecodeError> {
        Ok(ShipMotion {
            x: r.u16("ship x")?,
            y: r.u16("ship y")?,
            vx: r.i8("ship vx")?,
            vy: r.i8("ship vy")?,
            angle_thrust: r.u16("ship angle_thrust")?,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewShip {
    pub id: u32,
    pub player: u32,
    pub motion: ShipMotion,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MovedShip {
    pub id: u32,
    pub motion: ShipMotion,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewMissile {
    pub id: u32,
    pub ship: u32,
    pub x: u16,
    pub y: u16,
    pub vx: i16,
    pub vy: i16,
}

impl NewMissile {
    fn of(m: &Missile) -> NewMissile {
        NewMissile {
            id: m.id,
            ship: m.ship,
            x: quantize::position(m.x),
            y: quantize::position(m.y),
            vx: quantize::missile_velocity(m.vx),
            vy: quantize::missile_velocity(m.vy),
        }
    }

    fn put(&self, out: &mut impl BufMut) {
        put_varint(out, self.id);
        put_varint(out, self.ship);
        out.put_u16_le(self.x);
        out.put_u16_le(self.y);
        out.put_i16_le(self.vx);
        out.put_i16_le(self.vy);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateKind {
    Full = 0,
    Delta = 1,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateBody {
    pub step: u32,
    pub kind: UpdateKind,
    pub new_ships: Vec<NewShip>,
    pub moved_ships: Vec<MovedShip>,
    pub new_missiles: Vec<NewMissile>,
    pub removed: Vec<u32>,
}

impl UpdateBody {
    pub fn encode(&self, out: &mut impl BufMut) {
        put_body(
            out,
            self.step,
            self.kind,
            &self.new_ships,
            &self.moved_ships,
            &self.new_missiles,
            &self.removed,
        );
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<UpdateBody, DecodeError> {
        let step = r.u32("step")?;
        let kind = match r.u8("kind")? {
            0 => UpdateKind::Full,
            1 => UpdateKind::Delta,
            other => return Err(DecodeError::BadUpdateKind(other)),
        };
        let n = r.count("n_new_ships", 10)?;
        let mut new_ships = Vec::with_capacity(n);
        for _ in 0..n {
            let id = r.varint("new ship id")?;
            let player = r.varint("new ship player_id")?;
            let motion = ShipMotion::read(r)?;
            new_ships.push(NewShip { id, player, motion });
        }
        let n = r.count("n_moved_ships", 9)?;
        let mut moved_ships = Vec::with_capacity(n);
        for _ in 0..n {
            let id = r.varint("moved ship id")?;
            let motion = ShipMotion::read(r)?;
            moved_ships.push(MovedShip { id, motion });
        }
        let n = r.count("n_new_missiles", 10)?;
        let mut new_missiles = Vec::with_capacity(n);
        for _ in 0..n {
            new_missiles.push(NewMissile {
                id: r.varint("missile id")?,
                ship: r.varint("missile ship_id")?,
                x: r.u16("missile x")?,
                y: r.u16("missile y")?,
                vx: r.i16("missile vx")?,
                vy: r.i16("missile vy")?,
            });
        }
        let n = r.count("n_removed", 1)?;
        let mut removed = Vec::with_capacity(n);
        for _ in 0..n {
            removed.push(r.varint("removed id")?);
        }
        Ok(UpdateBody {
            step,
            kind,
            new_ships,
            moved_ships,
            new_missiles,
            removed,
        })
    }
}

/// Remembers what the previous update told every client, so the next delta
/// carries only what changed. Both bodies of one tick describe the same world,
/// so a client that gets the full one can apply the next delta.
#[derive(Default)]
pub struct UpdateEncoder {
    known_ships: Vec<(ObjectId, ShipMotion)>,
    known_missiles: Vec<ObjectId>,
    next_ships: Vec<(ObjectId, ShipMotion)>,
    new_ships: Vec<NewShip>,
    moved: Vec<MovedShip>,
    new_missiles: Vec<NewMissile>,
    removed: Vec<ObjectId>,
    buf: BytesMut,
}

impl UpdateEncoder {
    pub fn new() -> UpdateEncoder {
        UpdateEncoder::default()
    }

    /// The delta from the previous call's world to `world`; `world` becomes the new base.
    /// Linear in the object count: ships and missiles come sorted by id, as does what is known.
    pub fn delta(&mut self, world: &World) -> Bytes {
        self.diff_ships(world.ships());
        self.diff_missiles(world.missiles());
        let body = self.write(world.step_count(), UpdateKind::Delta);
        std::mem::swap(&mut self.known_ships, &mut self.next_ships);
        body
    }

    /// Everything that exists in `world`.
    pub fn full(&mut self, world: &World) -> Bytes {
        self.clear_scratch();
        self.new_ships.extend(world.ships().iter().map(|s| NewShip {
            id: s.id,
            player: s.player,
            motion: ShipMotion::of(s),
        }));
        self.new_missiles
            .extend(world.missiles().iter().map(NewMissile::of));
        self.write(world.step_count(), UpdateKind::Full)
    }

    fn clear_scratch(&mut self) {
        self.new_ships.clear();
        self.moved.clear();
        self.new_missiles.clear();
        self.removed.clear();
    }

    fn diff_ships(&mut self, ships: &[Ship]) {
        self.clear_scratch();
        self.next_ships.clear();
        let mut known = self.known_ships.iter().peekable();
        for ship in ships {
            let motion = ShipMotion::of(ship);
            while let Some(&&(id, _)) = known.peek() {
                if id >= ship.id {
                    break;
                }
                self.removed.push(id);
                known.next();
            }
            match known.peek() {
                Some(&&(id, old)) if id == ship.id => {
                    known.next();
                    if old != motion {
                        self.moved.push(MovedShip { id, motion });
                    }
                }
                _ => self.new_ships.push(NewShip {
                    id: ship.id,
                    player: ship.player,
                    motion,
                }),
            }
            self.next_ships.push((ship.id, motion));
        }
        self.removed.extend(known.map(|&(id, _)| id));
    }

    fn diff_missiles(&mut self, missiles: &[Missile]) {
        let mut known = self.known_missiles.iter().peekable();
        for m in missiles {
            while let Some(&&id) = known.peek() {
                if id >= m.id {
                    break;
                }
                self.removed.push(id);
                known.next();
            }
            if known.peek() == Some(&&m.id) {
                known.next();
            } else {
                self.new_missiles.push(NewMissile::of(m));
            }
        }
        self.removed.extend(known.copied());
        self.known_missiles.clear();
        self.known_missiles.extend(missiles.iter().map(|m| m.id));
    }

    fn write(&mut self, step: u64, kind: UpdateKind) -> Bytes {
        let out = &mut self.buf;
        out.reserve(
            16 + self.new_ships.len() * 12 + self.moved.len() * 11 + self.new_missiles.len() * 14,
        );
        // u32 on the wire: at 60 steps/s that lasts 828 days.
        put_body(
            out,
            step as u32,
            kind,
            &self.new_ships,
            &self.moved,
            &self.new_missiles,
            &self.removed,
        );
        out.split().freeze()
    }
}

fn put_body(
    out: &mut impl BufMut,
    step: u32,
    kind: UpdateKind,
    new_ships: &[NewShip],
    moved_ships: &[MovedShip],
    new_missiles: &[NewMissile],
    removed: &[u32],
) {
    out.put_u32_le(step);
    out.put_u8(kind as u8);
    put_varint(out, new_ships.len() as u32);
    for s in new_ships {
        put_varint(out, s.id);
        put_varint(out, s.player);
        s.motion.put(out);
    }
    put_varint(out, moved_ships.len() as u32);
    for s in moved_ships {
        put_varint(out, s.id);
        s.motion.put(out);
    }
    put_varint(out, new_missiles.len() as u32);
    for m in new_missiles {
        m.put(out);
    }
    put_varint(out, removed.len() as u32);
    for id in removed {
        put_varint(out, *id);
    }
}
