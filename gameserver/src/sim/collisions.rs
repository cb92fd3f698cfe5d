//! Phase 4b: missiles against ships, through a grid and across the wrap.

use super::geometry::distance2;
use super::grid::{cell_coord, Grid};
use super::world::World;
use super::*;

impl World {
    /// A missile hits the nearest ship within HIT_RADIUS that belongs to
    /// another player. The missile and the ship go at once; the shooter
    /// scores if its ship still exists; a human victim's death is counted.
    pub(super) fn resolve_collisions(&mut self) {
        if self.missiles.is_empty() || self.ships.is_empty() {
            return;
        }
        let mut grid = std::mem::take(&mut self.grid);
        grid.build(self.ships.iter().map(|s| (s.x, s.y)));
        let mut ship_gone = vec![false; self.ships.len()];
        let mut hits = Vec::new();
        for (mi, m) in self.missiles.iter().enumerate() {
            if let Some(si) = self.victim_of(&grid, m, &ship_gone) {
                ship_gone[si] = true;
                hits.push((mi, si));
            }
        }
        self.grid = grid;
        if hits.is_empty() {
            return;
        }
        let mut missile_gone = vec![false; self.missiles.len()];
        for &(mi, si) in &hits {
            missile_gone[mi] = true;
            self.record_hit(mi, si, &ship_gone);
        }
        let mut gone = ship_gone.into_iter();
        self.ships.retain(|_| !gone.next().unwrap_or(false));
        let mut gone = missile_gone.into_iter();
        self.missiles.retain(|_| !gone.next().unwrap_or(false));
    }

    fn victim_of(&self, grid: &Grid, m: &Missile, ship_gone: &[bool]) -> Option<usize> {
        let (cx, cy) = (cell_coord(m.x), cell_coord(m.y));
        let mut best: Option<(usize, f64)> = None;
        for ring in 0..=1 {
            grid.for_ring(cx, cy, ring, |i| {
                let i = i as usize;
                let s = &self.ships[i];
                if ship_gone[i] || s.player == m.player {
                    return;
                }
                let d2 = distance2(m.x, m.y, s.x, s.y);
                if d2 < HIT_RADIUS * HIT_RADIUS && best.is_none_or(|(_, b)| d2 < b) {
                    best = Some((i, d2));
                }
            });
        }
        best.map(|(i, _)| i)
    }

    fn record_hit(&mut self, mi: usize, si: usize, ship_gone: &[bool]) {
        let m = &self.missiles[mi];
        let victim = &self.ships[si];
        let event = Event::Hit {
            missile: m.id,
            shooter_ship: m.ship,
            shooter_player: m.player,
            victim_ship: victim.id,
            victim_player: victim.player,
            x: victim.x,
            y: victim.y,
        };
        let (victim_player, victim_is_bot) = (victim.player, victim.is_bot());
        if let Some(shooter) = self.ship_index(m.ship).filter(|&i| !ship_gone[i]) {
            self.ships[shooter].kills += 1;
        }
        if victim_is_bot {
            let due = self.step + u64::from(self.config.bot_respawn_steps);
            self.bot_respawns.push(due);
        } else if let Ok(p) = self.players.binary_search_by_key(&victim_player, |p| p.id) {
            self.players[p].deaths += 1;
            self.players[p].ship = None;
        }
        self.events.push(event);
    }
}
