// Spaaace browser client: protocol codec, connection with reconnect-and-resume,
// prediction of the own ship, interpolation of the others, canvas rendering.
// Plain script, no build step; the wire format is docs/protocol.md (version 1).
'use strict';

(() => {
  // ---------------------------------------------------------------------------
  // Protocol codec (docs/protocol.md, version 1)
  // ---------------------------------------------------------------------------
  const Proto = (() => {
    const VERSION = 1;
    const C2S = { JOIN: 0x01, INPUT: 0x02, RESTART: 0x03, PING: 0x04 };
    const S2C = { WELCOME: 0x81, UPDATE: 0x82, SCORE: 0x83, PONG: 0x84, ERROR: 0x85, YOUR_SHIP: 0x86, KILLED: 0x87 };
    const KEY_BITS = { up: 1, left: 2, right: 4, fire: 8 };
    const utf8In = new TextDecoder('utf-8', { fatal: true });
    const utf8Out = new TextEncoder();

    class ProtocolError extends Error {
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
    function decode(buf, size) {
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

    function encodeJoin(room, name, token) {
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

    function encodeInput(seq, keys) {
      const v = new DataView(new ArrayBuffer(6));
      v.setUint8(0, C2S.INPUT);
      v.setUint32(1, seq >>> 0, true);
      v.setUint8(5, keys);
      return v.buffer;
    }

    const encodeRestart = () => new Uint8Array([C2S.RESTART]).buffer;

    function encodePing(echo) {
      const v = new DataView(new ArrayBuffer(5));
      v.setUint8(0, C2S.PING);
      v.setUint32(1, echo >>> 0, true);
      return v.buffer;
    }

    return { VERSION, KEY_BITS, ProtocolError, decode, encodeJoin, encodeInput, encodeRestart, encodePing };
  })();

  // ---------------------------------------------------------------------------
  // Ship motion rules (../shared/spaaace-rules.md), used to predict the own ship
  // ---------------------------------------------------------------------------
  const Physics = (() => {
    const DEG = Math.PI / 180;
    const THRUST_SHOW_STEPS = 5;
    const wrapAngle = (a) => ((a % 360) + 360) % 360;
    const wrap = (v, size) => (v >= size ? v - size : v < 0 ? v + size : v);
    /** Shortest signed difference b - a on a ring of `size`. */
    const ringDelta = (a, b, size) => {
      let d = (b - a) % size;
      if (d >= size / 2) d -= size;
      else if (d < -size / 2) d += size;
      return d;
    };

    // Same order as the server's sim: turn first, then thrust along the new heading.
    function applyInput(s, keys, c) {
      if (keys & Proto.KEY_BITS.left) s.angle = wrapAngle(s.angle - c.turnDegrees);
      if (keys & Proto.KEY_BITS.right) s.angle = wrapAngle(s.angle + c.turnDegrees);
      if (keys & Proto.KEY_BITS.up) {
        s.vx += c.shipAccel * Math.cos(s.angle * DEG);
        s.vy += c.shipAccel * Math.sin(s.angle * DEG);
        s.thrust = THRUST_SHOW_STEPS;
      }
    }

    function move(s, c) {
      const speed = Math.hypot(s.vx, s.vy);
      if (speed > c.shipMaxSpeed) {
        s.vx *= c.shipMaxSpeed / speed;
        s.vy *= c.shipMaxSpeed / speed;
      }
      s.x = wrap(s.x + s.vx, c.worldWidth);
      s.y = wrap(s.y + s.vy, c.worldHeight);
    }

    return { applyInput, move, wrap, wrapAngle, ringDelta };
  })();

  // ---------------------------------------------------------------------------
  // Game state, fed by server messages
  // ---------------------------------------------------------------------------
  const params = new URLSearchParams(location.search);
  const ROOM = params.get('room') || 'default';
  // The server refuses a name with other characters (close 4004); drop them here so a
  // stray symbol in the link does not end the game before it starts.
  const NAME = Array.from((params.get('name') || '').replace(/[^\p{L}\p{N} _-]/gu, '').trim())
    .slice(0, 16)
    .join('')
    .trim();
  const TOKEN_KEY = `spaaace:token:${ROOM}`;
  const MAX_PREDICT_STEPS = 180;
  const MAX_HISTORY = 4;

  const G = {
    ws: null,
    status: 'connecting',
    fatalError: null,
    reconnects: 0,
    lastCloseCode: null,
    attempt: 0,
    consts: null,
    size: { w: 3000, h: 3000 },
    token: '',
    lastServerError: null,
    playerId: 0,
    shipId: 0,
    alive: false,
    resumed: false,
    restartAskedAt: -Infinity,
    ships: new Map(), // id -> { id, player, hist: [{step,x,y,vx,vy,angle,thrust}], drawn: {x,y} }
    missiles: new Map(), // id -> { id, ship, x, y, vx, vy, step }
    scores: [],
    scoreByShip: new Map(),
    myKills: null,
    lastKill: null, // { victim, name } of the newest `killed` message
    lostShipId: 0,
    freshJoin: true,
    touchMode: false,
    deaths: 0,
    updates: 0,
    lastStep: 0,
    lastInputSeq: 0,
    seq: 0,
    pending: [], // inputs not yet applied by the server: { seq, keys, step }
    base: null, // server state of the own ship at base.step
    clockOffset: null, // server step = now_in_steps + clockOffset (at arrival of updates)
    rttMs: 0,
    pings: new Map(),
    pingSeq: 0,
    lastMessageAt: 0,
    predicted: null,
    visualOffset: { x: 0, y: 0, angle: 0 },
    frames: 0,
    fps: 0,
    corrections: { n: 0, sum: 0, max: 0 },
    renderMs: 0,
  };

  const stepsPerMs = () => (G.consts ? G.consts.stepsPerSecond : 60) / 1000;
  const stepsPerUpdate = () => (G.consts ? G.consts.stepsPerSecond / Math.max(1, G.consts.updatesPerSecond) : 3);

  function serverClock(now) {
    return G.clockOffset === null ? G.lastStep : now * stepsPerMs() + G.clockOffset;
  }

  // Tracks the server's step from update arrivals: jumps towards early arrivals
  // (the least delayed ones) and drifts slowly otherwise, so jitter does not shake
  // the rendering clock.
  function sampleClock(step, now) {
    const sample = step - now * stepsPerMs();
    if (G.clockOffset === null || Math.abs(sample - G.clockOffset) > 60) G.clockOffset = sample;
    else if (sample > G.clockOffset) G.clockOffset += (sample - G.clockOffset) * 0.5;
    else G.clockOffset += (sample - G.clockOffset) * 0.03;
  }

  const predictedStep = (now) => serverClock(now) + (G.rttMs * stepsPerMs()) + 1;
  const renderStep = (now) => serverClock(now) - stepsPerUpdate() * 1.2;

  function onWelcome(m) {
    G.consts = m.consts;
    G.size = { w: m.consts.worldWidth, h: m.consts.worldHeight };
    G.playerId = m.playerId;
    G.resumed = m.resumed;
    G.attempt = 0;
    G.status = 'connected';
    G.fatalError = null;
    G.lastStep = m.step;
    G.freshJoin = true;
    G.lastServerError = null;
    G.clockOffset = null;
    sampleClock(m.step, performance.now());
    G.pending = [];
    if (!m.resumed) G.seq = 0;
    try {
      sessionStorage.setItem(TOKEN_KEY, m.token);
    } catch (_) {
      // Storage can be disabled (private mode); resuming then only works within this page.
    }
    G.token = m.token;
    setShip(m.shipId);
    UI.status();
  }

  function setShip(shipId) {
    const lost = G.shipId;
    G.shipId = shipId;
    G.alive = shipId !== 0;
    if (!G.alive) {
      // `killed` and `your_ship` may arrive in either order.
      G.lostShipId = lost;
      UI.killer(G.lastKill && G.lastKill.victim === lost ? G.lastKill.name : null);
      G.base = null;
      G.predicted = null;
      G.pending = [];
    } else {
      // A new ship starts somewhere else: do not ease from the old one.
      G.visualOffset = { x: 0, y: 0, angle: 0 };
      const s = G.ships.get(shipId);
      G.base = s ? { step: s.hist[s.hist.length - 1].step, ...latest(s) } : null;
    }
    UI.dead(!G.alive && G.status === 'connected');
  }

  function latest(ship) {
    const h = ship.hist[ship.hist.length - 1];
    return { x: h.x, y: h.y, vx: h.vx, vy: h.vy, angle: h.angle, thrust: h.thrust ? 1 : 0 };
  }

  function pushHistory(ship, step, mo) {
    ship.hist.push({ step, x: mo.x, y: mo.y, vx: mo.vx, vy: mo.vy, angle: mo.angle, thrust: mo.thrust });
    if (ship.hist.length > MAX_HISTORY) ship.hist.shift();
  }

  // A full update is everything that exists. Ships it leaves out went away in updates
  // this client missed: they explode like any removed ship, except in the first update
  // after a (re)join, when what the page held may come from an older connection.
  function replaceAll(m) {
    G.missiles.clear();
    if (G.freshJoin) {
      // Ids restart with a new server process: nothing held before can be trusted.
      G.ships.clear();
      return;
    }
    const present = new Set(m.newShips.map((s) => s.id));
    for (const [id, ship] of G.ships) {
      if (present.has(id)) continue;
      Effects.explode(...explosionAt(ship), shipColor(ship), false);
      G.ships.delete(id);
    }
  }

  function explosionAt(ship) {
    const at = ship.id === G.shipId && G.predicted ? G.predicted : ship.drawn || latest(ship);
    return [at.x, at.y];
  }

  function onUpdate(m, now) {
    const before = G.alive && G.base ? predictOwn(predictedStep(now)) : null;
    G.updates++;
    G.lastStep = m.step;
    G.lastInputSeq = m.lastInputSeq;
    sampleClock(m.step, now);

    const touched = new Set();
    if (m.full) replaceAll(m);
    G.freshJoin = false;
    for (const s of m.newShips) {
      // A full update lists known ships again: keep their history so they stay smooth.
      let ship = G.ships.get(s.id);
      if (!ship || ship.player !== s.player) {
        ship = { id: s.id, player: s.player, hist: [], drawn: null };
        G.ships.set(s.id, ship);
      }
      pushHistory(ship, m.step, s);
      touched.add(s.id);
    }
    for (const s of m.movedShips) {
      const ship = G.ships.get(s.id);
      if (!ship) continue; // cannot happen with a consistent server; nothing to move
      pushHistory(ship, m.step, s);
      touched.add(s.id);
    }
    // Ships left out of a delta kept their quantized motion.
    for (const ship of G.ships.values()) {
      if (!touched.has(ship.id)) pushHistory(ship, m.step, ship.hist[ship.hist.length - 1]);
    }
    for (const mi of m.newMissiles) G.missiles.set(mi.id, { ...mi, step: m.step });
    for (const id of m.removed) {
      const ship = G.ships.get(id);
      if (ship) {
        Effects.explode(...explosionAt(ship), shipColor(ship), id === G.shipId);
        G.ships.delete(id);
      } else {
        G.missiles.delete(id);
      }
    }

    // An earlier page of this session may have sent more inputs than this one.
    if (m.lastInputSeq > G.seq) G.seq = m.lastInputSeq;
    G.pending = G.pending.filter((p) => p.seq > m.lastInputSeq);
    const mine = G.alive ? G.ships.get(G.shipId) : null;
    if (mine) {
      G.base = { step: m.step, ...latest(mine) };
      if (before) {
        const after = predictOwn(predictedStep(now));
        const cx = Physics.ringDelta(after.x, before.x, G.size.w);
        const cy = Physics.ringDelta(after.y, before.y, G.size.h);
        noteCorrection(Math.hypot(cx, cy));
        const dx = cx + G.visualOffset.x;
        const dy = cy + G.visualOffset.y;
        // Large corrections (teleports, resumes) snap; small ones are eased out.
        const snap = Math.hypot(dx, dy) > 120;
        G.visualOffset = {
          x: snap ? 0 : dx,
          y: snap ? 0 : dy,
          angle: snap ? 0 : Physics.ringDelta(after.angle, before.angle, 360) + G.visualOffset.angle,
        };
      }
    }
  }

  // How far each server update moved the predicted own ship: the prediction's error.
  function noteCorrection(units) {
    const c = G.corrections;
    c.n++;
    c.sum += units;
    c.max = Math.max(c.max, units);
  }

  /** Own ship at step `toStep`: the server state replayed with the inputs it has not applied yet. */
  function predictOwn(toStepEstimate) {
    const c = G.consts;
    // Never show the own ship behind the server's state: inputs just sent must show.
    const toStep = Math.max(toStepEstimate, G.base.step + 1);
    const s = { ...G.base };
    s.thrust = s.thrust ? 5 : 0;
    const end = Math.min(Math.floor(toStep), G.base.step + MAX_PREDICT_STEPS);
    let i = 0;
    for (let k = G.base.step + 1; k <= end; k++) {
      while (i < G.pending.length && G.pending[i].step <= k) Physics.applyInput(s, G.pending[i++].keys, c);
      Physics.move(s, c);
      if (s.thrust > 0) s.thrust--;
    }
    // Sub-step position so 60 fps rendering does not judder against 60 steps/s.
    const frac = Math.max(0, toStep - Math.max(end, G.base.step));
    if (frac < 1) {
      s.x = Physics.wrap(s.x + s.vx * frac, G.size.w);
      s.y = Physics.wrap(s.y + s.vy * frac, G.size.h);
    }
    return s;
  }

  function onKilled(m) {
    G.lastKill = { victim: m.victimShip, name: m.shooterName || null };
    if (m.victimShip !== 0 && (m.victimShip === G.shipId || m.victimShip === G.lostShipId)) UI.killer(G.lastKill.name);
  }

  function onScore(m) {
    G.scores = m.entries.slice().sort((a, b) => b.kills - a.kills || a.deaths - b.deaths || a.ship - b.ship);
    G.scoreByShip = new Map(m.entries.map((e) => [e.ship, e]));
    const mine = m.entries.find((e) => e.player === G.playerId && G.playerId !== 0);
    if (mine) {
      G.deaths = mine.deaths;
      const gained = G.myKills && G.myKills.ship === mine.ship ? mine.kills - G.myKills.kills : 0;
      if (gained > 0 && G.predicted) Effects.popup(G.predicted.x, G.predicted.y, `+${gained} kill${gained > 1 ? 's' : ''}`);
      G.myKills = { ship: mine.ship, kills: mine.kills };
    }
    UI.scoreboard();
  }

  const ERROR_TEXT = {
    1: 'malformed frame', 2: 'unknown message type', 3: 'unsupported protocol version', 4: 'input rate exceeded',
    5: 'invalid room id', 6: 'invalid name', 7: 'room full', 8: 'server full', 9: 'join expected first', 10: 'already joined',
  };

  function onServerError(m) {
    G.lastServerError = `${ERROR_TEXT[m.code] || `error ${m.code}`}: ${m.message}`;
    UI.toast(G.lastServerError);
  }

  function onMessage(m, now) {
    switch (m.type) {
      case 'welcome': onWelcome(m); break;
      case 'update': onUpdate(m, now); break;
      case 'score': onScore(m); break;
      case 'your_ship': setShip(m.shipId); break;
      case 'killed': onKilled(m); break;
      case 'error': onServerError(m); break;
      case 'pong': {
        const sent = G.pings.get(m.echo);
        if (sent !== undefined) {
          G.pings.delete(m.echo);
          const rtt = now - sent;
          G.rttMs = G.rttMs ? G.rttMs * 0.8 + rtt * 0.2 : rtt;
          UI.status();
        }
        break;
      }
      default: break;
    }
  }

  // ---------------------------------------------------------------------------
  // Connection: join, heartbeat, reconnect with backoff and resume by token
  // ---------------------------------------------------------------------------
  const Net = (() => {
    const FATAL_CLOSES = {
      1009: 'frame too large', 4001: 'protocol violation', 4002: 'too many inputs', 4003: 'server or room full',
      4004: 'invalid room id or name', 4005: 'unsupported protocol version',
    };
    const PING_EVERY_MS = 2000;
    const SILENT_LIMIT_MS = 6000;
    function url() {
      return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
    }

    function storedToken() {
      try {
        return sessionStorage.getItem(TOKEN_KEY) || '';
      } catch (_) {
        return G.token || '';
      }
    }

    function connect() {
      G.lastServerError = null;
      const ws = new WebSocket(url());
      ws.binaryType = 'arraybuffer';
      G.ws = ws;
      ws.onopen = () => {
        if (G.ws !== ws) return;
        G.lastMessageAt = performance.now();
        send(Proto.encodeJoin(ROOM, NAME, storedToken()));
      };
      ws.onmessage = (ev) => {
        if (G.ws !== ws) return;
        const now = performance.now();
        G.lastMessageAt = now;
        if (!(ev.data instanceof ArrayBuffer)) {
          drop(ws, 'text frame from server');
          return;
        }
        let m;
        try {
          m = Proto.decode(ev.data, G.size);
        } catch (e) {
          drop(ws, e.message);
          return;
        }
        onMessage(m, now);
      };
      ws.onclose = (ev) => {
        if (G.ws !== ws) return;
        G.ws = null;
        closed(ev.code, ev.reason);
      };
      // A failed connection also fires `close`, where it is handled.
      ws.onerror = () => {};
    }

    function drop(ws, why) {
      console.warn(`spaaace: dropping connection: ${why}`);
      G.ws = null;
      ws.close(4001, 'bad server frame');
      closed(4001, why, true);
    }

    function closed(code, reason, byUs = false) {
      G.lastCloseCode = code;
      const wasConnected = G.status === 'connected';
      G.alive = false;
      G.base = null;
      G.predicted = null;
      UI.dead(false);
      if (!byUs && code === 1000) {
        // The server closes normally when another tab took this player over with the same
        // token, or after a long silence: retrying would steal the game back and forth.
        G.status = 'paused';
        UI.status();
        UI.paused(reason === 'replaced by a newer connection'
          ? 'This game continues in another tab or window.'
          : `The server closed the connection${reason ? ` (${reason})` : ''}.`);
        return;
      }
      if (!byUs && FATAL_CLOSES[code]) {
        G.status = 'failed';
        G.fatalError = `${FATAL_CLOSES[code]} (close ${code}${reason ? `: ${reason}` : ''})`;
        if (G.lastServerError) G.fatalError = `${G.lastServerError} (close ${code})`;
        UI.status();
        UI.fatal(G.fatalError);
        return;
      }
      if (wasConnected) G.reconnects++;
      G.status = 'reconnecting';
      // 4000 is a planned restart: come back at once; otherwise 250 ms doubling to 5 s, jittered.
      const base = code === 4000 && G.attempt === 0 ? 150 : Math.min(5000, 250 * 2 ** G.attempt);
      const delay = base / 2 + (Math.random() * base) / 2;
      G.attempt = Math.min(G.attempt + 1, 10);
      UI.status();
      setTimeout(connect, delay);
    }

    function send(buf) {
      if (G.ws && G.ws.readyState === WebSocket.OPEN) {
        G.ws.send(buf);
        return true;
      }
      return false;
    }

    function resume() {
      if (G.status !== 'paused') return;
      G.attempt = 0;
      G.status = 'connecting';
      UI.status();
      connect();
    }

    function heartbeat() {
      const now = performance.now();
      if (!G.ws || G.ws.readyState !== WebSocket.OPEN) return;
      const silentLimit = Math.max(SILENT_LIMIT_MS, (5000 / (G.consts ? G.consts.updatesPerSecond || 1 : 1)));
      if (now - G.lastMessageAt > silentLimit) {
        // Updates arrive many times a second: this long a silence is a dead link.
        const ws = G.ws;
        G.ws = null;
        ws.close();
        closed(1006, 'no data from server');
        return;
      }
      if (G.status !== 'connected') return;
      const echo = (G.pingSeq = (G.pingSeq + 1) >>> 0);
      G.pings.set(echo, now);
      if (G.pings.size > 8) G.pings.delete(G.pings.keys().next().value);
      send(Proto.encodePing(echo));
    }

    function start() {
      connect();
      setInterval(heartbeat, PING_EVERY_MS);
    }

    const isOpen = () => G.ws !== null && G.ws.readyState === WebSocket.OPEN;

    return { start, send, isOpen, resume };
  })();

  // ---------------------------------------------------------------------------
  // Input: keyboard and touch buttons; one `input` per frame while a key is held
  // ---------------------------------------------------------------------------
  const Input = (() => {
    const held = { up: false, left: false, right: false, fire: false };
    const touchHeld = { up: false, left: false, right: false, fire: false };
    const KEYMAP = {
      ArrowUp: 'up', KeyW: 'up', ArrowLeft: 'left', KeyA: 'left', ArrowRight: 'right', KeyD: 'right', Space: 'fire',
    };
    // One input per frame, but never more than 60 a second (the server's allowance) on
    // fast displays, nor fewer on 75 Hz ones: a bucket refilled at 60/s, two deep for jitter.
    const INPUTS_PER_MS = 60 / 1000;
    const BUCKET_DEPTH = 2;
    let tokens = BUCKET_DEPTH;
    let refilledAt = 0;

    function keyOf(ev) {
      return KEYMAP[ev.code] || KEYMAP[ev.key === ' ' ? 'Space' : ev.key];
    }

    function bind() {
      addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter') {
          if (G.status === 'paused') {
            UI.unpause();
            Net.resume();
          } else {
            restart();
          }
          return;
        }
        const k = keyOf(ev);
        if (!k) return;
        held[k] = true;
        ev.preventDefault();
        UI.hideHelpSoon();
      });
      addEventListener('keyup', (ev) => {
        const k = keyOf(ev);
        if (!k) return;
        held[k] = false;
        ev.preventDefault();
      });
      addEventListener('blur', () => {
        for (const k of Object.keys(held)) held[k] = touchHeld[k] = false;
      });
      for (const btn of document.querySelectorAll('#touch button')) {
        const k = btn.dataset.key;
        const set = (on) => (ev) => {
          ev.preventDefault();
          touchHeld[k] = on;
          btn.classList.toggle('on', on);
        };
        btn.addEventListener('pointerdown', (ev) => {
          btn.setPointerCapture(ev.pointerId);
          set(true)(ev);
        });
        btn.addEventListener('pointerup', set(false));
        btn.addEventListener('pointercancel', set(false));
        btn.addEventListener('lostpointercapture', set(false));
      }
      addEventListener('touchstart', () => UI.showTouch(), { once: true, passive: true });
      if (matchMedia('(pointer: coarse)').matches) UI.showTouch();
      document.getElementById('again').addEventListener('click', restart);
      document.getElementById('resume').addEventListener('click', () => {
        UI.unpause();
        Net.resume();
      });
    }

    function keys() {
      const on = (k) => held[k] || touchHeld[k];
      let bits = 0;
      for (const k of ['up', 'left', 'right', 'fire']) if (on(k)) bits |= Proto.KEY_BITS[k];
      return bits;
    }

    function restart() {
      const now = performance.now();
      if (G.alive || G.status !== 'connected' || now - G.restartAskedAt < 1000) return;
      G.restartAskedAt = now;
      Net.send(Proto.encodeRestart());
    }

    /** Called once per animation frame. */
    function tick(now) {
      tokens = Math.min(BUCKET_DEPTH, tokens + (now - refilledAt) * INPUTS_PER_MS);
      refilledAt = now;
      const bits = keys();
      if (!bits || !G.alive || G.status !== 'connected' || !Net.isOpen() || tokens < 1) return;
      tokens -= 1;
      G.seq = (G.seq + 1) >>> 0;
      Net.send(Proto.encodeInput(G.seq, bits));
      G.pending.push({ seq: G.seq, keys: bits, step: Math.floor(predictedStep(now)) + 1 });
      if (G.pending.length > 240) G.pending.shift();
    }

    return { bind, tick, keys };
  })();

  // ---------------------------------------------------------------------------
  // Visual effects: explosions
  // ---------------------------------------------------------------------------
  const Effects = (() => {
    const MAX_PARTICLES = 3000;
    let particles = [];
    let rings = [];
    let popups = [];
    let shake = 0;

    function popup(x, y, text) {
      popups.push({ x, y, text, life: 1 });
    }

    function explode(x, y, color, mine) {
      const n = mine ? 70 : 40;
      for (let i = 0; i < n && particles.length < MAX_PARTICLES; i++) {
        const a = Math.random() * Math.PI * 2;
        const sp = 0.5 + Math.random() * (mine ? 6 : 4.5);
        particles.push({
          x, y, vx: Math.cos(a) * sp, vy: Math.sin(a) * sp, life: 1, decay: 0.012 + Math.random() * 0.025,
          color: Math.random() < 0.55 ? color : Math.random() < 0.5 ? '#ffd27a' : '#fff4e0', size: 1 + Math.random() * 2.5,
        });
      }
      rings.push({ x, y, r: 4, life: 1 });
      if (mine) shake = 18;
    }

    function update(dtSteps) {
      for (const p of particles) {
        p.x += p.vx * dtSteps;
        p.y += p.vy * dtSteps;
        p.vx *= 0.985;
        p.vy *= 0.985;
        p.life -= p.decay * dtSteps;
      }
      particles = particles.filter((p) => p.life > 0);
      for (const r of rings) {
        r.r += 3.2 * dtSteps;
        r.life -= 0.03 * dtSteps;
      }
      rings = rings.filter((r) => r.life > 0);
      for (const p of popups) {
        p.y -= 0.6 * dtSteps;
        p.life -= 0.012 * dtSteps;
      }
      popups = popups.filter((p) => p.life > 0);
      shake = Math.max(0, shake - 0.7 * dtSteps);
    }

    function draw(ctx, toScreen) {
      ctx.save();
      ctx.globalCompositeOperation = 'lighter';
      for (const r of rings) {
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
      for (const q of particles) {
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
      for (const q of popups) {
        const p = toScreen(q.x, q.y - 40);
        if (!p) continue;
        ctx.globalAlpha = Math.min(1, q.life * 2);
        ctx.fillStyle = '#ffe27a';
        ctx.fillText(q.text, p.x, p.y);
      }
      ctx.restore();
    }

    return { explode, popup, update, draw, shake: () => shake, count: () => particles.length + rings.length };
  })();

  // ---------------------------------------------------------------------------
  // Rendering
  // ---------------------------------------------------------------------------
  const canvas = document.getElementById('game');
  const ctx = canvas.getContext('2d');
  const VIEW_UNITS = 1400; // world units across the larger screen side

  const OWN_HUE = 188;
  function shipHue(ship) {
    if (ship.player === 0) return 8;
    if (ship.id === G.shipId) return OWN_HUE;
    // Spread the other players around the wheel, away from the own cyan and the bots' red.
    return 40 + ((ship.player * 137.508) % 120) + (ship.player % 2 ? 170 : 0);
  }
  const shipColor = (ship) => `hsl(${shipHue(ship) % 360}, 95%, 62%)`;

  const Stars = (() => {
    function tile(size, count, seed, opts) {
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

    let layers = null;
    function make() {
      layers = [
        // Nebula and faint far stars share one layer: every layer is a full-screen fill.
        { canvas: tile(1024, 360, 7, { nebula: true, minB: 0.12, r: 0.7 }), parallax: 0.12 },
        { canvas: tile(600, 60, 11, { minB: 0.3, r: 1.0 }), parallax: 0.45 },
        // World-fixed dust: its 750-unit period divides the world size, so the wrap is seamless.
        { canvas: tile(750, 22, 5, { minB: 0.25, r: 1.3 }), parallax: 1, world: true },
      ];
      for (const l of layers) l.pattern = ctx.createPattern(l.canvas, 'repeat');
    }

    function draw(cam, w, h, scale) {
      if (!layers) make();
      for (const l of layers) {
        const k = l.world ? scale : 1;
        const ox = (w / 2 - cam.ux * l.parallax * (l.world ? scale : 1)) / k;
        const oy = (h / 2 - cam.uy * l.parallax * (l.world ? scale : 1)) / k;
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
    return { draw };
  })();

  // The camera keeps an unwrapped position too, so parallax layers never jump at the wrap.
  const cam = { x: 1500, y: 1500, ux: 1500, uy: 1500, set: false };

  function moveCamera(x, y) {
    if (!cam.set) {
      cam.x = x; cam.y = y; cam.ux = x; cam.uy = y; cam.set = true;
      return;
    }
    const dx = Physics.ringDelta(cam.x, x, G.size.w);
    const dy = Physics.ringDelta(cam.y, y, G.size.h);
    // Follow tightly, but glide when the ship jumps (respawn, resume).
    const k = Math.hypot(dx, dy) > 200 ? 0.12 : 1;
    cam.x = Physics.wrap(cam.x + dx * k, G.size.w);
    cam.y = Physics.wrap(cam.y + dy * k, G.size.h);
    cam.ux += dx * k;
    cam.uy += dy * k;
  }

  function interpolated(ship, t) {
    const h = ship.hist;
    let a = h[0];
    let b = h[h.length - 1];
    if (t >= b.step) {
      // Past the newest update: extrapolate a little with its velocity.
      const dt = Math.min(t - b.step, stepsPerUpdate() * 2);
      return {
        x: Physics.wrap(b.x + b.vx * dt, G.size.w), y: Physics.wrap(b.y + b.vy * dt, G.size.h),
        angle: b.angle, thrust: b.thrust,
      };
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
      x: Physics.wrap(a.x + Physics.ringDelta(a.x, b.x, G.size.w) * f, G.size.w),
      y: Physics.wrap(a.y + Physics.ringDelta(a.y, b.y, G.size.h) * f, G.size.h),
      angle: Physics.wrapAngle(a.angle + Physics.ringDelta(a.angle, b.angle, 360) * f),
      thrust: f < 0.5 ? a.thrust : b.thrust,
    };
  }

  const SHIP_DRAW_SCALE = 1.25;
  const SPRITE_HALF = 40; // sprite half-size in ship units: hull plus glow

  // Hull and glow are the same every frame for a colour and zoom: draw them once into
  // an offscreen canvas and stamp it, which costs far less than paths and gradients
  // per ship when hundreds are on screen.
  const Sprites = (() => {
    let cache = new Map();
    let cachedK = 0;

    function shipSprite(color, mine, k) {
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
    function missileGlow() {
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

    return { shipSprite, missileGlow };
  })();

  function drawShip(x, y, angle, color, thrust, scale, mine, dpr) {
    const unit = scale * SHIP_DRAW_SCALE;
    const sprite = Sprites.shipSprite(color, mine, Math.round(unit * dpr * 100) / 100);
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

  function drawMissile(x, y, vx, vy, color, scale) {
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
    ctx.drawImage(Sprites.missileGlow(), x - r, y - r, r * 2, r * 2);
  }

  function drawMinimap(w, h, scale, ownPos) {
    const size = Math.min(170, Math.max(100, Math.min(w, h) * 0.22));
    const x0 = 12;
    // The touch buttons own the bottom corners; the minimap moves under the status then.
    const y0 = G.touchMode ? 52 : h - size - 12;
    const k = size / G.size.w;
    ctx.save();
    ctx.fillStyle = 'rgba(10, 14, 30, 0.62)';
    ctx.strokeStyle = 'rgba(120, 160, 255, 0.3)';
    ctx.lineWidth = 1;
    ctx.fillRect(x0, y0, size, size);
    ctx.strokeRect(x0 + 0.5, y0 + 0.5, size - 1, size - 1);
    ctx.beginPath();
    ctx.rect(x0, y0, size, size);
    ctx.clip();
    for (const ship of G.ships.values()) {
      if (ship.id === G.shipId) continue;
      const p = ship.drawn || latest(ship);
      ctx.fillStyle = ship.player === 0 ? '#ff6f61' : shipColor(ship);
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

  function resize() {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.floor(innerWidth * dpr));
    const h = Math.max(1, Math.floor(innerHeight * dpr));
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w;
      canvas.height = h;
    }
    return dpr;
  }

  function render(now) {
    const dpr = resize();
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const w = canvas.width / dpr;
    const h = canvas.height / dpr;
    const scale = Math.max(w, h) / VIEW_UNITS;

    const own = G.predicted;
    if (own) moveCamera(own.x, own.y);
    const sh = Effects.shake();
    const shakeX = sh ? (Math.random() - 0.5) * sh : 0;
    const shakeY = sh ? (Math.random() - 0.5) * sh : 0;

    ctx.fillStyle = '#05060d';
    ctx.fillRect(0, 0, w, h);
    Stars.draw(cam, w, h, scale);

    const margin = 80;
    const toScreen = (x, y) => {
      const sx = w / 2 + Physics.ringDelta(cam.x, x, G.size.w) * scale + shakeX;
      const sy = h / 2 + Physics.ringDelta(cam.y, y, G.size.h) * scale + shakeY;
      if (sx < -margin || sy < -margin || sx > w + margin || sy > h + margin) return null;
      return { x: sx, y: sy, scale };
    };

    const tRender = renderStep(now);
    const tPred = predictedStep(now);
    let drawnShips = 0;

    ctx.save();
    ctx.globalCompositeOperation = 'lighter';
    for (const m of G.missiles.values()) {
      const t = m.ship === G.shipId ? tPred : tRender;
      const dt = t - m.step;
      // Not fired yet at this clock, or overdue for its removal (updates stalled).
      if (dt < -stepsPerUpdate() || dt > G.consts.missileLifeSteps + 2 * stepsPerUpdate()) continue;
      const x = Physics.wrap(m.x + m.vx * dt, G.size.w);
      const y = Physics.wrap(m.y + m.vy * dt, G.size.h);
      const p = toScreen(x, y);
      if (!p) continue;
      const shooter = G.ships.get(m.ship);
      drawMissile(p.x, p.y, m.vx, m.vy, shooter ? shipColor(shooter) : '#ffd27a', scale);
    }
    ctx.restore();

    const labels = [];
    for (const ship of G.ships.values()) {
      const mine = ship.id === G.shipId && own;
      const s = mine ? own : interpolated(ship, tRender);
      ship.drawn = { x: s.x, y: s.y };
      const p = toScreen(s.x, s.y);
      if (!p) continue;
      drawnShips++;
      drawShip(p.x, p.y, s.angle, shipColor(ship), mine ? s.thrust > 0 : s.thrust, scale, !!mine, dpr);
      const entry = G.scoreByShip.get(ship.id);
      if (entry) labels.push({ x: p.x, y: p.y + 34 * scale, text: entry.name, mine: !!mine });
    }
    ctx.font = `${Math.round(11 + scale * 2)}px system-ui, sans-serif`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (const l of labels) {
      ctx.fillStyle = l.mine ? 'rgba(140, 250, 255, 0.95)' : 'rgba(230, 236, 255, 0.75)';
      ctx.fillText(l.text, l.x, l.y);
    }

    Effects.draw(ctx, toScreen);
    if (own) drawPointers(w, h, scale);
    drawMinimap(w, h, scale, own);
    G.drawnShips = drawnShips;
  }

  // Arrows on the screen edge towards the nearest ships out of view, so a player in an
  // empty part of the world knows where the fight is.
  const POINTERS = 3;

  function drawPointers(w, h, scale) {
    const halfW = w / 2 / scale;
    const halfH = h / 2 / scale;
    const away = [];
    for (const ship of G.ships.values()) {
      if (ship.id === G.shipId || !ship.drawn) continue;
      const dx = Physics.ringDelta(cam.x, ship.drawn.x, G.size.w);
      const dy = Physics.ringDelta(cam.y, ship.drawn.y, G.size.h);
      if (Math.abs(dx) < halfW && Math.abs(dy) < halfH) continue;
      away.push({ ship, dx, dy, d: Math.hypot(dx, dy) });
    }
    away.sort((a, b) => a.d - b.d);
    ctx.save();
    for (const a of away.slice(0, POINTERS)) {
      // Where the line from the centre towards the ship leaves the screen, inset a little.
      const k = Math.min((w / 2 - 18) / Math.abs(a.dx * scale || 1e-9), (h / 2 - 18) / Math.abs(a.dy * scale || 1e-9));
      const x = w / 2 + a.dx * scale * k;
      const y = h / 2 + a.dy * scale * k;
      ctx.globalAlpha = Math.max(0.5, 1 - a.d / 1500);
      ctx.fillStyle = shipColor(a.ship);
      ctx.translate(x, y);
      ctx.rotate(Math.atan2(a.dy, a.dx));
      ctx.beginPath();
      ctx.moveTo(9, 0);
      ctx.lineTo(-6, 7);
      ctx.lineTo(-6, -7);
      ctx.closePath();
      ctx.fill();
      ctx.setTransform(canvas.width / w, 0, 0, canvas.height / h, 0, 0);
    }
    ctx.restore();
  }

  // ---------------------------------------------------------------------------
  // HTML overlays: status, scoreboard, death prompt, errors
  // ---------------------------------------------------------------------------
  const UI = (() => {
    const $ = (id) => document.getElementById(id);
    let toastTimer = null;
    let helpTimer = null;

    function status() {
      const el = $('status');
      el.dataset.state = G.status;
      let text;
      switch (G.status) {
        case 'connected': text = `connected${G.rttMs ? ` · ${Math.round(G.rttMs)} ms` : ''}`; break;
        case 'reconnecting': text = `reconnecting… (attempt ${G.attempt})`; break;
        case 'failed': text = 'disconnected'; break;
        case 'paused': text = 'paused'; break;
        default: text = 'connecting…';
      }
      $('status-text').textContent = text;
      $('room').textContent = `· ${ROOM}`;
    }

    function scoreboard() {
      const body = $('score-rows');
      const rows = G.scores.slice(0, 10);
      const mine = G.scores.find((e) => e.player === G.playerId);
      if (mine && !rows.includes(mine)) rows.push(mine);
      body.replaceChildren(
        ...rows.map((e) => {
          const tr = document.createElement('tr');
          if (e.player === G.playerId) tr.className = 'me';
          else if (e.player === 0) tr.className = 'bot';
          for (const [v, cls] of [[e.name, ''], [e.kills, 'n'], [e.deaths, 'n']]) {
            const td = document.createElement('td');
            td.textContent = String(v);
            if (cls) td.className = cls;
            tr.appendChild(td);
          }
          return tr;
        }),
      );
    }

    function killer(name) {
      $('killer').hidden = !name;
      $('killer').textContent = name ? `by ${name}` : '';
    }

    // The prompt waits a moment so the player sees the own ship explode first.
    const DEAD_PROMPT_DELAY_MS = 700;
    let deadTimer = null;

    function dead(show) {
      const el = $('dead');
      clearTimeout(deadTimer);
      deadTimer = null;
      if (!show) {
        el.hidden = true;
        return;
      }
      if (!el.hidden) return;
      deadTimer = setTimeout(() => {
        if (G.alive || G.status !== 'connected') return;
        el.hidden = false;
        $('again').focus({ preventScroll: true });
      }, DEAD_PROMPT_DELAY_MS);
    }

    function toast(text) {
      const el = $('toast');
      el.textContent = text;
      el.hidden = false;
      clearTimeout(toastTimer);
      toastTimer = setTimeout(() => (el.hidden = true), 3000);
    }

    function fatal(text) {
      $('fatal-title').textContent = 'Disconnected';
      $('fatal-text').textContent = text;
      $('resume').hidden = true;
      $('fatal').hidden = false;
    }

    function paused(text) {
      $('fatal-title').textContent = 'Paused';
      $('fatal-text').textContent = text;
      $('resume').hidden = false;
      $('fatal').hidden = false;
      $('resume').focus({ preventScroll: true });
    }

    function unpause() {
      $('fatal').hidden = true;
    }

    function showTouch() {
      G.touchMode = true;
      $('touch').hidden = false;
      $('help').hidden = true;
    }

    function hideHelpSoon() {
      if (helpTimer) return;
      helpTimer = setTimeout(() => ($('help').style.opacity = '0'), 6000);
    }

    return { status, scoreboard, killer, dead, toast, fatal, paused, unpause, showTouch, hideHelpSoon };
  })();

  // ---------------------------------------------------------------------------
  // Frame loop
  // ---------------------------------------------------------------------------
  let lastFrame = performance.now();
  let fpsWindowStart = lastFrame;
  let fpsFrames = 0;

  function frame(now) {
    const started = performance.now();
    const dtSteps = Math.min(10, (now - lastFrame) * stepsPerMs());
    lastFrame = now;
    G.frames++;
    fpsFrames++;
    if (now - fpsWindowStart >= 1000) {
      G.fps = (fpsFrames * 1000) / (now - fpsWindowStart);
      fpsFrames = 0;
      fpsWindowStart = now;
    }
    if (G.consts) {
      Input.tick(now);
      if (G.alive && G.base) {
        const p = predictOwn(predictedStep(now));
        const o = G.visualOffset;
        G.predicted = {
          x: Physics.wrap(p.x + o.x, G.size.w), y: Physics.wrap(p.y + o.y, G.size.h),
          angle: Physics.wrapAngle(p.angle + o.angle), thrust: p.thrust,
        };
        const decay = 0.88 ** dtSteps;
        o.x *= decay;
        o.y *= decay;
        o.angle *= decay;
      } else {
        G.predicted = null;
      }
    }
    Effects.update(dtSteps);
    render(now);
    G.renderMs = G.renderMs * 0.95 + (performance.now() - started) * 0.05;
    requestAnimationFrame(frame);
  }

  // Read-only view of the client for tests and debugging: plain data, a fresh copy per call,
  // and the pure decoder (it touches no game state).
  const round = (v) => Math.round(v * 1000) / 1000;
  window.spaaace = Object.freeze({
    decode(bytes) {
      const copy = Uint8Array.from(bytes);
      return Proto.decode(copy.buffer, G.size);
    },
    state() {
      const mine = G.scores.find((e) => e.player === G.playerId && G.playerId !== 0);
      const base = G.base;
      const own = G.predicted;
      return {
        connected: G.status === 'connected',
        status: G.status,
        error: G.fatalError,
        serverError: G.lastServerError,
        room: ROOM,
        playerId: G.playerId,
        shipId: G.shipId,
        alive: G.alive,
        resumed: G.resumed,
        reconnects: G.reconnects,
        lastCloseCode: G.lastCloseCode,
        name: mine ? mine.name : null,
        kills: mine ? mine.kills : 0,
        deaths: G.deaths,
        myShip: own ? { x: round(own.x), y: round(own.y), angle: round(own.angle) } : null,
        serverShip: base ? { x: round(base.x), y: round(base.y), angle: round(base.angle), step: base.step } : null,
        ships: G.ships.size,
        missiles: G.missiles.size,
        drawnShips: G.drawnShips || 0,
        effects: Effects.count(),
        updates: G.updates,
        lastStep: G.lastStep,
        lastInputSeq: G.lastInputSeq,
        inputSeq: G.seq,
        pendingInputs: G.pending.length,
        keys: Input.keys(),
        frames: G.frames,
        fps: round(G.fps),
        frameMs: round(G.renderMs),
        prediction: {
          corrections: G.corrections.n,
          meanUnits: round(G.corrections.n ? G.corrections.sum / G.corrections.n : 0),
          maxUnits: round(G.corrections.max),
        },
        rttMs: round(G.rttMs),
      };
    },
  });

  UI.status();
  Input.bind();
  Net.start();
  requestAnimationFrame(frame);
})();
