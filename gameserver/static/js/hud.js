// The HTML over the canvas during a game: connection status, scoreboard, the
// death prompt, toasts, the paused and failed overlays, the touch buttons, the
// mute and invite buttons.

const $ = (id) => document.getElementById(id);
// The prompt waits a moment so the player sees the own ship explode first.
const DEAD_PROMPT_DELAY_MS = 700;
const TOAST_MS = 3000;
const HELP_MS = 6000;
const SCOREBOARD_ROWS = 10;

export class Hud {
  /** `handlers`: onAgain, onResume, onMute, onInvite (each a button's click). */
  constructor(handlers) {
    this.room = '';
    this.inRoom = false;
    this.touchMode = false;
    this.toastTimer = null;
    this.helpTimer = null;
    this.deadTimer = null;
    $('again').addEventListener('click', () => handlers.onAgain());
    $('resume').addEventListener('click', () => handlers.onResume());
    // Focus leaves these buttons at once, so Enter and space go on meaning "fly again" and "fire".
    $('mute').addEventListener('click', (ev) => {
      ev.currentTarget.blur();
      handlers.onMute();
    });
    $('invite').addEventListener('click', (ev) => {
      ev.currentTarget.blur();
      handlers.onInvite();
    });
  }

  /** The game starts in `room`: the panels appear. */
  show(room) {
    this.room = room;
    this.inRoom = true;
    for (const id of ['status', 'score-column']) $(id).hidden = false;
    this.placeControls();
  }

  status(status, attempt, rttMs) {
    $('status').dataset.state = status;
    let text;
    switch (status) {
      case 'connected': text = `connected${rttMs ? ` · ${Math.round(rttMs)} ms` : ''}`; break;
      case 'reconnecting': text = `reconnecting… (attempt ${attempt})`; break;
      case 'failed': text = 'disconnected'; break;
      case 'paused': text = 'paused'; break;
      default: text = 'connecting…';
    }
    $('status-text').textContent = text;
    $('room').textContent = `· ${this.room}`;
  }

  /** `scores` sorted best first; the own row is shown even when it is not in the top ten. */
  scoreboard(scores, playerId) {
    const rows = scores.slice(0, SCOREBOARD_ROWS);
    const mine = scores.find((e) => e.player === playerId);
    if (mine && !rows.includes(mine)) rows.push(mine);
    $('score-rows').replaceChildren(
      ...rows.map((e) => {
        const tr = document.createElement('tr');
        if (e.player === playerId) tr.className = 'me';
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

  killer(name) {
    $('killer').hidden = !name;
    $('killer').textContent = name ? `by ${name}` : '';
  }

  /** Shows the death prompt after a moment if `stillDead()` then holds, or hides it. */
  dead(show, stillDead) {
    const el = $('dead');
    clearTimeout(this.deadTimer);
    this.deadTimer = null;
    if (!show) {
      el.hidden = true;
      return;
    }
    if (!el.hidden) return;
    this.deadTimer = setTimeout(() => {
      if (!stillDead()) return;
      el.hidden = false;
      $('again').focus({ preventScroll: true });
    }, DEAD_PROMPT_DELAY_MS);
  }

  toast(text) {
    const el = $('toast');
    el.textContent = text;
    el.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => (el.hidden = true), TOAST_MS);
  }

  fatal(text) {
    $('fatal-title').textContent = 'Disconnected';
    $('fatal-text').textContent = text;
    $('resume').hidden = true;
    $('fatal').hidden = false;
  }

  paused(text) {
    $('fatal-title').textContent = 'Paused';
    $('fatal-text').textContent = text;
    $('resume').hidden = false;
    $('fatal').hidden = false;
    $('resume').focus({ preventScroll: true });
  }

  unpause() {
    $('fatal').hidden = true;
  }

  muted(on) {
    const btn = $('mute');
    btn.textContent = on ? 'sound off' : 'sound on';
    btn.setAttribute('aria-pressed', String(on));
    btn.title = on ? 'sound off (M)' : 'sound on (M)';
  }

  showTouch() {
    this.touchMode = true;
    this.placeControls();
  }

  /** Touch buttons on a touch screen, the key help otherwise; neither before a room is chosen. */
  placeControls() {
    $('touch').hidden = !(this.inRoom && this.touchMode);
    $('help').hidden = !this.inRoom || this.touchMode;
  }

  hideHelpSoon() {
    if (this.helpTimer) return;
    this.helpTimer = setTimeout(() => ($('help').style.opacity = '0'), HELP_MS);
  }
}
