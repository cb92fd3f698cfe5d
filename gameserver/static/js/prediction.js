// The own ship, predicted: the server's latest state of it replayed with the
// inputs the server has not applied yet, so keys act at once; corrections from
// the server are eased out instead of jumping.
import { applyInput, move, ringDelta, wrap, wrapAngle } from './physics.js';
import { MirroredWorld } from './world.js';

const MAX_PREDICT_STEPS = 180;
const MAX_PENDING = 240;
/** A correction larger than this (a teleport, a resume) snaps instead of easing. */
const SNAP_UNITS = 120;

export class OwnShip {
  constructor(clock, world) {
    this.clock = clock;
    this.world = world;
    this.shipId = 0;
    // False also while disconnected, when `shipId` still names the last ship.
    this.alive = false;
    this.lostShipId = 0;
    this.seq = 0;
    this.pending = []; // inputs not yet applied by the server: { seq, keys, step }
    this.base = null; // server state of the own ship at base.step
    this.predicted = null;
    this.visualOffset = { x: 0, y: 0, angle: 0 };
    this.corrections = { n: 0, sum: 0, max: 0 };
  }

  /** A `welcome`: a resumed player keeps counting its inputs where it left off. */
  welcome(resumed) {
    this.pending = [];
    if (!resumed) this.seq = 0;
  }

  /** The server gave this player ship `shipId` (0: it was destroyed). */
  setShip(shipId) {
    const lost = this.shipId;
    this.shipId = shipId;
    this.alive = shipId !== 0;
    if (!this.alive) {
      this.lostShipId = lost;
      this.clear();
      return;
    }
    // A new ship starts somewhere else: do not ease from the old one.
    this.visualOffset = { x: 0, y: 0, angle: 0 };
    const s = this.world.ships.get(shipId);
    this.base = s ? MirroredWorld.latest(s) : null;
  }

  /** The connection ended: nothing to fly until the next `welcome`. */
  disconnected() {
    this.alive = false;
    this.clear();
  }

  clear() {
    this.base = null;
    this.predicted = null;
    this.pending = [];
  }

  /** Records an input about to be sent; returns its sequence number. */
  record(keys, now) {
    this.seq = (this.seq + 1) >>> 0;
    this.pending.push({ seq: this.seq, keys, step: Math.floor(this.clock.predicted(now)) + 1 });
    if (this.pending.length > MAX_PENDING) this.pending.shift();
    return this.seq;
  }

  /** Where the own ship is predicted right now, or null; call before an update is applied. */
  beforeUpdate(now) {
    return this.alive && this.base ? this.predict(this.clock.predicted(now)) : null;
  }

  /** After an update: take the server's state as the new base and ease out the difference. */
  reconcile(lastInputSeq, step, before, now) {
    // An earlier page of this session may have sent more inputs than this one.
    if (lastInputSeq > this.seq) this.seq = lastInputSeq;
    this.pending = this.pending.filter((p) => p.seq > lastInputSeq);
    const mine = this.alive ? this.world.ships.get(this.shipId) : null;
    if (!mine) return;
    this.base = { ...MirroredWorld.latest(mine), step };
    if (!before) return;
    const { w, h } = this.world.size;
    const after = this.predict(this.clock.predicted(now));
    const cx = ringDelta(after.x, before.x, w);
    const cy = ringDelta(after.y, before.y, h);
    this.noteCorrection(Math.hypot(cx, cy));
    const o = this.visualOffset;
    const dx = cx + o.x;
    const dy = cy + o.y;
    const snap = Math.hypot(dx, dy) > SNAP_UNITS;
    this.visualOffset = {
      x: snap ? 0 : dx,
      y: snap ? 0 : dy,
      angle: snap ? 0 : ringDelta(after.angle, before.angle, 360) + o.angle,
    };
  }

  // How far each server update moved the predicted own ship: the prediction's error.
  noteCorrection(units) {
    const c = this.corrections;
    c.n++;
    c.sum += units;
    c.max = Math.max(c.max, units);
  }

  /** Once per animation frame: the position to draw, the visual offset decaying. */
  frame(now, dtSteps) {
    if (!this.alive || !this.base) {
      this.predicted = null;
      return;
    }
    const { w, h } = this.world.size;
    const p = this.predict(this.clock.predicted(now));
    const o = this.visualOffset;
    this.predicted = {
      x: wrap(p.x + o.x, w), y: wrap(p.y + o.y, h), angle: wrapAngle(p.angle + o.angle), thrust: p.thrust,
    };
    const decay = 0.88 ** dtSteps;
    o.x *= decay;
    o.y *= decay;
    o.angle *= decay;
  }

  /** Own ship at step `toStepEstimate`: the server state replayed with the inputs it has not applied yet. */
  predict(toStepEstimate) {
    const c = this.clock.consts;
    const base = this.base;
    // Never show the own ship behind the server's state: inputs just sent must show.
    const toStep = Math.max(toStepEstimate, base.step + 1);
    const s = { ...base };
    s.thrust = s.thrust ? 5 : 0;
    const end = Math.min(Math.floor(toStep), base.step + MAX_PREDICT_STEPS);
    let i = 0;
    for (let k = base.step + 1; k <= end; k++) {
      while (i < this.pending.length && this.pending[i].step <= k) applyInput(s, this.pending[i++].keys, c);
      move(s, c);
      if (s.thrust > 0) s.thrust--;
    }
    // Sub-step position so 60 fps rendering does not judder against 60 steps/s.
    const frac = Math.max(0, toStep - Math.max(end, base.step));
    if (frac < 1) {
      s.x = wrap(s.x + s.vx * frac, c.worldWidth);
      s.y = wrap(s.y + s.vy * frac, c.worldHeight);
    }
    return s;
  }
}
