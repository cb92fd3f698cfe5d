//! Bot steering and firing, by the rules' "Bots" section.

use super::geometry::{angle_diff, bearing, distance2, normalize_angle, wrap_delta};
use super::grid::{cell_coord, Grid, CELL_SIZE, MAX_RING};
use super::world::{thrust, World};
use super::*;

impl World {
    /// Phase 3: each bot turns toward the nearest other object (ships and
    /// missiles, its own included) or, when facing it, thrusts.
    pub(super) fn steer_bots(&mut self) {
        if !self.ships.iter().any(Ship::is_bot) {
            return;
        }
        let points: Vec<(f64, f64)> = self
            .ships
            .iter()
            .map(|s| (s.x, s.y))
            .chain(self.missiles.iter().map(|m| (m.x, m.y)))
            .collect();
        let mut grid = std::mem::take(&mut self.grid);
        grid.build(points.iter().copied());
        for index in 0..self.ships.len() {
            if !self.ships[index].is_bot() {
                continue;
            }
            let target = nearest_other(&grid, &points, index);
            steer(&mut self.ships[index], target.map(|t| points[t]));
        }
        self.grid = grid;
    }

    /// Part of phase 5: a bot's shot is due every 250 to 350 steps and is
    /// fired only when its target is within range.
    pub(super) fn run_bot_fire_timers(&mut self) {
        for index in 0..self.ships.len() {
            let Some(brain) = self.ships[index].bot.as_mut() else {
                continue;
            };
            brain.fire_in = brain.fire_in.saturating_sub(1);
            if brain.fire_in > 0 {
                continue;
            }
            let in_range = brain.target_distance.is_some_and(|d| d <= BOT_FIRE_RANGE);
            let interval = self.bot_fire_interval();
            if let Some(brain) = self.ships[index].bot.as_mut() {
                brain.fire_in = interval;
            }
            if in_range {
                self.fire(index);
            }
        }
    }
}

fn steer(ship: &mut Ship, target: Option<(f64, f64)>) {
    let Some((tx, ty)) = target else {
        if let Some(brain) = ship.bot.as_mut() {
            brain.target_distance = None;
        }
        return;
    };
    let dx = wrap_delta(ship.x, tx);
    let dy = wrap_delta(ship.y, ty);
    if let Some(brain) = ship.bot.as_mut() {
        brain.target_distance = Some((dx * dx + dy * dy).sqrt());
    }
    let off = angle_diff(ship.angle, bearing(dx, dy));
    if off > BOT_AIM_TOLERANCE {
        ship.angle = normalize_angle(ship.angle + TURN_DEGREES);
    } else if off < -BOT_AIM_TOLERANCE {
        ship.angle = normalize_angle(ship.angle - TURN_DEGREES);
    } else {
        thrust(ship);
    }
}

/// Index of the point nearest to `points[me]` (wrap-aware), other than `me`.
/// Searches the grid ring by ring and stops once no unvisited cell can hold
/// anything nearer; past the widest ring it falls back to scanning all.
pub(super) fn nearest_other(grid: &Grid, points: &[(f64, f64)], me: usize) -> Option<usize> {
    let (cx, cy) = (cell_coord(points[me].0), cell_coord(points[me].1));
    let mut best: Option<(usize, f64)> = None;
    for ring in 0..=MAX_RING {
        grid.for_ring(cx, cy, ring, |i| closer(points, me, i as usize, &mut best));
        let reach = ring as f64 * CELL_SIZE;
        if best.is_some_and(|(_, d2)| d2 <= reach * reach) {
            return best.map(|(i, _)| i);
        }
    }
    (0..points.len()).for_each(|i| closer(points, me, i, &mut best));
    best.map(|(i, _)| i)
}

/// Keeps in `best` whichever of it and `points[i]` is nearer to `points[me]`.
fn closer(points: &[(f64, f64)], me: usize, i: usize, best: &mut Option<(usize, f64)>) {
    if i == me {
        return;
    }
    let (x, y) = points[me];
    let d2 = distance2(x, y, points[i].0, points[i].1);
    if best.is_none_or(|(_, b)| d2 < b) {
        *best = Some((i, d2));
    }
}
