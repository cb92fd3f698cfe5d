// The server's simulation step as seen from this page: estimated from update
// arrivals and the round-trip time, so prediction runs a little ahead of the
// server and interpolation a little behind it.

const DEFAULT_STEPS_PER_SECOND = 60;

export class ServerClock {
  constructor() {
    this.consts = null;
    this.offset = null; // server step = now_in_steps + offset
    this.lastStep = 0;
    this.rttMs = 0;
  }

  /** A new connection: its constants and the step its `welcome` carried. */
  reset(consts, step, now) {
    this.consts = consts;
    this.offset = null;
    this.lastStep = step;
    this.sample(step, now);
  }

  stepsPerMs() {
    return (this.consts ? this.consts.stepsPerSecond : DEFAULT_STEPS_PER_SECOND) / 1000;
  }

  stepsPerUpdate() {
    return this.consts ? this.consts.stepsPerSecond / Math.max(1, this.consts.updatesPerSecond) : 3;
  }

  // Jumps towards early arrivals (the least delayed ones) and drifts slowly
  // otherwise, so jitter does not shake the rendering clock.
  sample(step, now) {
    this.lastStep = step;
    const sample = step - now * this.stepsPerMs();
    if (this.offset === null || Math.abs(sample - this.offset) > 60) this.offset = sample;
    else if (sample > this.offset) this.offset += (sample - this.offset) * 0.5;
    else this.offset += (sample - this.offset) * 0.03;
  }

  noteRtt(ms) {
    this.rttMs = this.rttMs ? this.rttMs * 0.8 + ms * 0.2 : ms;
  }

  server(now) {
    return this.offset === null ? this.lastStep : now * this.stepsPerMs() + this.offset;
  }

  /** The step an input sent now will meet on the server. */
  predicted(now) {
    return this.server(now) + this.rttMs * this.stepsPerMs() + 1;
  }

  /** Other ships are drawn this far back, between two updates already received. */
  render(now) {
    return this.server(now) - this.stepsPerUpdate() * 1.2;
  }
}
