// Keyboard and touch buttons: which game keys are held, and a token bucket
// that keeps inputs within the server's allowance of 60 a second.
import { KEY_BITS } from './protocol.js';

const KEYMAP = {
  ArrowUp: 'up', KeyW: 'up', ArrowLeft: 'left', KeyA: 'left', ArrowRight: 'right', KeyD: 'right', Space: 'fire',
};
// One input per frame, but never more than 60 a second (the server's allowance) on
// fast displays, nor fewer on 75 Hz ones: a bucket refilled at 60/s, two deep for jitter.
const INPUTS_PER_MS = 60 / 1000;
const BUCKET_DEPTH = 2;

// Keys aimed at a form (the start screen) keep their usual meaning there.
const isForForm = (ev) => ev.target instanceof Element && ev.target.closest('form, input, textarea') !== null;

export class Controls {
  /**
   * `onEnter()` on Enter, `onMute()` on M, `onGesture()` on any key, click or touch
   * (what browsers count as a user gesture), `onTouchScreen()` once a touch is seen,
   * `onPlaying()` on the first game key.
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.held = { up: false, left: false, right: false, fire: false };
    this.touchHeld = { up: false, left: false, right: false, fire: false };
    this.tokens = BUCKET_DEPTH;
    this.refilledAt = 0;
  }

  bind() {
    const h = this.handlers;
    for (const type of ['keydown', 'pointerdown', 'touchstart']) {
      addEventListener(type, () => h.onGesture(), { capture: true, passive: true });
    }
    addEventListener('keydown', (ev) => this.keyDown(ev));
    addEventListener('keyup', (ev) => {
      const k = this.keyOf(ev);
      if (!k) return;
      this.held[k] = false;
      ev.preventDefault();
    });
    addEventListener('blur', () => {
      for (const k of Object.keys(this.held)) this.held[k] = this.touchHeld[k] = false;
    });
    for (const btn of document.querySelectorAll('#touch button')) this.bindTouchButton(btn);
    addEventListener('touchstart', () => h.onTouchScreen(), { once: true, passive: true });
    if (matchMedia('(pointer: coarse)').matches) h.onTouchScreen();
  }

  keyOf(ev) {
    if (isForForm(ev)) return undefined;
    return KEYMAP[ev.code] || KEYMAP[ev.key === ' ' ? 'Space' : ev.key];
  }

  keyDown(ev) {
    if (isForForm(ev)) return;
    if (ev.key === 'Enter') {
      this.handlers.onEnter();
      return;
    }
    if (ev.code === 'KeyM' && !ev.repeat) {
      this.handlers.onMute();
      return;
    }
    const k = this.keyOf(ev);
    if (!k) return;
    this.held[k] = true;
    ev.preventDefault();
    this.handlers.onPlaying();
  }

  bindTouchButton(btn) {
    const k = btn.dataset.key;
    const set = (on) => (ev) => {
      ev.preventDefault();
      this.touchHeld[k] = on;
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

  /** The held keys as protocol bits. */
  keys() {
    let bits = 0;
    for (const k of ['up', 'left', 'right', 'fire']) if (this.held[k] || this.touchHeld[k]) bits |= KEY_BITS[k];
    return bits;
  }

  /** Once per frame: the keys to send now, or 0 when none are held or the bucket is empty. */
  inputFor(now) {
    this.tokens = Math.min(BUCKET_DEPTH, this.tokens + (now - this.refilledAt) * INPUTS_PER_MS);
    this.refilledAt = now;
    const bits = this.keys();
    return bits && this.tokens >= 1 ? bits : 0;
  }

  /** The input from `inputFor` was sent. */
  spend() {
    this.tokens -= 1;
  }
}
