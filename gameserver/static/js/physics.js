// Ship motion rules (../shared/spaaace-rules.md), used to predict the own ship,
// and the arithmetic of a world that wraps at its edges. Pure functions.
import { KEY_BITS } from './protocol.js';

const DEG = Math.PI / 180;
/** Steps the thrust flame shows after a thrust input, as on the server. */
export const THRUST_SHOW_STEPS = 5;

export const wrapAngle = (a) => ((a % 360) + 360) % 360;
export const wrap = (v, size) => (v >= size ? v - size : v < 0 ? v + size : v);

/** Shortest signed difference b - a on a ring of `size`. */
export function ringDelta(a, b, size) {
  let d = (b - a) % size;
  if (d >= size / 2) d -= size;
  else if (d < -size / 2) d += size;
  return d;
}

/** One input on ship state `s`, in the server's order: turn first, then thrust along the new heading. */
export function applyInput(s, keys, c) {
  if (keys & KEY_BITS.left) s.angle = wrapAngle(s.angle - c.turnDegrees);
  if (keys & KEY_BITS.right) s.angle = wrapAngle(s.angle + c.turnDegrees);
  if (keys & KEY_BITS.up) {
    s.vx += c.shipAccel * Math.cos(s.angle * DEG);
    s.vy += c.shipAccel * Math.sin(s.angle * DEG);
    s.thrust = THRUST_SHOW_STEPS;
  }
}

/** One step of motion: speed capped, position wrapped. */
export function move(s, c) {
  const speed = Math.hypot(s.vx, s.vy);
  if (speed > c.shipMaxSpeed) {
    s.vx *= c.shipMaxSpeed / speed;
    s.vy *= c.shipMaxSpeed / speed;
  }
  s.x = wrap(s.x + s.vx, c.worldWidth);
  s.y = wrap(s.y + s.vy, c.worldHeight);
}
