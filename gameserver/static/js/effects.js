// Explosions (particles and a shock ring), "+1 kill" popups and the screen
// shake of the own ship's death, in world units, advanced once per frame.

const MAX_PARTICLES = 3000;

export class Effects {
  constructor() {
    this.particles = [];
    this.rings = [];
    this.popups = [];
    this.shake = 0;
  }

  count() {
    return this.particles.length + this.rings.length;
  }

  popup(x, y, text) {
    this.popups.push({ x, y, text, life: 1 });
  }

  explode(x, y, color, mine) {
    const n = mine ? 70 : 40;
    for (let i = 0; i < n && this.particles.length < MAX_PARTICLES; i++) {
      const a = Math.random() * Math.PI * 2;
      const sp = 0.5 + Math.random() * (mine ? 6 : 4.5);
      this.particles.push({
        x, y, vx: Math.cos(a) * sp, vy: Math.sin(a) * sp, life: 1, decay: 0.012 + Math.random() * 0.025,
        color: Math.random() < 0.55 ? color : Math.random() < 0.5 ? '#ffd27a' : '#fff4e0', size: 1 + Math.random() * 2.5,
      });
    }
    this.rings.push({ x, y, r: 4, life: 1 });
    if (mine) this.shake = 18;
  }

  update(dtSteps) {
    for (const p of this.particles) {
      p.x += p.vx * dtSteps;
      p.y += p.vy * dtSteps;
      p.vx *= 0.985;
      p.vy *= 0.985;
      p.life -= p.decay * dtSteps;
    }
    this.particles = this.particles.filter((p) => p.life > 0);
    for (const r of this.rings) {
      r.r += 3.2 * dtSteps;
      r.life -= 0.03 * dtSteps;
    }
    this.rings = this.rings.filter((r) => r.life > 0);
    for (const p of this.popups) {
      p.y -= 0.6 * dtSteps;
      p.life -= 0.012 * dtSteps;
    }
    this.popups = this.popups.filter((p) => p.life > 0);
    this.shake = Math.max(0, this.shake - 0.7 * dtSteps);
  }

  /** Draws onto `ctx`; `toScreen(x, y)` maps world units to the screen, or null when off it. */
  draw(ctx, toScreen) {
    ctx.save();
    ctx.globalCompositeOperation = 'lighter';
    for (const r of this.rings) {
      const p = toScreen(r.x, r.y);
      if (!p) continue;
      ctx.globalAlpha = r.life * 0.7;
      ctx.strokeStyle = '#ffb86b';
      ctx.lineWidth = 3 * r.life + 1;
      ctx.beginPath();
      ctx.arc(p.x, p.y, r.r * p.scale, 0, Math.PI * 2);
      ctx.stroke();
      if (r.life > 0.8) {
        ctx.globalAlpha = (r.life - 0.8) * 4;
        ctx.fillStyle = '#fff1c9';
        ctx.beginPath();
        ctx.arc(p.x, p.y, 40 * p.scale, 0, Math.PI * 2);
        ctx.fill();
      }
    }
    for (const q of this.particles) {
      const p = toScreen(q.x, q.y);
      if (!p) continue;
      ctx.globalAlpha = Math.min(1, q.life * 1.4);
      ctx.fillStyle = q.color;
      const s = q.size * p.scale;
      ctx.fillRect(p.x - s / 2, p.y - s / 2, s, s);
    }
    ctx.globalCompositeOperation = 'source-over';
    ctx.font = 'bold 20px system-ui, sans-serif';
    ctx.textAlign = 'center';
    for (const q of this.popups) {
      const p = toScreen(q.x, q.y - 40);
      if (!p) continue;
      ctx.globalAlpha = Math.min(1, q.life * 2);
      ctx.fillStyle = '#ffe27a';
      ctx.fillText(q.text, p.x, p.y);
    }
    ctx.restore();
  }
}
