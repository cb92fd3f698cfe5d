// Sound, synthesized with the Web Audio API (no files): a shot, a ship blown
// up, the own ship's death and a quiet thrust, each placed by distance and
// direction from the own ship. No AudioContext exists before the first user
// gesture (browsers refuse to start one earlier); while muted no node is made.
import { ringDelta } from './physics.js';

/** Beyond this distance (world units) a sound is not played at all. */
export const HEAR_RANGE = 1100;
/** Within this distance a sound plays at full volume. */
const FULL_VOLUME_RANGE = 150;
/** A sound this far to the side pans fully to that side. */
const PAN_RANGE = 700;
/** Sounds playing at once; more are skipped (200 ships firing would be noise). */
const MAX_VOICES = 12;
const MUTE_KEY = 'spaaace:muted';
const THRUST_VOLUME = 0.05;

/** Volume (0 to 1) and stereo pan (-1 left to 1 right) of a sound `dx`, `dy` units from the listener, or null when out of earshot. */
export function placement(dx, dy) {
  const d = Math.hypot(dx, dy);
  if (!(d <= HEAR_RANGE)) return null;
  const far = Math.max(0, d - FULL_VOLUME_RANGE) / (HEAR_RANGE - FULL_VOLUME_RANGE);
  return { gain: (1 - far) ** 2, pan: Math.max(-1, Math.min(1, dx / PAN_RANGE)) };
}

function storedMute() {
  try {
    return localStorage.getItem(MUTE_KEY) === '1';
  } catch (_) {
    return false;
  }
}

export class Sound {
  constructor() {
    this.ctx = null;
    this.master = null;
    this.noise = null;
    this.thrustVoice = null;
    this.gestured = false;
    this.muted = storedMute();
    this.listener = null; // { x, y, size }: where the own ship (the camera) is
    this.voiceEnds = [];
    this.nodes = 0;
    this.played = { fire: 0, hit: 0, death: 0 };
    this.skipped = 0;
  }

  /** A user gesture happened: sound may start now. */
  unlock() {
    this.gestured = true;
    if (!this.muted) this.open();
  }

  open() {
    if (this.ctx) {
      if (this.ctx.state === 'suspended') this.ctx.resume();
      return;
    }
    if (typeof AudioContext === 'undefined') return;
    this.ctx = new AudioContext();
    this.master = this.node(this.ctx.createGain());
    this.master.connect(this.ctx.destination);
    const len = this.ctx.sampleRate;
    this.noise = this.ctx.createBuffer(1, len, this.ctx.sampleRate);
    const data = this.noise.getChannelData(0);
    for (let i = 0; i < len; i++) data[i] = Math.random() * 2 - 1;
  }

  toggleMute() {
    this.muted = !this.muted;
    try {
      localStorage.setItem(MUTE_KEY, this.muted ? '1' : '0');
    } catch (_) {
      // Without storage the choice lasts as long as the page.
    }
    if (this.muted) this.stopThrust();
    else if (this.gestured) this.open();
    return this.muted;
  }

  listen(x, y, size) {
    this.listener = { x, y, size };
  }

  node(n) {
    this.nodes++;
    return n;
  }

  /** Room for a sound at (x, y), as { t, gain, pan }; null while silent, out of earshot or too busy. */
  voice(x, y, seconds) {
    if (!this.ctx || this.muted || this.ctx.state !== 'running' || !this.listener) return null;
    const { size } = this.listener;
    const at = placement(ringDelta(this.listener.x, x, size.w), ringDelta(this.listener.y, y, size.h));
    if (!at) return null;
    const t = this.ctx.currentTime;
    this.voiceEnds = this.voiceEnds.filter((end) => end > t);
    if (this.voiceEnds.length >= MAX_VOICES) {
      this.skipped++;
      return null;
    }
    this.voiceEnds.push(t + seconds);
    return { t, ...at };
  }

  /** A gain envelope panned into the master: the end of every sound's chain. */
  output(v, peak, seconds) {
    const env = this.node(this.ctx.createGain());
    env.gain.setValueAtTime(peak * v.gain, v.t);
    env.gain.exponentialRampToValueAtTime(0.0001, v.t + seconds);
    const pan = this.node(this.ctx.createStereoPanner());
    pan.pan.value = v.pan;
    env.connect(pan).connect(this.master);
    return env;
  }

  noiseSource(v, seconds) {
    const src = this.node(this.ctx.createBufferSource());
    src.buffer = this.noise;
    src.loop = true;
    src.start(v.t);
    src.stop(v.t + seconds);
    return src;
  }

  /** An oscillator gliding from `from` to `to` Hz. */
  tone(v, type, from, to, seconds, peak) {
    const osc = this.node(this.ctx.createOscillator());
    osc.type = type;
    osc.frequency.setValueAtTime(from, v.t);
    osc.frequency.exponentialRampToValueAtTime(to, v.t + seconds);
    osc.connect(this.output(v, peak, seconds));
    osc.start(v.t);
    osc.stop(v.t + seconds);
  }

  /** Noise through a low-pass filter closing from `from` to `to` Hz: a blast. */
  blast(v, from, to, seconds, peak) {
    const filter = this.node(this.ctx.createBiquadFilter());
    filter.type = 'lowpass';
    filter.frequency.setValueAtTime(from, v.t);
    filter.frequency.exponentialRampToValueAtTime(to, v.t + seconds);
    this.noiseSource(v, seconds).connect(filter).connect(this.output(v, peak, seconds));
  }

  /** A missile fired at (x, y): a short falling zap. */
  fire(x, y) {
    const v = this.voice(x, y, 0.15);
    if (!v) return;
    this.tone(v, 'square', 880, 180, 0.15, 0.12);
    this.played.fire++;
  }

  /** A ship blown up at (x, y). */
  hit(x, y) {
    const v = this.voice(x, y, 0.7);
    if (!v) return;
    this.blast(v, 1400, 160, 0.7, 0.5);
    this.played.hit++;
  }

  /** The own ship destroyed: a longer, deeper blast with a falling tone under it. */
  death() {
    if (!this.listener) return;
    const v = this.voice(this.listener.x, this.listener.y, 1.4);
    if (!v) return;
    this.blast(v, 2400, 90, 1.4, 0.7);
    this.tone(v, 'sine', 190, 35, 1.3, 0.35);
    this.played.death++;
  }

  /** Once per frame: whether the own ship shows thrust. A low rumble fades in and out. */
  thrust(on) {
    if (!this.thrustVoice) {
      if (!on || !this.ctx || this.muted || this.ctx.state !== 'running') return;
      this.startThrust();
    }
    const g = this.thrustVoice.gain.gain;
    const target = on ? THRUST_VOLUME : 0;
    if (this.thrustVoice.target !== target) {
      g.setTargetAtTime(target, this.ctx.currentTime, 0.06);
      this.thrustVoice.target = target;
    }
  }

  startThrust() {
    const t = this.ctx.currentTime;
    const src = this.node(this.ctx.createBufferSource());
    src.buffer = this.noise;
    src.loop = true;
    const filter = this.node(this.ctx.createBiquadFilter());
    filter.type = 'bandpass';
    filter.frequency.value = 220;
    filter.Q.value = 0.8;
    const gain = this.node(this.ctx.createGain());
    gain.gain.setValueAtTime(0, t);
    src.connect(filter).connect(gain).connect(this.master);
    src.start(t);
    this.thrustVoice = { src, gain, target: 0 };
  }

  stopThrust() {
    if (!this.thrustVoice) return;
    this.thrustVoice.src.stop();
    this.thrustVoice.gain.disconnect();
    this.thrustVoice = null;
  }

  /** For the debug view. */
  stats() {
    return {
      context: this.ctx ? this.ctx.state : 'none',
      muted: this.muted,
      nodes: this.nodes,
      played: { ...this.played },
      skipped: this.skipped,
    };
  }
}
