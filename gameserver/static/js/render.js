// Draws one frame on the canvas: starfield, missiles, ships with their names,
// effects, edge pointers and the minimap, around a camera that follows the own
// ship across the wrapping world.
import { ringDelta, wrap } from './physics.js';
import { SPRITE_HALF, missileGlow, shipColor, shipSprite, starTile } from './sprites.js';
import { drawMinimap, drawPointers } from './minimap.js';

const VIEW_UNITS = 1400; // world units across the larger screen side
const SHIP_DRAW_SCALE = 1.25;
const OFFSCREEN_MARGIN = 80;

export class Renderer {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    // The camera keeps an unwrapped position too, so parallax layers never jump at the wrap.
    this.cam = { x: 1500, y: 1500, ux: 1500, uy: 1500, set: false };
    this.layers = null;
    this.drawnAt = new Map(); // ship id -> where it was last drawn, in world units
    this.drawnShips = 0;
  }

  /** Where ship `id` was last drawn (the position its explosion belongs at), if it was. */
  drawnPosition(id) {
    return this.drawnAt.get(id) || null;
  }

  moveCamera(x, y, size) {
    const cam = this.cam;
    if (!cam.set) {
      Object.assign(cam, { x, y, ux: x, uy: y, set: true });
      return;
    }
    const dx = ringDelta(cam.x, x, size.w);
    const dy = ringDelta(cam.y, y, size.h);
    // Follow tightly, but glide when the ship jumps (respawn, resume).
    const k = Math.hypot(dx, dy) > 200 ? 0.12 : 1;
    cam.x = wrap(cam.x + dx * k, size.w);
    cam.y = wrap(cam.y + dy * k, size.h);
    cam.ux += dx * k;
    cam.uy += dy * k;
  }

  resize() {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.floor(innerWidth * dpr));
    const h = Math.max(1, Math.floor(innerHeight * dpr));
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
    }
    return dpr;
  }

  /**
   * One frame. `scene`: { world, ownId, own (the predicted own ship or null),
   * tRender, tPred, stepsPerUpdate, missileLife, nameOf(shipId), touchMode,
   * effects, inRoom (false behind the start screen) }.
   */
  draw(scene) {
    const { ctx, canvas } = this;
    const dpr = this.resize();
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const w = canvas.width / dpr;
    const h = canvas.height / dpr;
    const scale = Math.max(w, h) / VIEW_UNITS;
    const size = scene.world.size;
    if (scene.own) this.moveCamera(scene.own.x, scene.own.y, size);
    const sh = scene.effects.shake;
    const shakeX = sh ? (Math.random() - 0.5) * sh : 0;
    const shakeY = sh ? (Math.random() - 0.5) * sh : 0;

    ctx.fillStyle = '#05060d';
    ctx.fillRect(0, 0, w, h);
    this.drawStars(w, h, scale);

    const toScreen = (x, y) => {
      const sx = w / 2 + ringDelta(this.cam.x, x, size.w) * scale + shakeX;
      const sy = h / 2 + ringDelta(this.cam.y, y, size.h) * scale + shakeY;
      const m = OFFSCREEN_MARGIN;
      if (sx < -m || sy < -m || sx > w + m || sy > h + m) return null;
      return { x: sx, y: sy, scale };
    };
    this.drawMissiles(scene, toScreen, scale);
    this.drawShips(scene, toScreen, scale, dpr);
    scene.effects.draw(ctx, toScreen);
    const map = { ctx, w, h, scale, cam: this.cam, size, ownId: scene.ownId, drawnAt: this.drawnAt };
    if (scene.own) drawPointers(map, scene.world.ships);
    if (scene.inRoom) drawMinimap(map, scene.world.ships, scene.own, scene.touchMode);
  }

  drawMissiles(scene, toScreen, scale) {
    const { ctx } = this;
    const { world, ownId, stepsPerUpdate } = scene;
    ctx.save();
    ctx.globalCompositeOperation = 'lighter';
    for (const m of world.missiles.values()) {
      const t = m.ship === ownId ? scene.tPred : scene.tRender;
      const dt = t - m.step;
      // Not fired yet at this clock, or overdue for its removal (updates stalled).
      if (dt < -stepsPerUpdate || dt > scene.missileLife + 2 * stepsPerUpdate) continue;
      const p = toScreen(wrap(m.x + m.vx * dt, world.size.w), wrap(m.y + m.vy * dt, world.size.h));
      if (!p) continue;
      const shooter = world.ships.get(m.ship);
      this.drawMissile(p.x, p.y, m.vx, m.vy, shooter ? shipColor(shooter, ownId) : '#ffd27a', scale);
    }
    ctx.restore();
  }

  drawShips(scene, toScreen, scale, dpr) {
    const { ctx } = this;
    const { world, ownId, own } = scene;
    const labels = [];
    let drawn = 0;
    for (const ship of world.ships.values()) {
      const mine = ship.id === ownId && own;
      const s = mine ? own : world.interpolated(ship, scene.tRender, scene.stepsPerUpdate);
      this.drawnAt.set(ship.id, { x: s.x, y: s.y });
      const p = toScreen(s.x, s.y);
      if (!p) continue;
      drawn++;
      this.drawShip(p.x, p.y, s.angle, shipColor(ship, ownId), mine ? s.thrust > 0 : s.thrust, scale, !!mine, dpr);
      const name = scene.nameOf(ship.id);
      if (name) labels.push({ x: p.x, y: p.y + 34 * scale, text: name, mine: !!mine });
    }
    for (const id of this.drawnAt.keys()) if (!world.ships.has(id)) this.drawnAt.delete(id);
    ctx.font = `${Math.round(11 + scale * 2)}px system-ui, sans-serif`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (const l of labels) {
      ctx.fillStyle = l.mine ? 'rgba(140, 250, 255, 0.95)' : 'rgba(230, 236, 255, 0.75)';
      ctx.fillText(l.text, l.x, l.y);
    }
    this.drawnShips = drawn;
  }

  drawShip(x, y, angle, color, thrust, scale, mine, dpr) {
    const { ctx } = this;
    const unit = scale * SHIP_DRAW_SCALE;
    const sprite = shipSprite(color, mine, Math.round(unit * dpr * 100) / 100);
    ctx.save();
    ctx.translate(x, y);
    ctx.rotate((angle * Math.PI) / 180);
    ctx.scale(unit, unit);
    ctx.drawImage(sprite, -SPRITE_HALF, -SPRITE_HALF, SPRITE_HALF * 2, SPRITE_HALF * 2);
    if (thrust) {
      ctx.globalCompositeOperation = 'lighter';
      const len = 20 + Math.random() * 16;
      const grad = ctx.createLinearGradient(-10, 0, -10 - len, 0);
      grad.addColorStop(0, 'rgba(255, 244, 200, 0.95)');
      grad.addColorStop(0.35, 'rgba(255, 160, 50, 0.85)');
      grad.addColorStop(1, 'rgba(255, 60, 20, 0)');
      ctx.fillStyle = grad;
      ctx.beginPath();
      ctx.moveTo(-10.5, -5.5);
      ctx.quadraticCurveTo(-12 - len * 0.5, -3, -10 - len, 0);
      ctx.quadraticCurveTo(-12 - len * 0.5, 3, -10.5, 5.5);
      ctx.closePath();
      ctx.fill();
      ctx.globalCompositeOperation = 'source-over';
    }
    ctx.restore();
  }

  drawMissile(x, y, vx, vy, color, scale) {
    const { ctx } = this;
    const sp = Math.hypot(vx, vy) || 1;
    const len = 24 * scale;
    ctx.strokeStyle = color;
    ctx.globalAlpha = 0.75;
    ctx.lineWidth = 3 * scale;
    ctx.beginPath();
    ctx.moveTo(x, y);
    ctx.lineTo(x - (vx / sp) * len, y - (vy / sp) * len);
    ctx.stroke();
    ctx.globalAlpha = 1;
    const r = 9 * scale;
    ctx.drawImage(missileGlow(), x - r, y - r, r * 2, r * 2);
  }

  drawStars(w, h, scale) {
    const { ctx, cam } = this;
    if (!this.layers) {
      this.layers = [
        // Nebula and faint far stars share one layer: every layer is a full-screen fill.
        { canvas: starTile(1024, 360, 7, { nebula: true, minB: 0.12, r: 0.7 }), parallax: 0.12 },
        { canvas: starTile(600, 60, 11, { minB: 0.3, r: 1.0 }), parallax: 0.45 },
        // World-fixed dust: its 750-unit period divides the world size, so the wrap is seamless.
        { canvas: starTile(750, 22, 5, { minB: 0.25, r: 1.3 }), parallax: 1, world: true },
      ];
      for (const l of this.layers) l.pattern = ctx.createPattern(l.canvas, 'repeat');
    }
    for (const l of this.layers) {
      const k = l.world ? scale : 1;
      const ox = (w / 2 - cam.ux * l.parallax * k) / k;
      const oy = (h / 2 - cam.uy * l.parallax * k) / k;
      const size = l.canvas.width;
      const tx = ((ox % size) + size) % size;
      const ty = ((oy % size) + size) % size;
      ctx.save();
      ctx.scale(k, k);
      ctx.translate(tx, ty);
      ctx.fillStyle = l.pattern;
      ctx.fillRect(-tx, -ty, w / k, h / k);
      ctx.restore();
    }
  }
}
