// The last few kills in a corner ("A ✕ B"), each fading out after a while;
// the player's own kills and deaths highlighted.

const MAX_ENTRIES = 5;
const SHOW_MS = 8000;
// Matches the opacity transition of `.kill.fading` in index.html.
const FADE_MS = 1000;

export class KillFeed {
  constructor(el) {
    this.el = el;
  }

  add(shooter, victim, mine) {
    const row = document.createElement('div');
    row.className = mine ? 'kill mine' : 'kill';
    const who = document.createElement('span');
    who.textContent = shooter;
    const cross = document.createElement('span');
    cross.className = 'cross';
    cross.textContent = ' ✕ ';
    const whom = document.createElement('span');
    whom.textContent = victim;
    row.append(who, cross, whom);
    this.el.append(row);
    while (this.el.children.length > MAX_ENTRIES) this.el.firstElementChild.remove();
    setTimeout(() => row.classList.add('fading'), SHOW_MS);
    setTimeout(() => row.remove(), SHOW_MS + FADE_MS);
  }

  /** What the feed shows, oldest first, for the debug view. */
  entries() {
    return [...this.el.children].map((row) => ({
      text: row.textContent,
      mine: row.classList.contains('mine'),
      fading: row.classList.contains('fading'),
    }));
  }
}
