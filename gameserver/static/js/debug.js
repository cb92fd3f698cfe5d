// `window.spaaace`: a read-only view of the client for the browser tests and
// for debugging by hand. Plain data, a fresh copy per call, and the pure
// decoder (it touches no game state).
import { decode } from './protocol.js';

const round = (v) => Math.round(v * 1000) / 1000;

/** `parts` are the modules of main.js; `loop` gives frames, fps and frame time. */
export function installDebugView(parts, loop) {
  const { lobby, clock, world, own, game, renderer, effects, feed, sound, controls } = parts;
  window.spaaace = Object.freeze({
    decode(bytes) {
      return decode(Uint8Array.from(bytes).buffer, world.size);
    },
    state() {
      const conn = game.conn;
      const mine = game.scores.of(game.playerId);
      const base = own.base;
      const p = own.predicted;
      return {
        screen: lobby.screen,
        inviteLink: lobby.inviteLink,
        connected: conn ? conn.status === 'connected' : false,
        status: conn ? conn.status : 'idle',
        error: conn ? conn.fatalError : null,
        serverError: conn ? conn.lastServerError : null,
        room: lobby.room,
        playerId: game.playerId,
        shipId: own.shipId,
        alive: own.alive,
        resumed: game.resumed,
        reconnects: conn ? conn.reconnects : 0,
        lastCloseCode: conn ? conn.lastCloseCode : null,
        name: mine ? mine.name : null,
        kills: mine ? mine.kills : 0,
        deaths: game.deaths,
        myShip: p ? { x: round(p.x), y: round(p.y), angle: round(p.angle) } : null,
        serverShip: base ? { x: round(base.x), y: round(base.y), angle: round(base.angle), step: base.step } : null,
        ships: world.ships.size,
        missiles: world.missiles.size,
        ownShots: game.ownShots,
        drawnShips: renderer.drawnShips,
        effects: effects.count(),
        killFeed: feed.entries(),
        audio: sound.stats(),
        updates: world.updates,
        lastStep: clock.lastStep,
        lastInputSeq: world.lastInputSeq,
        inputSeq: own.seq,
        pendingInputs: own.pending.length,
        keys: controls.keys(),
        frames: loop.frames,
        fps: round(loop.fps),
        frameMs: round(loop.renderMs),
        prediction: {
          corrections: own.corrections.n,
          meanUnits: round(own.corrections.n ? own.corrections.sum / own.corrections.n : 0),
          maxUnits: round(own.corrections.max),
        },
        rttMs: round(clock.rttMs),
      };
    },
  });
}
