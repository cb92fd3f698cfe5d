// What the canvas stamps instead of drawing paths per object: ship sprites per
// colour and zoom, the missile glow, and the tiles of the starfield. Also the
// colour of each ship.

/** Sprite half-size in ship units: hull plus glow. */
export const SPRITE_HALF = 40;
const OWN_HUE = 188;

function shipHue(ship, ownShipId) {
  if (ship.player === 0) return 8;
  if (ship.id === ownShipId) return OWN_HUE;
  // Spread the other players around the wheel, away from the own cyan and the bots' red.
  return 40 + ((ship.player * 137.508) % 120) + (ship.player % 2 ? 170 : 0);
}

export const shipColor = (ship, ownShipId) => `hsl(${shipHue(ship, ownShipId) % 360}, 95%, 62%)`;

// Hull and glow are the same every frame for a colour and zoom: draw them once into
// an offscreen canvas and stamp it, which costs far less than paths and gradients
// per ship when hundreds are on screen.
let cache = new Map();
let cachedK = 0;

export function shipSprite(color, mine, k) {
  if (k !== cachedK) {
    cache = new Map();
    cachedK = k;
  }
  const key = `${color}|${mine}`;
  let c = cache.get(key);
  if (c) return c;
  c = document.createElement('canvas');
  c.width = c.height = Math.ceil(SPRITE_HALF * 2 * k);
  const g = c.getContext('2d');
  g.scale(k, k);
  g.translate(SPRITE_HALF, SPRITE_HALF);
  const glow = g.createRadialGradient(0, 0, 4, 0, 0, mine ? 34 : 28);
  glow.addColorStop(0, color.replace('hsl(', 'hsla(').replace(')', mine ? ', 0.38)' : ', 0.26)'));
  glow.addColorStop(1, color.replace('hsl(', 'hsla(').replace(')', ', 0)'));
  g.fillStyle = glow;
  g.fillRect(-SPRITE_HALF, -SPRITE_HALF, SPRITE_HALF * 2, SPRITE_HALF * 2);
  g.beginPath();
  g.moveTo(22, 0);
  g.lineTo(-14, 15);
  g.lineTo(-8, 0);
  g.lineTo(-14, -15);
  g.closePath();
  const hull = g.createLinearGradient(0, -15, 0, 15);
  hull.addColorStop(0, color);
  hull.addColorStop(0.5, 'rgba(255, 255, 255, 0.9)');
  hull.addColorStop(0.56, color);
  hull.addColorStop(1, color);
  g.fillStyle = hull;
  g.fill();
  g.lineWidth = 1.4;
  g.strokeStyle = 'rgba(255, 255, 255, 0.7)';
  g.stroke();
  g.fillStyle = 'rgba(10, 20, 40, 0.85)';
  g.beginPath();
  g.ellipse(4, 0, 6, 3.2, 0, 0, Math.PI * 2);
  g.fill();
  cache.set(key, c);
  return c;
}

let glowDot = null;

export function missileGlow() {
  if (glowDot) return glowDot;
  glowDot = document.createElement('canvas');
  glowDot.width = glowDot.height = 32;
  const g = glowDot.getContext('2d');
  const grad = g.createRadialGradient(16, 16, 0, 16, 16, 16);
  grad.addColorStop(0, 'rgba(255, 252, 235, 1)');
  grad.addColorStop(0.2, 'rgba(255, 245, 210, 0.9)');
  grad.addColorStop(0.45, 'rgba(255, 230, 180, 0.25)');
  grad.addColorStop(1, 'rgba(255, 230, 180, 0)');
  g.fillStyle = grad;
  g.fillRect(0, 0, 32, 32);
  return glowDot;
}

/** A square, seamlessly repeating tile of `count` stars (and nebulae when asked). */
export function starTile(size, count, seed, opts) {
  const c = document.createElement('canvas');
  c.width = c.height = size;
  const g = c.getContext('2d');
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  if (opts.nebula) {
    for (let i = 0; i < 7; i++) {
      const x = rnd() * size;
      const y = rnd() * size;
      const r = size * (0.15 + rnd() * 0.3);
      const hue = [230, 270, 200, 320][i % 4];
      for (const dx of [-size, 0, size]) {
        for (const dy of [-size, 0, size]) {
          const grad = g.createRadialGradient(x + dx, y + dy, 0, x + dx, y + dy, r);
          grad.addColorStop(0, `hsla(${hue}, 70%, 45%, 0.13)`);
          grad.addColorStop(1, `hsla(${hue}, 70%, 30%, 0)`);
          g.fillStyle = grad;
          g.fillRect(x + dx - r, y + dy - r, r * 2, r * 2);
        }
      }
    }
  }
  for (let i = 0; i < count; i++) {
    const x = rnd() * size;
    const y = rnd() * size;
    const b = opts.minB + rnd() * (1 - opts.minB);
    const hue = rnd() < 0.2 ? 30 : rnd() < 0.4 ? 210 : 0;
    g.fillStyle = `hsla(${hue}, ${hue ? 60 : 0}%, ${70 + b * 30}%, ${b})`;
    const r = opts.r * (0.5 + rnd());
    g.beginPath();
    g.arc(x, y, r, 0, Math.PI * 2);
    g.fill();
  }
  return c;
}
