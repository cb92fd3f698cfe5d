// Getting into a room: the start screen (name, a suggested room, the rooms
// this server runs, "Play") and the invite link that brings a friend into the
// same room.
import { ROOM_PATTERN, cleanName } from './protocol.js';

const $ = (id) => document.getElementById(id);
const NAME_KEY = 'spaaace:name';
const ROOM_LIST_EVERY_MS = 5000;
const WORDS = [
  ['swift', 'silent', 'red', 'blue', 'lucky', 'rogue', 'cosmic', 'solar', 'lunar', 'dark'],
  ['comet', 'nebula', 'quasar', 'orbit', 'pulsar', 'meteor', 'rocket', 'nova', 'galaxy', 'photon'],
];

/** The name remembered from the start screen, or ''. */
export function rememberedName() {
  try {
    return localStorage.getItem(NAME_KEY) || '';
  } catch (_) {
    return '';
  }
}

function rememberName(name) {
  try {
    localStorage.setItem(NAME_KEY, name);
  } catch (_) {
    // Without storage the start screen just asks again next time.
  }
}

/** A random room id such as "lucky-comet-42". */
export function suggestRoom() {
  const r = crypto.getRandomValues(new Uint32Array(3));
  return `${WORDS[0][r[0] % WORDS[0].length]}-${WORDS[1][r[1] % WORDS[1].length]}-${r[2] % 100}`;
}

/** The link that opens `room` straight away. */
export function inviteLink(room) {
  return `${location.origin}${location.pathname}?room=${encodeURIComponent(room)}`;
}

/** Copies the invite link; resolves to true when it reached the clipboard. */
export async function copyInvite(room) {
  try {
    await navigator.clipboard.writeText(inviteLink(room));
    return true;
  } catch (e) {
    console.warn(`spaaace: could not copy the invite link: ${e.message}`);
    return false;
  }
}

export class StartScreen {
  /** `onPlay({ room, name })` once the player chose; `name` fills the name field first. */
  constructor(onPlay, name) {
    this.onPlay = onPlay;
    this.name = name;
    this.rooms = [];
    this.timer = null;
  }

  show() {
    $('start').hidden = false;
    $('start-name').value = this.name;
    $('start-room').value = suggestRoom();
    $('start-new').addEventListener('click', () => {
      $('start-room').value = suggestRoom();
    });
    $('start-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.submit();
    });
    $(this.name ? 'start-play' : 'start-name').focus();
    this.listRooms();
    this.timer = setInterval(() => this.listRooms(), ROOM_LIST_EVERY_MS);
  }

  submit() {
    const room = $('start-room').value.trim();
    if (!ROOM_PATTERN.test(room)) {
      $('start-error').textContent = "A room is 1 to 32 letters, digits, '-' or '_'.";
      $('start-error').hidden = false;
      return;
    }
    const name = cleanName($('start-name').value);
    rememberName(name);
    clearInterval(this.timer);
    $('start').hidden = true;
    // The address bar now holds the invite link: a reload stays in the room.
    history.replaceState(null, '', inviteLink(room));
    this.onPlay({ room, name });
  }

  async listRooms() {
    let list;
    try {
      const res = await fetch('/rooms', { cache: 'no-store' });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      list = (await res.json()).rooms;
    } catch (e) {
      console.warn(`spaaace: no room list: ${e.message}`);
      return;
    }
    this.rooms = list.filter((r) => typeof r.id === 'string' && Number.isInteger(r.players));
    this.renderRooms();
  }

  renderRooms() {
    const ul = $('start-rooms');
    $('start-rooms-empty').hidden = this.rooms.length > 0;
    ul.replaceChildren(
      ...this.rooms.map((r) => {
        const li = document.createElement('li');
        const btn = document.createElement('button');
        btn.type = 'button';
        btn.className = 'tool';
        btn.dataset.room = r.id;
        const id = document.createElement('span');
        id.textContent = r.id;
        const n = document.createElement('span');
        n.className = 'n';
        n.textContent = `${r.players} player${r.players === 1 ? '' : 's'}`;
        btn.append(id, n);
        btn.addEventListener('click', () => {
          $('start-room').value = r.id;
          $('start-play').focus();
        });
        li.append(btn);
        return li;
      }),
    );
  }
}
