//! The three kinds of simulated player: one that mirrors the world as the
//! browser does, one that also reconnects as the browser does, and the
//! swarm's, that only skims.

use std::net::ToSocketAddrs;
use std::time::Duration;

use anyhow::{bail, Context};
use gameserver::client::lateness::Lateness;
use gameserver::client::pilot::Pilot;
use gameserver::client::reconnect::{
    CookieJar, Ending, Observation, Observed, PlayerPlan, ReconnectingPlayer,
};
use gameserver::client::swarm::{self, Recruit, SwarmPlan};
use gameserver::client::{ClientError, GameClient};
use gameserver::protocol::{ServerMessage, UpdateKind};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::http::Uri;
use tokio_util::sync::CancellationToken;

use crate::report::PlayerReport;
use crate::{Args, Schedule};

pub async fn play(
    url: String,
    room: String,
    index: u32,
    period: Duration,
    schedule: Schedule,
) -> PlayerReport {
    let mut report = PlayerReport {
        lateness: Some(Lateness::new(schedule.origin)),
        ..PlayerReport::default()
    };
    tokio::time::sleep_until(schedule.join_at).await;
    let name = format!("load-{index}");
    let mut client = match GameClient::join(&url, &room, &name, "").await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(player = index, error = %e, "join failed");
            report.failed = true;
            return report;
        }
    };
    report.joined = true;
    let mut pilot = Pilot::new(index);
    let mut tick = tokio::time::interval(period);
    // What arrived before the measured seconds: (bytes, frames).
    let mut before: Option<(u64, u64)> = None;
    let outcome: Result<(), ClientError> = async {
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(schedule.stop) => return Ok(()),
                _ = tick.tick() => {
                    if client.view.my_ship == 0 {
                        client.restart().await?;
                    } else {
                        client.send_input(pilot.next_input()).await?;
                        report.inputs_sent += u64::from(schedule.counts(Instant::now()));
                    }
                }
                received = receive(&mut client) => {
                    let at = Instant::now();
                    if !schedule.counts(at) {
                        before = Some((client.conn.bytes_received, client.conn.frames_received));
                    }
                    match received? {
                        Received::Update { step, kind } if schedule.counts(at) => {
                            report.updates += 1;
                            report.full_updates += u64::from(kind == UpdateKind::Full);
                            if let Some(lateness) = report.lateness.as_mut() {
                                lateness.arrived(step, at);
                            }
                        }
                        Received::Died => report.deaths += 1,
                        _ => {}
                    }
                }
            }
        }
    }
    .await;
    if let Err(e) = outcome {
        tracing::warn!(player = index, error = %e, "player stopped early");
        report.failed = true;
    }
    let (bytes, frames) = before.unwrap_or_default();
    report.bytes = client.conn.bytes_received - bytes;
    report.frames = client.conn.frames_received - frames;
    report.kills = client
        .view
        .score_of_player(client.player_id())
        .map_or(0, |r| r.kills);
    report
}

/// What a player counts of what it received.
enum Received {
    Update { step: u32, kind: UpdateKind },
    Died,
    Other,
}

/// One message, mirrored into the player's world.
async fn receive(client: &mut GameClient) -> Result<Received, ClientError> {
    Ok(match client.pump().await? {
        ServerMessage::Update { body, .. } => Received::Update {
            step: body.step,
            kind: body.kind,
        },
        ServerMessage::YourShip { ship_id: 0 } => Received::Died,
        _ => Received::Other,
    })
}

/// Where the swarm's players connect, from `--url` (ws:// only).
pub fn swarm_plan(
    args: &Args,
    origin: Instant,
    counted_from: Instant,
    stop: Instant,
) -> anyhow::Result<SwarmPlan> {
    let uri: Uri = args.url.parse().context("--url is not a URL")?;
    if uri.scheme_str() != Some("ws") {
        bail!("--no-mirror speaks plain ws:// only, not {}", args.url);
    }
    let host = uri.host().context("--url has no host")?;
    let port = uri.port_u16().unwrap_or(80);
    let addr = (host, port)
        .to_socket_addrs()
        .with_context(|| format!("resolving {host}"))?
        .next()
        .with_context(|| format!("{host} has no address"))?;
    Ok(SwarmPlan {
        addr,
        host: format!("{host}:{port}"),
        path: uri.path_and_query().map_or("/", |p| p.as_str()).to_string(),
        input_period: Duration::from_secs(1) / args.input_rate,
        origin,
        counted_from,
        stop,
    })
}

/// The recruits shared among a thread per CPU.
pub async fn play_swarm(
    plan: SwarmPlan,
    recruits: Vec<Recruit>,
) -> anyhow::Result<Vec<PlayerReport>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut shares: Vec<Vec<Recruit>> = vec![Vec::new(); threads];
    for (i, recruit) in recruits.into_iter().enumerate() {
        shares[i % threads].push(recruit);
    }
    let running: Vec<_> = shares
        .into_iter()
        .map(|share| {
            let plan = plan.clone();
            tokio::task::spawn_blocking(move || swarm::run(&plan, share))
        })
        .collect();
    let mut reports = Vec::new();
    for thread in running {
        let tallies = thread.await.context("a swarm thread panicked")??;
        reports.extend(tallies.into_iter().map(|t| PlayerReport {
            joined: t.joined,
            updates: t.updates,
            full_updates: t.full_updates,
            bytes: t.bytes,
            frames: t.frames,
            inputs_sent: t.inputs_sent,
            deaths: t.deaths,
            failed: t.failed,
            lateness: Some(t.lateness),
            ..PlayerReport::default()
        }));
    }
    Ok(reports)
}

pub async fn play_reconnecting(
    url: String,
    room: String,
    index: u32,
    input_period: Duration,
    schedule: Schedule,
) -> PlayerReport {
    tokio::time::sleep_until(schedule.join_at).await;
    let plan = PlayerPlan {
        url,
        room,
        name: format!("load-{index}"),
        input_period,
        seed: index,
    };
    let stopped = CancellationToken::new();
    let timer = stopped.clone();
    tokio::spawn(async move {
        tokio::time::sleep_until(schedule.stop).await;
        timer.cancel();
    });
    let mut report = PlayerReport::default();
    let player = ReconnectingPlayer::new(plan, CookieJar::default());
    let (ending, traffic) = player
        .run(stopped, |seen| {
            if schedule.counts(seen.at) || !matches!(seen.what, Observation::Update { .. }) {
                tally(&mut report, &seen);
            }
        })
        .await;
    if ending != Ending::Stopped {
        tracing::warn!(player = index, ?ending, "player gave up");
        report.failed = true;
    }
    report.bytes = traffic.bytes_received;
    report.frames = traffic.frames_received;
    report.inputs_sent = traffic.inputs_sent;
    report
}

fn tally(report: &mut PlayerReport, seen: &Observed) {
    match seen.what {
        Observation::Welcome { resumed, .. } => {
            if report.joined {
                report.reconnects += 1;
                report.resumed += u64::from(resumed);
            }
            report.joined = true;
        }
        Observation::Update { full, .. } => {
            report.updates += 1;
            report.full_updates += u64::from(full);
        }
        Observation::Ship { ship_id: 0 } => report.deaths += 1,
        Observation::Score { kills, .. } => report.kills = kills,
        _ => {}
    }
}
