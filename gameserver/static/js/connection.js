// The WebSocket to the server: join with the stored reconnect token, a ping
// heartbeat, and reconnecting with backoff when the link drops, except when a
// close code says retrying cannot help or another tab took the player over.
import { CLOSE, ERROR_TEXT, FATAL_CLOSES, decode, encodeJoin, encodePing } from './protocol.js';

const PING_EVERY_MS = 2000;
const SILENT_LIMIT_MS = 6000;
const MAX_PINGS_IN_FLIGHT = 8;

export class Connection {
  /**
   * `sizeOf()` gives the world size for decoding; `onMessage(m, now)` gets every
   * decoded message; `onStatus()` is called whenever `status` changes.
   */
  constructor({ room, name, sizeOf, onMessage, onStatus }) {
    this.room = room;
    this.name = name;
    this.sizeOf = sizeOf;
    this.onMessage = onMessage;
    this.onStatus = onStatus;
    this.tokenKey = `spaaace:token:${room}`;
    this.ws = null;
    // idle, connecting, connected, reconnecting, paused (another tab plays), failed
    this.status = 'idle';
    this.attempt = 0;
    this.reconnects = 0;
    this.lastCloseCode = null;
    this.fatalError = null;
    this.pauseText = null;
    this.lastServerError = null;
    this.token = '';
    this.pings = new Map();
    this.pingSeq = 0;
    this.lastMessageAt = 0;
  }

  start() {
    this.setStatus('connecting');
    this.connect();
    setInterval(() => this.heartbeat(), PING_EVERY_MS);
  }

  isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  send(buf) {
    if (!this.isOpen()) return false;
    this.ws.send(buf);
    return true;
  }

  /** Takes the player back after another tab took it over. */
  resume() {
    if (this.status !== 'paused') return;
    this.attempt = 0;
    this.pauseText = null;
    this.setStatus('connecting');
    this.connect();
  }

  setStatus(status) {
    this.status = status;
    this.onStatus();
  }

  url() {
    return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  }

  storedToken() {
    try {
      return sessionStorage.getItem(this.tokenKey) || '';
    } catch (_) {
      return this.token;
    }
  }

  keepToken(token) {
    this.token = token;
    try {
      sessionStorage.setItem(this.tokenKey, token);
    } catch (_) {
      // Storage can be disabled (private mode); resuming then only works within this page.
    }
  }

  connect() {
    this.lastServerError = null;
    const ws = new WebSocket(this.url());
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.lastMessageAt = performance.now();
      this.send(encodeJoin(this.room, this.name, this.storedToken()));
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this.received(ws, ev.data, performance.now());
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.closed(ev.code, ev.reason);
    };
    // A failed connection also fires `close`, where it is handled.
    ws.onerror = () => {};
  }

  received(ws, data, now) {
    this.lastMessageAt = now;
    if (!(data instanceof ArrayBuffer)) {
      this.drop(ws, 'text frame from server');
      return;
    }
    let m;
    try {
      m = decode(data, this.sizeOf());
    } catch (e) {
      this.drop(ws, e.message);
      return;
    }
    switch (m.type) {
      case 'welcome':
        this.attempt = 0;
        this.fatalError = null;
        this.lastServerError = null;
        this.keepToken(m.token);
        this.setStatus('connected');
        break;
      case 'error':
        this.lastServerError = `${ERROR_TEXT[m.code] || `error ${m.code}`}: ${m.message}`;
        break;
      case 'pong':
        m.rttMs = this.roundTrip(m.echo, now);
        if (m.rttMs === null) return;
        break;
      default:
        break;
    }
    this.onMessage(m, now);
  }

  /** Milliseconds since ping `echo` was sent, or null for a pong nobody asked for. */
  roundTrip(echo, now) {
    const sent = this.pings.get(echo);
    if (sent === undefined) return null;
    this.pings.delete(echo);
    return now - sent;
  }

  drop(ws, why) {
    console.warn(`spaaace: dropping connection: ${why}`);
    this.ws = null;
    ws.close(4001, 'bad server frame');
    this.closed(4001, why, true);
  }

  closed(code, reason, byUs = false) {
    this.lastCloseCode = code;
    const wasConnected = this.status === 'connected';
    if (!byUs && (code === CLOSE.REPLACED || code === CLOSE.NORMAL)) {
      // Another tab took this player over, or the server ended a long silence:
      // retrying would steal the game back and forth.
      this.pauseText = code === CLOSE.REPLACED
        ? 'This game continues in another tab or window.'
        : `The server closed the connection${reason ? ` (${reason})` : ''}.`;
      this.setStatus('paused');
      return;
    }
    if (!byUs && FATAL_CLOSES[code]) {
      this.fatalError = this.lastServerError
        ? `${this.lastServerError} (close ${code})`
        : `${FATAL_CLOSES[code]} (close ${code}${reason ? `: ${reason}` : ''})`;
      this.setStatus('failed');
      return;
    }
    if (wasConnected) this.reconnects++;
    // A planned restart comes back at once; otherwise 250 ms doubling to 5 s, jittered.
    const base = code === CLOSE.SERVER_RESTARTING && this.attempt === 0 ? 150 : Math.min(5000, 250 * 2 ** this.attempt);
    const delay = base / 2 + (Math.random() * base) / 2;
    this.attempt = Math.min(this.attempt + 1, 10);
    this.setStatus('reconnecting');
    setTimeout(() => this.connect(), delay);
  }

  heartbeat() {
    const now = performance.now();
    if (!this.isOpen()) return;
    if (now - this.lastMessageAt > SILENT_LIMIT_MS) {
      // Updates arrive many times a second: this long a silence is a dead link.
      const ws = this.ws;
      this.ws = null;
      ws.close();
      this.closed(1006, 'no data from server');
      return;
    }
    if (this.status !== 'connected') return;
    const echo = (this.pingSeq = (this.pingSeq + 1) >>> 0);
    this.pings.set(echo, now);
    if (this.pings.size > MAX_PINGS_IN_FLIGHT) this.pings.delete(this.pings.keys().next().value);
    this.send(encodePing(echo));
  }
}
