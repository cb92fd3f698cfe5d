// The wire format of docs/protocol.md (version 1): decoding server frames and
// encoding client messages. Pure functions; no game state.

export const VERSION = 1;
const C2S = { JOIN: 0x01, INPUT: 0x02, RESTART: 0x03, PING: 0x04 };
const S2C = { WELCOME: 0x81, UPDATE: 0x82, SCORE: 0x83, PONG: 0x84, ERROR: 0x85, YOUR_SHIP: 0x86, KILLED: 0x87 };
export const KEY_BITS = { up: 1, left: 2, right: 4, fire: 8 };

/** WebSocket close codes the client acts on. */
export const CLOSE = {
  NORMAL: 1000,
  SERVER_RESTARTING: 4000,
  REPLACED: 4006,
};

/** Close codes after which retrying cannot help: the page shows why and stops. */
export const FATAL_CLOSES = {
  1009: 'frame too large', 4001: 'protocol violation', 4002: 'too many inputs', 4003: 'server or room full',
  4004: 'invalid room id or name', 4005: 'unsupported protocol version',
};

export const ERROR_TEXT = {
  1: 'malformed frame', 2: 'unknown message type', 3: 'unsupported protocol version', 4: 'input rate exceeded',
  5: 'invalid room id', 6: 'invalid name', 7: 'room full', 8: 'server full', 9: 'join expected first', 10: 'already joined',
};

const utf8In = new TextDecoder('utf-8', { fatal: true });
const utf8Out = new TextEncoder();

export class ProtocolError extends Error {
  get name() {
    return 'ProtocolError';
  }
}

class Reader {
  constructor(buf) {
    this.buf = buf;
    this.view = new DataView(buf);
    this.off = 0;
  }
  need(n, what) {
    if (this.off + n > this.view.byteLength) {
      throw new ProtocolError(`truncated frame: ${what} needs ${n} byte(s) at offset ${this.off}`);
    }
  }
  u8(what) { this.need(1, what); return this.view.getUint8(this.off++); }
  i8(what) { this.need(1, what); return this.view.getInt8(this.off++); }
  u16(what) { this.need(2, what); const v = this.view.getUint16(this.off, true); this.off += 2; return v; }
  i16(what) { this.need(2, what); const v = this.view.getInt16(this.off, true); this.off += 2; return v; }
  u32(what) { this.need(4, what); const v = this.view.getUint32(this.off, true); this.off += 4; return v; }
  f32(what) { this.need(4, what); const v = this.view.getFloat32(this.off, true); this.off += 4; return v; }
  varint(what) {
    let value = 0;
    for (let i = 0; i < 5; i++) {
      const b = this.u8(what);
      value += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) {
        if (value > 0xffffffff) throw new ProtocolError(`${what}: varint exceeds u32`);
        return value;
      }
    }
    throw new ProtocolError(`${what}: varint longer than 5 bytes`);
  }
  // A count can never exceed the bytes left (every entry takes at least one),
  // so a hostile count cannot make us allocate or loop for long.
  count(what, minEntryBytes) {
    const n = this.varint(what);
    if (n * minEntryBytes > this.view.byteLength - this.off) {
      throw new ProtocolError(`${what}: count ${n} larger than the frame`);
    }
    return n;
  }
  str8(what) {
    const n = this.u8(what);
    this.need(n, what);
    const bytes = new Uint8Array(this.buf, this.off, n);
    this.off += n;
    try {
      return utf8In.decode(bytes);
    } catch (_) {
      throw new ProtocolError(`${what}: invalid UTF-8`);
    }
  }
  end(what) {
    if (this.off !== this.view.byteLength) {
      throw new ProtocolError(`${what}: ${this.view.byteLength - this.off} byte(s) left over`);
    }
  }
}

const posUnits = (q, size) => (q * size) / 65536;

function motion(r, size) {
  const x = posUnits(r.u16('ship x'), size.w);
  const y = posUnits(r.u16('ship y'), size.h);
  const vx = r.i8('ship vx') / 40;
  const vy = r.i8('ship vy') / 40;
  const at = r.u16('ship angle');
  return { x, y, vx, vy, angle: ((at & 0x7fff) * 360) / 32768, thrust: (at & 0x8000) !== 0 };
}

function decodeWelcome(r) {
  return {
    type: 'welcome',
    playerId: r.u32('player_id'),
    shipId: r.u32('ship_id'),
    token: r.str8('token'),
    resumed: r.u8('resumed') === 1,
    step: r.u32('step'),
    consts: {
      worldWidth: r.u16('world_width'),
      worldHeight: r.u16('world_height'),
      stepsPerSecond: r.u16('steps_per_second'),
      updatesPerSecond: r.u16('updates_per_second'),
      shipMaxSpeed: r.f32('ship_max_speed'),
      shipAccel: r.f32('ship_accel'),
      turnDegrees: r.f32('turn_degrees'),
      missileSpeed: r.f32('missile_speed'),
      missileLifeSteps: r.u16('missile_life_steps'),
      fireCooldownSteps: r.u16('fire_cooldown_steps'),
      reconnectGraceSeconds: r.u16('reconnect_grace_seconds'),
    },
  };
}

function decodeUpdate(r, size) {
  const m = { type: 'update', lastInputSeq: r.u32('last_input_seq'), step: r.u32('step') };
  const kind = r.u8('kind');
  if (kind > 1) throw new ProtocolError(`update: unknown kind ${kind}`);
  m.full = kind === 0;
  m.newShips = [];
  for (let n = r.count('n_new_ships', 10); n > 0; n--) {
    const id = r.varint('ship_id');
    const player = r.varint('player_id');
    m.newShips.push({ id, player, ...motion(r, size) });
  }
  m.movedShips = [];
  for (let n = r.count('n_moved_ships', 9); n > 0; n--) {
    const id = r.varint('ship_id');
    m.movedShips.push({ id, ...motion(r, size) });
  }
  m.newMissiles = [];
  for (let n = r.count('n_new_missiles', 10); n > 0; n--) {
    m.newMissiles.push({
      id: r.varint('missile_id'),
      ship: r.varint('missile ship_id'),
      x: posUnits(r.u16('missile x'), size.w),
      y: posUnits(r.u16('missile y'), size.h),
      vx: r.i16('missile vx') / 1000,
      vy: r.i16('missile vy') / 1000,
    });
  }
  m.removed = [];
  for (let n = r.count('n_removed', 1); n > 0; n--) m.removed.push(r.varint('removed id'));
  return m;
}

function decodeScore(r) {
  const entries = [];
  for (let n = r.count('score n', 5); n > 0; n--) {
    entries.push({
      ship: r.varint('score ship_id'),
      player: r.varint('score player_id'),
      kills: r.varint('score kills'),
      deaths: r.varint('score deaths'),
      name: r.str8('score name'),
    });
  }
  return { type: 'score', entries };
}

/** Decodes one server frame; `size` is the world size used to dequantize positions. */
export function decode(buf, size) {
  const r = new Reader(buf);
  const type = r.u8('message type');
  let m;
  switch (type) {
    case S2C.WELCOME: m = decodeWelcome(r); break;
    case S2C.UPDATE: m = decodeUpdate(r, size); break;
    case S2C.SCORE: m = decodeScore(r); break;
    case S2C.PONG: m = { type: 'pong', echo: r.u32('echo') }; break;
    case S2C.ERROR: m = { type: 'error', code: r.u16('error code'), message: r.str8('error message') }; break;
    case S2C.YOUR_SHIP: m = { type: 'your_ship', shipId: r.u32('ship_id') }; break;
    case S2C.KILLED:
      m = { type: 'killed', victimShip: r.u32('victim_ship'), shooterShip: r.u32('shooter_ship'), shooterName: r.str8('shooter_name') };
      break;
    default: throw new ProtocolError(`unknown message type 0x${type.toString(16)}`);
  }
  r.end(m.type);
  return m;
}

function str8Bytes(s, what) {
  const b = utf8Out.encode(s);
  if (b.length > 255) throw new ProtocolError(`${what} is longer than 255 bytes`);
  return b;
}

export function encodeJoin(room, name, token) {
  const parts = [str8Bytes(room, 'room'), str8Bytes(name, 'name'), str8Bytes(token, 'token')];
  const out = new Uint8Array(2 + parts.reduce((n, p) => n + 1 + p.length, 0));
  out[0] = C2S.JOIN;
  out[1] = VERSION;
  let off = 2;
  for (const p of parts) {
    out[off++] = p.length;
    out.set(p, off);
    off += p.length;
  }
  return out.buffer;
}

export function encodeInput(seq, keys) {
  const v = new DataView(new ArrayBuffer(6));
  v.setUint8(0, C2S.INPUT);
  v.setUint32(1, seq >>> 0, true);
  v.setUint8(5, keys);
  return v.buffer;
}

export const encodeRestart = () => new Uint8Array([C2S.RESTART]).buffer;

export function encodePing(echo) {
  const v = new DataView(new ArrayBuffer(5));
  v.setUint8(0, C2S.PING);
  v.setUint32(1, echo >>> 0, true);
  return v.buffer;
}

/** Room ids the server accepts (docs/protocol.md: 1 to 32 bytes of [A-Za-z0-9_-]). */
export const ROOM_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

/**
 * A name the server accepts: letters, digits, space, '_' and '-', at most 16
 * characters, no space at either end. Other characters are dropped rather than
 * refused, so a stray symbol does not end the game before it starts (close 4004).
 */
export function cleanName(raw) {
  return Array.from((raw || '').replace(/[^\p{L}\p{N} _-]/gu, '').trim())
    .slice(0, 16)
    .join('')
    .trim();
}
