//! Lossy encodings of positions, velocities and angles (docs/protocol.md, "Quantization").

use crate::sim::WORLD_SIZE;

const POSITION_STEPS: f64 = 65536.0;
const SHIP_VELOCITY_SCALE: f64 = 40.0;
const MISSILE_VELOCITY_SCALE: f64 = 1000.0;
const ANGLE_STEPS: f64 = 32768.0;
const THRUST_BIT: u16 = 0x8000;

pub fn position(x: f64) -> u16 {
    ((x / WORLD_SIZE * POSITION_STEPS).round() as i64).rem_euclid(65536) as u16
}

pub fn position_back(q: u16) -> f64 {
    f64::from(q) * WORLD_SIZE / POSITION_STEPS
}

pub fn ship_velocity(v: f64) -> i8 {
    (v * SHIP_VELOCITY_SCALE).round().clamp(-127.0, 127.0) as i8
}

pub fn ship_velocity_back(q: i8) -> f64 {
    f64::from(q) / SHIP_VELOCITY_SCALE
}

pub fn missile_velocity(v: f64) -> i16 {
    (v * MISSILE_VELOCITY_SCALE)
        .round()
        .clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16
}

pub fn missile_velocity_back(q: i16) -> f64 {
    f64::from(q) / MISSILE_VELOCITY_SCALE
}

pub fn angle_thrust(angle: f64, thrusting: bool) -> u16 {
    let a = ((angle / 360.0 * ANGLE_STEPS).round() as i64).rem_euclid(32768) as u16;
    if thrusting {
        a | THRUST_BIT
    } else {
        a
    }
}

/// (degrees in [0, 360), thrusting)
pub fn angle_thrust_back(q: u16) -> (f64, bool) {
    (
        f64::from(q & !THRUST_BIT) * 360.0 / ANGLE_STEPS,
        q & THRUST_BIT != 0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_wraps_and_stays_within_a_step() {
        assert_eq!(position(0.0), 0);
        assert_eq!(
            position(WORLD_SIZE - 0.01),
            0,
            "rounds up to the wrap point"
        );
        for x in [0.3, 1499.99, 2999.9, 123.456] {
            let err = (position_back(position(x)) - x).abs();
            assert!(err <= WORLD_SIZE / POSITION_STEPS, "x {x} err {err}");
        }
    }

    #[test]
    fn velocities_clamp_instead_of_wrapping() {
        assert_eq!(ship_velocity(3.0), 120);
        assert_eq!(ship_velocity(-3.0), -120);
        assert_eq!(ship_velocity(100.0), 127);
        assert_eq!(missile_velocity(-13.0), -13000);
        assert_eq!(missile_velocity(1e9), i16::MAX);
        assert!((ship_velocity_back(ship_velocity(1.234)) - 1.234).abs() <= 0.0125);
    }

    #[test]
    fn angle_keeps_thrust_bit_separate() {
        let q = angle_thrust(359.99, true);
        assert!(q & THRUST_BIT != 0);
        let (a, t) = angle_thrust_back(q);
        assert!(t);
        assert!(a < 360.0 && (a == 0.0 || (a - 359.99).abs() < 0.02));
        let (a, t) = angle_thrust_back(angle_thrust(90.0, false));
        assert_eq!((a, t), (90.0, false));
    }
}
