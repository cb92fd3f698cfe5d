//! Invariants a World keeps (lists sorted by id, references that resolve,
//! coordinates inside the world, counters beyond the ids in use), so a
//! tampered or half-written snapshot is refused before it runs instead of
//! misbehaving later inside a tick.

use super::{World, BOT_PLAYER, MISSILE_LIFE_STEPS, WORLD_SIZE};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidWorld(String);

/// The protocol sends names as `str8`.
const MAX_NAME_BYTES: usize = 255;

impl World {
    /// Whether this world keeps the invariants the step relies on; a world
    /// read from outside (a snapshot) must pass before it is run.
    pub fn check_invariants(&self) -> Result<(), InvalidWorld> {
        check_world(self).map_err(InvalidWorld)
    }
}

fn check_world(world: &World) -> Result<(), String> {
    check_ascending("ship", world.ships().iter().map(|s| s.id))?;
    check_ascending("missile", world.missiles().iter().map(|m| m.id))?;
    check_ascending("player", world.players().iter().map(|p| p.id))?;
    check_disjoint(world)?;
    check_ships(world)?;
    check_missiles(world)?;
    check_players(world)?;
    check_counters(world)
}

fn check_ascending(what: &str, ids: impl Iterator<Item = u32>) -> Result<(), String> {
    let mut last: Option<u32> = None;
    for id in ids {
        if last.is_some_and(|l| l >= id) {
            return Err(format!("{what} ids are not strictly ascending at id {id}"));
        }
        last = Some(id);
    }
    Ok(())
}

/// Ships and missiles share one id counter, so no id may be both.
fn check_disjoint(world: &World) -> Result<(), String> {
    let missiles = world.missiles();
    for ship in world.ships() {
        if missiles.binary_search_by_key(&ship.id, |m| m.id).is_ok() {
            return Err(format!("id {} is both a ship and a missile", ship.id));
        }
    }
    Ok(())
}

fn in_world(v: f64) -> bool {
    v.is_finite() && (0.0..WORLD_SIZE).contains(&v)
}

fn check_ships(world: &World) -> Result<(), String> {
    for s in world.ships() {
        let id = s.id;
        if !in_world(s.x) || !in_world(s.y) {
            return Err(format!("ship {id} is outside the world"));
        }
        if !s.vx.is_finite() || !s.vy.is_finite() || !(0.0..360.0).contains(&s.angle) {
            return Err(format!("ship {id} has an invalid velocity or angle"));
        }
        if s.name.len() > MAX_NAME_BYTES {
            return Err(format!(
                "ship {id} has a name longer than {MAX_NAME_BYTES} bytes"
            ));
        }
        if s.is_bot() != (s.player == BOT_PLAYER) {
            return Err(format!(
                "ship {id}: bot flag and player {} disagree (bots are player 0)",
                s.player
            ));
        }
        if !s.is_bot() && world.player(s.player).and_then(|p| p.ship) != Some(id) {
            return Err(format!(
                "ship {id} is not the ship of its player {}",
                s.player
            ));
        }
    }
    Ok(())
}

fn check_missiles(world: &World) -> Result<(), String> {
    for m in world.missiles() {
        let id = m.id;
        if !in_world(m.x) || !in_world(m.y) || !m.vx.is_finite() || !m.vy.is_finite() {
            return Err(format!("missile {id} has an invalid position or velocity"));
        }
        if m.age >= MISSILE_LIFE_STEPS {
            return Err(format!("missile {id} is older than a missile lives"));
        }
    }
    Ok(())
}

fn check_players(world: &World) -> Result<(), String> {
    for p in world.players() {
        if p.id == BOT_PLAYER {
            return Err("player id 0 is reserved for bots".to_string());
        }
        if p.name.as_ref().is_some_and(|n| n.len() > MAX_NAME_BYTES) {
            return Err(format!(
                "player {} has a name longer than {MAX_NAME_BYTES} bytes",
                p.id
            ));
        }
        if let Some(ship) = p.ship {
            if world.ship(ship).map(|s| s.player) != Some(p.id) {
                return Err(format!(
                    "player {} owns ship {ship}, which is not theirs",
                    p.id
                ));
            }
        }
    }
    Ok(())
}

/// New ids come from the counters, so they must lie beyond every id in use;
/// and every bot is either alive or waiting to respawn.
fn check_counters(world: &World) -> Result<(), String> {
    let top_object = world
        .ships
        .iter()
        .map(|s| s.id)
        .chain(world.missiles.iter().map(|m| m.id))
        .max();
    if top_object.is_some_and(|id| id >= world.next_object_id) {
        return Err(format!(
            "object id counter {} is not beyond the ids in use",
            world.next_object_id
        ));
    }
    if world
        .players
        .last()
        .is_some_and(|p| p.id >= world.next_player_id)
    {
        return Err(format!(
            "player id counter {} is not beyond the ids in use",
            world.next_player_id
        ));
    }
    let bots = world.ships.iter().filter(|s| s.is_bot()).count() + world.bot_respawns.len();
    if bots != world.config.bots as usize {
        return Err(format!(
            "{bots} bots alive or respawning, but the config says {}",
            world.config.bots
        ));
    }
    Ok(())
}
