// The room's scoreboard as the last `score` message gave it, and the names of
// ships and players it tells.

export class Scores {
  constructor() {
    this.sorted = [];
    this.byShip = new Map();
    this.byPlayer = new Map(); // human players only: bots share player id 0
  }

  update(entries) {
    this.sorted = entries.slice().sort((a, b) => b.kills - a.kills || a.deaths - b.deaths || a.ship - b.ship);
    this.byShip = new Map(entries.map((e) => [e.ship, e]));
    this.byPlayer = new Map(entries.filter((e) => e.player !== 0).map((e) => [e.player, e]));
  }

  /** The row of human player `playerId`, or undefined. */
  of(playerId) {
    return playerId === 0 ? undefined : this.byPlayer.get(playerId);
  }

  /** The name on ship `shipId`, or failing that of its player (a human's name outlives a ship). */
  nameOf(shipId, playerId) {
    const row = this.byShip.get(shipId) || (playerId ? this.byPlayer.get(playerId) : undefined);
    return row ? row.name : null;
  }
}
