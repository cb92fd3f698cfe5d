//! A simulated player's hands: wanders, thrusts half the time, fires often.
//! Deterministic from its seed, so two runs fly alike.

use crate::sim::Input;

pub struct Pilot {
    state: u64,
    turn: i8,
    hold: u32,
}

impl Pilot {
    pub fn new(seed: u32) -> Pilot {
        Pilot {
            state: u64::from(seed).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
            turn: 0,
            hold: 0,
        }
    }

    /// The next value of its xorshift generator (also a cheap jitter source).
    pub fn random(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }

    /// Holds a turn for a while, thrusts half the time, fires one input in eight.
    pub fn next_input(&mut self) -> Input {
        if self.hold == 0 {
            self.turn = (self.random() % 3) as i8 - 1;
            self.hold = 10 + (self.random() % 40) as u32;
        }
        self.hold -= 1;
        Input {
            up: self.random().is_multiple_of(2),
            left: self.turn < 0,
            right: self.turn > 0,
            fire: self.random().is_multiple_of(8),
        }
    }
}
