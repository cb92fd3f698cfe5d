//! A uniform grid over the wrapped world, rebuilt from scratch each time it is
//! used, so that "who is near this point" costs the neighbourhood and not the
//! whole world. Items are indices into the caller's point list.

use super::WORLD_SIZE;

/// At least twice the hit radius, so a 3 x 3 block of cells holds every hit.
pub const CELL_SIZE: f64 = 100.0;
pub const CELLS: usize = (WORLD_SIZE / CELL_SIZE) as usize;
/// Rings beyond this would visit a column twice in a 30-cell world.
pub const MAX_RING: usize = (CELLS - 1) / 2;

#[derive(Debug, Default, Clone)]
pub struct Grid {
    /// `starts[c]..starts[c + 1]` is cell c's slice of `items`.
    starts: Vec<u32>,
    items: Vec<u32>,
    cell_of: Vec<u32>,
}

pub fn cell_coord(v: f64) -> usize {
    ((v / CELL_SIZE) as usize).min(CELLS - 1)
}

impl Grid {
    pub fn build(&mut self, points: impl Iterator<Item = (f64, f64)>) {
        self.cell_of.clear();
        self.cell_of
            .extend(points.map(|(x, y)| (cell_coord(y) * CELLS + cell_coord(x)) as u32));
        self.starts.clear();
        self.starts.resize(CELLS * CELLS + 1, 0);
        for &c in &self.cell_of {
            self.starts[c as usize + 1] += 1;
        }
        for c in 0..CELLS * CELLS {
            self.starts[c + 1] += self.starts[c];
        }
        self.items.clear();
        self.items.resize(self.cell_of.len(), 0);
        let mut next = self.starts.clone();
        for (i, &c) in self.cell_of.iter().enumerate() {
            let slot = &mut next[c as usize];
            self.items[*slot as usize] = i as u32;
            *slot += 1;
        }
    }

    fn cell(&self, cx: usize, cy: usize) -> &[u32] {
        let c = cy * CELLS + cx;
        &self.items[self.starts[c] as usize..self.starts[c + 1] as usize]
    }

    /// Visits every item in the cells exactly `ring` cells away (Chebyshev
    /// distance, across the wrap) from the cell at (cx, cy).
    pub fn for_ring(&self, cx: usize, cy: usize, ring: usize, mut visit: impl FnMut(u32)) {
        debug_assert!(ring <= MAX_RING);
        let r = ring as isize;
        let n = CELLS as isize;
        for dy in -r..=r {
            let on_edge_row = dy.abs() == r;
            let step = if on_edge_row || r == 0 { 1 } else { 2 * r };
            let mut dx = -r;
            while dx <= r {
                let x = (cx as isize + dx).rem_euclid(n) as usize;
                let y = (cy as isize + dy).rem_euclid(n) as usize;
                self.cell(x, y).iter().copied().for_each(&mut visit);
                dx += step.max(1);
            }
        }
    }
}
