// Entry point: builds the client's parts, wires them together, chooses between
// the start screen and a room named in the link, and runs the frame loop.
import { cleanName } from './protocol.js';
import { ServerClock } from './clock.js';
import { MirroredWorld } from './world.js';
import { OwnShip } from './prediction.js';
import { Connection } from './connection.js';
import { Controls } from './input.js';
import { Scores } from './scores.js';
import { Effects } from './effects.js';
import { Renderer } from './render.js';
import { Hud } from './hud.js';
import { KillFeed } from './killfeed.js';
import { Sound } from './audio.js';
import { StartScreen, copyInvite, inviteLink, rememberedName } from './lobby.js';
import { Game } from './game.js';
import { installDebugView } from './debug.js';

const DEFAULT_MISSILE_LIFE_STEPS = 30;

const lobby = { screen: 'start', room: null, inviteLink: null };
const clock = new ServerClock();
const world = new MirroredWorld();
const own = new OwnShip(clock, world);
const scores = new Scores();
const effects = new Effects();
const sound = new Sound();
const renderer = new Renderer(document.getElementById('game'));
const feed = new KillFeed(document.getElementById('killfeed'));

function toggleMute() {
  hud.muted(sound.toggleMute());
}

async function invite() {
  const ok = await copyInvite(lobby.room);
  hud.toast(ok ? 'Invite link copied: send it to a friend' : `Invite link: ${lobby.inviteLink}`);
}

const hud = new Hud({
  onAgain: () => game.restart(),
  onResume: () => game.resume(),
  onMute: toggleMute,
  onInvite: invite,
});
const game = new Game({ clock, world, own, scores, hud, feed, effects, sound, renderer });
const controls = new Controls({
  onEnter: () => game.enter(),
  onMute: toggleMute,
  onGesture: () => sound.unlock(),
  onTouchScreen: () => hud.showTouch(),
  onPlaying: () => hud.hideHelpSoon(),
});

function play({ room, name }) {
  Object.assign(lobby, { screen: 'game', room, inviteLink: inviteLink(room) });
  hud.show(room);
  game.conn = new Connection({
    room,
    name,
    sizeOf: () => world.size,
    onMessage: (m, now) => game.onMessage(m, now),
    onStatus: () => game.statusChanged(),
  });
  game.conn.start();
}

const loop = { frames: 0, fps: 0, renderMs: 0, last: performance.now(), windowStart: performance.now(), windowFrames: 0 };

function countFrame(now) {
  loop.frames++;
  loop.windowFrames++;
  if (now - loop.windowStart >= 1000) {
    loop.fps = (loop.windowFrames * 1000) / (now - loop.windowStart);
    loop.windowFrames = 0;
    loop.windowStart = now;
  }
}

function frame(now) {
  const started = performance.now();
  const dtSteps = Math.min(10, (now - loop.last) * clock.stepsPerMs());
  loop.last = now;
  countFrame(now);
  if (clock.consts) {
    if (game.sendInput(controls.inputFor(now), now)) controls.spend();
    own.frame(now, dtSteps);
  }
  effects.update(dtSteps);
  renderer.draw({
    world,
    ownId: own.shipId,
    own: own.predicted,
    tRender: clock.render(now),
    tPred: clock.predicted(now),
    stepsPerUpdate: clock.stepsPerUpdate(),
    missileLife: clock.consts ? clock.consts.missileLifeSteps : DEFAULT_MISSILE_LIFE_STEPS,
    nameOf: (id) => scores.nameOf(id, 0),
    touchMode: hud.touchMode,
    effects,
    inRoom: lobby.screen === 'game',
  });
  sound.listen(renderer.cam.x, renderer.cam.y, world.size);
  sound.thrust(own.predicted !== null && own.predicted.thrust > 0);
  loop.renderMs = loop.renderMs * 0.95 + (performance.now() - started) * 0.05;
  requestAnimationFrame(frame);
}

installDebugView({ lobby, clock, world, own, game, renderer, effects, feed, sound, controls }, loop);
hud.muted(sound.muted);
controls.bind();
const params = new URLSearchParams(location.search);
const room = params.get('room');
const name = cleanName(params.get('name') ?? rememberedName());
if (room) play({ room, name });
else new StartScreen(play, name).show();
requestAnimationFrame(frame);
