//! Whether this process takes players: not while it hydrates saved rooms (a
//! join could create a fresh room over one about to be restored), and not
//! once it drains for shutdown. `/ready` reports it; the WebSocket endpoint
//! obeys it.

use std::sync::atomic::{AtomicU8, Ordering};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Hydrating,
    Ready,
    Draining,
}

#[derive(Debug)]
pub struct Readiness(AtomicU8);

impl Readiness {
    pub fn new(stage: Stage) -> Readiness {
        Readiness(AtomicU8::new(stage as u8))
    }

    pub fn stage(&self) -> Stage {
        match self.0.load(Ordering::Acquire) {
            0 => Stage::Hydrating,
            1 => Stage::Ready,
            _ => Stage::Draining,
        }
    }

    /// Moves forward only: a late "ready" cannot undo "draining".
    pub fn advance(&self, stage: Stage) {
        self.0.fetch_max(stage as u8, Ordering::AcqRel);
    }

    pub fn is_ready(&self) -> bool {
        self.stage() == Stage::Ready
    }
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Hydrating => "hydrating",
            Stage::Ready => "ready",
            Stage::Draining => "draining",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_moves_forward() {
        let r = Readiness::new(Stage::Hydrating);
        assert!(!r.is_ready());
        r.advance(Stage::Ready);
        assert!(r.is_ready());
        r.advance(Stage::Draining);
        r.advance(Stage::Ready);
        assert_eq!(r.stage(), Stage::Draining);
    }
}
