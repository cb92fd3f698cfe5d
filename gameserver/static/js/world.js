// The page's mirror of the room: ships with a short history of server states
// (for interpolation) and missiles in flight, kept up to date by `update`
// messages (docs/protocol.md, "Update body").
import { ringDelta, wrap, wrapAngle } from './physics.js';

const MAX_HISTORY = 4;

export class MirroredWorld {
  constructor() {
    this.size = { w: 3000, h: 3000 };
    this.ships = new Map(); // id -> { id, player, hist: [{ step, x, y, vx, vy, angle, thrust }] }
    this.missiles = new Map(); // id -> { id, ship, x, y, vx, vy, step }
    this.updates = 0;
    this.lastInputSeq = 0;
    // Set by a (re)join: the next full update replaces everything held.
    this.freshJoin = true;
  }

  joined(consts) {
    this.size = { w: consts.worldWidth, h: consts.worldHeight };
    this.freshJoin = true;
  }

  /**
   * Applies one update. Returns what happened in it, for effects and sound:
   * `removedShips` (ships destroyed or gone, with their last known position) and
   * `fired` (new missiles).
   */
  apply(m) {
    this.updates++;
    this.lastInputSeq = m.lastInputSeq;
    const removedShips = m.full ? this.replaceAll(m) : [];
    this.freshJoin = false;
    const touched = new Set();
    for (const s of m.newShips) {
      // A full update lists known ships again: keep their history so they stay smooth.
      let ship = this.ships.get(s.id);
      if (!ship || ship.player !== s.player) {
        ship = { id: s.id, player: s.player, hist: [] };
        this.ships.set(s.id, ship);
      }
      pushHistory(ship, m.step, s);
      touched.add(s.id);
    }
    for (const s of m.movedShips) {
      const ship = this.ships.get(s.id);
      if (!ship) continue; // cannot happen with a consistent server; nothing to move
      pushHistory(ship, m.step, s);
      touched.add(s.id);
    }
    // Ships left out of a delta kept their quantized motion.
    for (const ship of this.ships.values()) {
      if (!touched.has(ship.id)) pushHistory(ship, m.step, ship.hist[ship.hist.length - 1]);
    }
    const fired = [];
    for (const mi of m.newMissiles) {
      const missile = { ...mi, step: m.step };
      this.missiles.set(mi.id, missile);
      // A full update lists every missile in flight, not only those just fired.
      if (!m.full) fired.push(missile);
    }
    for (const id of m.removed) {
      const ship = this.ships.get(id);
      if (ship) {
        removedShips.push(ship);
        this.ships.delete(id);
      } else {
        this.missiles.delete(id);
      }
    }
    return { removedShips, fired };
  }

  // A full update is everything that exists. Ships it leaves out went away in updates
  // this client missed: they explode like any removed ship, except in the first update
  // after a (re)join, when what the page held may come from an older connection.
  replaceAll(m) {
    this.missiles.clear();
    if (this.freshJoin) {
      // Ids restart with a new server process: nothing held before can be trusted.
      this.ships.clear();
      return [];
    }
    const present = new Set(m.newShips.map((s) => s.id));
    const gone = [];
    for (const [id, ship] of this.ships) {
      if (present.has(id)) continue;
      gone.push(ship);
      this.ships.delete(id);
    }
    return gone;
  }

  /** Where the server last put `ship`: the newest entry of its history. */
  static latest(ship) {
    const h = ship.hist[ship.hist.length - 1];
    return { step: h.step, x: h.x, y: h.y, vx: h.vx, vy: h.vy, angle: h.angle, thrust: h.thrust ? 1 : 0 };
  }

  /** `ship` at (fractional) step `t`, between the two updates around it. */
  interpolated(ship, t, stepsPerUpdate) {
    const h = ship.hist;
    const { w, h: ht } = this.size;
    let a = h[0];
    let b = h[h.length - 1];
    if (t >= b.step) {
      // Past the newest update: extrapolate a little with its velocity.
      const dt = Math.min(t - b.step, stepsPerUpdate * 2);
      return { x: wrap(b.x + b.vx * dt, w), y: wrap(b.y + b.vy * dt, ht), angle: b.angle, thrust: b.thrust };
    }
    for (let i = h.length - 1; i > 0; i--) {
      if (h[i - 1].step <= t) {
        a = h[i - 1];
        b = h[i];
        break;
      }
    }
    if (t <= a.step || b.step === a.step) return { x: a.x, y: a.y, angle: a.angle, thrust: a.thrust };
    const f = (t - a.step) / (b.step - a.step);
    return {
      x: wrap(a.x + ringDelta(a.x, b.x, w) * f, w),
      y: wrap(a.y + ringDelta(a.y, b.y, ht) * f, ht),
      angle: wrapAngle(a.angle + ringDelta(a.angle, b.angle, 360) * f),
      thrust: f < 0.5 ? a.thrust : b.thrust,
    };
  }
}

function pushHistory(ship, step, mo) {
  ship.hist.push({ step, x: mo.x, y: mo.y, vx: mo.vx, vy: mo.vy, angle: mo.angle, thrust: mo.thrust });
  if (ship.hist.length > MAX_HISTORY) ship.hist.shift();
}
