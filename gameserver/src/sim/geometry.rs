//! Wrap-around geometry of the square world.

use super::WORLD_SIZE;

/// Puts a coordinate back into [0, WORLD_SIZE). For one step's move this is the
/// rules' single add or subtract; `rem_euclid` also mends anything further out.
pub fn wrap(v: f64) -> f64 {
    let r = v.rem_euclid(WORLD_SIZE);
    // rem_euclid of a tiny negative number can round up to WORLD_SIZE itself.
    if r >= WORLD_SIZE {
        0.0
    } else {
        r
    }
}

/// Shortest signed difference `to - from` along one axis, across the edge when shorter.
pub fn wrap_delta(from: f64, to: f64) -> f64 {
    let d = to - from;
    let half = WORLD_SIZE / 2.0;
    if d > half {
        d - WORLD_SIZE
    } else if d < -half {
        d + WORLD_SIZE
    } else {
        d
    }
}

/// Squared wrap-aware distance between two points.
pub fn distance2(ax: f64, ay: f64, bx: f64, by: f64) -> f64 {
    let dx = wrap_delta(ax, bx);
    let dy = wrap_delta(ay, by);
    dx * dx + dy * dy
}

/// Degrees in [0, 360).
pub fn normalize_angle(a: f64) -> f64 {
    let r = a.rem_euclid(360.0);
    if r >= 360.0 {
        0.0
    } else {
        r
    }
}

/// Bearing in degrees, 0 along +x, clockwise (y grows downwards).
pub fn bearing(dx: f64, dy: f64) -> f64 {
    normalize_angle(dy.atan2(dx).to_degrees())
}

/// Signed shortest turn from `from` to `to`, in (-180, 180]; positive is clockwise.
pub fn angle_diff(from: f64, to: f64) -> f64 {
    let d = normalize_angle(to - from);
    if d > 180.0 {
        d - 360.0
    } else {
        d
    }
}

/// Unit vector of an angle in degrees.
pub fn heading(angle: f64) -> (f64, f64) {
    let r = angle.to_radians();
    (r.cos(), r.sin())
}
