// Orientation aids drawn over the game: the minimap of the whole world and
// arrows on the screen edge towards the nearest ships out of view.
import { ringDelta } from './physics.js';
import { shipColor } from './sprites.js';
import { MirroredWorld } from './world.js';

const POINTERS = 3;

/**
 * `map`: { ctx, w, h, scale, cam, size, ownId, drawnAt } with `drawnAt` the
 * renderer's last drawn position per ship id.
 */
export function drawMinimap(map, ships, ownPos, touchMode) {
  const { ctx, w, h, scale, cam } = map;
  const size = Math.min(170, Math.max(100, Math.min(w, h) * 0.22));
  const x0 = 12;
  // The touch buttons own the bottom corners; the minimap moves under the status then.
  const y0 = touchMode ? 52 : h - size - 12;
  const k = size / map.size.w;
  ctx.save();
  ctx.fillStyle = 'rgba(10, 14, 30, 0.62)';
  ctx.strokeStyle = 'rgba(120, 160, 255, 0.3)';
  ctx.lineWidth = 1;
  ctx.fillRect(x0, y0, size, size);
  ctx.strokeRect(x0 + 0.5, y0 + 0.5, size - 1, size - 1);
  ctx.beginPath();
  ctx.rect(x0, y0, size, size);
  ctx.clip();
  for (const ship of ships.values()) {
    if (ship.id === map.ownId) continue;
    const p = map.drawnAt.get(ship.id) || MirroredWorld.latest(ship);
    ctx.fillStyle = ship.player === 0 ? '#ff6f61' : shipColor(ship, map.ownId);
    ctx.fillRect(x0 + p.x * k - 1.5, y0 + p.y * k - 1.5, 3, 3);
  }
  const vw = (w / scale) * k;
  const vh = (h / scale) * k;
  ctx.strokeStyle = 'rgba(255, 255, 255, 0.25)';
  // The view wraps too: draw its rectangle once per side it crosses.
  for (const ox of [-size, 0, size]) {
    for (const oy of [-size, 0, size]) {
      ctx.strokeRect(x0 + ox + cam.x * k - vw / 2, y0 + oy + cam.y * k - vh / 2, vw, vh);
    }
  }
  if (ownPos) {
    ctx.fillStyle = '#7ff6ff';
    ctx.beginPath();
    ctx.arc(x0 + ownPos.x * k, y0 + ownPos.y * k, 3.5, 0, Math.PI * 2);
    ctx.fill();
  }
  ctx.restore();
}

// A player in an empty part of the world sees where the fight is.
export function drawPointers(map, ships) {
  const { ctx, w, h, scale, cam } = map;
  const halfW = w / 2 / scale;
  const halfH = h / 2 / scale;
  const away = [];
  for (const ship of ships.values()) {
    const at = map.drawnAt.get(ship.id);
    if (ship.id === map.ownId || !at) continue;
    const dx = ringDelta(cam.x, at.x, map.size.w);
    const dy = ringDelta(cam.y, at.y, map.size.h);
    if (Math.abs(dx) < halfW && Math.abs(dy) < halfH) continue;
    away.push({ ship, dx, dy, d: Math.hypot(dx, dy) });
  }
  away.sort((a, b) => a.d - b.d);
  const transform = ctx.getTransform();
  ctx.save();
  for (const a of away.slice(0, POINTERS)) {
    // Where the line from the centre towards the ship leaves the screen, inset a little.
    const k = Math.min((w / 2 - 18) / Math.abs(a.dx * scale || 1e-9), (h / 2 - 18) / Math.abs(a.dy * scale || 1e-9));
    ctx.globalAlpha = Math.max(0.5, 1 - a.d / 1500);
    ctx.fillStyle = shipColor(a.ship, map.ownId);
    ctx.translate(w / 2 + a.dx * scale * k, h / 2 + a.dy * scale * k);
    ctx.rotate(Math.atan2(a.dy, a.dx));
    ctx.beginPath();
    ctx.moveTo(9, 0);
    ctx.lineTo(-6, 7);
    ctx.lineTo(-6, -7);
    ctx.closePath();
    ctx.fill();
    ctx.setTransform(transform);
  }
  ctx.restore();
}
