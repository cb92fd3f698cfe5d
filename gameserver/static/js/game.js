// What the server's messages mean for this player: joining, the own ship
// coming and going, kills, scores and errors, handed on to the world mirror,
// the prediction, the HUD, the kill feed, effects and sound.
import { encodeInput, encodeRestart } from './protocol.js';
import { shipColor } from './sprites.js';
import { MirroredWorld } from './world.js';

/** Enter and "try again" ask for a new ship at most this often. */
const RESTART_EVERY_MS = 1000;

export class Game {
  /** `parts`: clock, world, own, scores, hud, feed, effects, sound, renderer, and later `conn`. */
  constructor(parts) {
    Object.assign(this, parts);
    this.conn = null;
    this.playerId = 0;
    this.resumed = false;
    this.deaths = 0;
    this.myKills = null;
    this.lastKill = null; // { victim, name } of the newest `killed` message
    this.restartAskedAt = -Infinity;
    this.ownShots = 0;
  }

  onMessage(m, now) {
    switch (m.type) {
      case 'welcome': this.welcome(m, now); break;
      case 'update': this.update(m, now); break;
      case 'score': this.score(m); break;
      case 'your_ship': this.setShip(m.shipId); break;
      case 'killed': this.killed(m); break;
      case 'error': this.hud.toast(this.conn.lastServerError); break;
      case 'pong':
        this.clock.noteRtt(m.rttMs);
        this.statusChanged();
        break;
      default: break;
    }
  }

  welcome(m, now) {
    this.clock.reset(m.consts, m.step, now);
    this.world.joined(m.consts);
    this.playerId = m.playerId;
    this.resumed = m.resumed;
    this.own.welcome(m.resumed);
    this.setShip(m.shipId);
  }

  setShip(shipId) {
    const wasAlive = this.own.alive;
    this.own.setShip(shipId);
    const connected = this.conn.status === 'connected';
    if (!this.own.alive) {
      // `killed` and `your_ship` may arrive in either order.
      const lost = this.own.lostShipId;
      this.hud.killer(this.lastKill && this.lastKill.victim === lost ? this.lastKill.name : null);
      if (wasAlive && connected) this.sound.death();
    }
    this.hud.dead(!this.own.alive && connected, () => !this.own.alive && this.conn.status === 'connected');
  }

  isOwn(shipId) {
    return shipId !== 0 && (shipId === this.own.shipId || shipId === this.own.lostShipId);
  }

  update(m, now) {
    const before = this.own.beforeUpdate(now);
    this.clock.sample(m.step, now);
    const { removedShips, fired } = this.world.apply(m);
    for (const ship of removedShips) this.explode(ship);
    for (const missile of fired) {
      if (missile.ship === this.own.shipId) this.ownShots++;
      this.sound.fire(missile.x, missile.y);
    }
    this.own.reconcile(m.lastInputSeq, m.step, before, now);
  }

  explode(ship) {
    const mine = this.isOwn(ship.id);
    const at = (ship.id === this.own.shipId && this.own.predicted)
      || this.renderer.drawnPosition(ship.id)
      || MirroredWorld.latest(ship);
    this.effects.explode(at.x, at.y, shipColor(ship, this.own.shipId), mine);
    // The own ship has its own sound, played when the server says it was destroyed.
    if (!mine) this.sound.hit(at.x, at.y);
  }

  killed(m) {
    this.lastKill = { victim: m.victimShip, name: m.shooterName || null };
    if (this.isOwn(m.victimShip)) this.hud.killer(this.lastKill.name);
    const victimShip = this.world.ships.get(m.victimShip);
    const victim = this.scores.nameOf(m.victimShip, victimShip ? victimShip.player : 0) || 'a ship';
    const shooter = m.shooterName || 'a missile';
    this.feed.add(shooter, victim, this.isOwn(m.shooterShip) || this.isOwn(m.victimShip));
  }

  score(m) {
    this.scores.update(m.entries);
    const mine = this.scores.of(this.playerId);
    if (mine) {
      this.deaths = mine.deaths;
      const gained = this.myKills && this.myKills.ship === mine.ship ? mine.kills - this.myKills.kills : 0;
      const at = this.own.predicted;
      if (gained > 0 && at) this.effects.popup(at.x, at.y, `+${gained} kill${gained > 1 ? 's' : ''}`);
      this.myKills = { ship: mine.ship, kills: mine.kills };
    }
    this.hud.scoreboard(this.scores.sorted, this.playerId);
  }

  /** Enter or "try again": a new ship after the own one was destroyed. */
  restart() {
    const now = performance.now();
    if (this.own.alive || this.conn.status !== 'connected' || now - this.restartAskedAt < RESTART_EVERY_MS) return;
    this.restartAskedAt = now;
    this.conn.send(encodeRestart());
  }

  /** Enter: back into the game after a pause, or a new ship. */
  enter() {
    if (!this.conn) return;
    if (this.conn.status === 'paused') this.resume();
    else this.restart();
  }

  resume() {
    this.hud.unpause();
    this.conn.resume();
  }

  statusChanged() {
    const c = this.conn;
    this.hud.status(c.status, c.attempt, this.clock.rttMs);
    if (c.status === 'connected') return;
    this.own.disconnected();
    this.hud.dead(false);
    if (c.status === 'paused') this.hud.paused(c.pauseText);
    if (c.status === 'failed') this.hud.fatal(c.fatalError);
  }

  /** Once per frame, before drawing: send the held keys as an input, at most 60 a second. */
  sendInput(bits, now) {
    if (!bits || !this.own.alive || this.conn.status !== 'connected' || !this.conn.isOpen()) return false;
    const seq = this.own.record(bits, now);
    return this.conn.send(encodeInput(seq, bits));
  }
}
