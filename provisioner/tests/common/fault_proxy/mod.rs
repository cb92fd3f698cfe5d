//! A fault-injecting HTTP proxy between the SDK and moto, so moto behaves
//! like AWS: something just created answers NotFound for its next few
//! references within a few seconds (eventual consistency), a share of calls
//! is throttled, a few fail with a 500, and chosen actions are denied. Every
//! fault is decided by a hash of the seed, the operation and how many times
//! it was called, so a schedule replays (`FAULT_SEED` picks another); only
//! the end of the NotFound window depends on the clock.
//!
//! `answers` holds what AWS says (each service's wire format and texts),
//! `wire` the HTTP between the SDK, the proxy and moto.

mod answers;
mod wire;

use answers::{denied, error_response, rules, server_error, throttled, From};
use std::collections::HashMap;
use std::io::BufReader;
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wire::{element, forward, read_request, write_response, Answer, Request};

/// How long after its creation something may answer NotFound: AWS's
/// propagation takes seconds, not minutes.
const INVISIBLE_FOR: Duration = Duration::from_secs(3);

/// What to inject, per thousand calls.
#[derive(Debug, Clone)]
pub struct Faults {
    pub seed: u64,
    pub throttle_per_mille: u64,
    pub server_error_per_mille: u64,
    /// At most this many NotFound answers per created resource.
    pub not_found_max: u64,
    /// Actions answered with access denied (`ec2:CreateVpc`).
    pub deny: Vec<String>,
}

impl Faults {
    /// AWS on a bad day: a tenth of the calls throttled, one in fifty a
    /// server error, up to three NotFounds after each create.
    pub fn aws_like() -> Faults {
        let seed = std::env::var("FAULT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(20_260_501);
        Faults {
            seed,
            throttle_per_mille: 100,
            server_error_per_mille: 20,
            not_found_max: 3,
            deny: Vec::new(),
        }
    }

    /// No faults but the denied actions.
    pub fn denying(actions: &[&str]) -> Faults {
        Faults {
            seed: 1,
            throttle_per_mille: 0,
            server_error_per_mille: 0,
            not_found_max: 0,
            deny: actions.iter().map(|a| a.to_string()).collect(),
        }
    }
}

/// What the proxy did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Injected {
    pub throttled: u64,
    pub server_errors: u64,
    pub not_found: u64,
    pub denied: u64,
    pub forwarded: u64,
}

pub struct FaultProxy {
    pub endpoint: String,
    pub state: Arc<Mutex<State>>,
}

#[derive(Default)]
pub struct State {
    pub injected: Injected,
    /// Each fault, in order: for the report of a failing test.
    pub log: Vec<String>,
    calls: HashMap<String, u64>,
    fresh: Vec<Fresh>,
}

/// Something just created and not yet visible everywhere.
struct Fresh {
    service: String,
    id: String,
    /// Parameter names that refer to it; empty = any.
    keys: &'static [&'static str],
    left: u64,
    created: Instant,
    answer: fn(&str) -> (u16, &'static str, String),
    skip_describes: bool,
}

impl FaultProxy {
    /// Listens on a free loopback port, forwarding to `upstream`.
    pub fn start(upstream: u16, faults: Faults) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            let faults = Arc::new(faults);
            for conn in listener.incoming().map_while(Result::ok) {
                let (state, faults) = (shared.clone(), faults.clone());
                std::thread::spawn(move || serve(conn, upstream, &faults, &state));
            }
        });
        FaultProxy {
            endpoint: format!("http://127.0.0.1:{port}"),
            state,
        }
    }

    pub fn injected(&self) -> Injected {
        self.state.lock().unwrap().injected.clone()
    }

    pub fn log(&self) -> String {
        self.state.lock().unwrap().log.join("\n")
    }
}

fn serve(conn: TcpStream, upstream: u16, faults: &Faults, state: &Mutex<State>) {
    let mut reader = BufReader::new(conn.try_clone().expect("cloning the connection"));
    let mut writer = conn;
    while let Some(req) = read_request(&mut reader) {
        let (status, headers, body) = match decide(&req, faults, state) {
            Some(fault) => fault,
            None => {
                let answer = forward(&req, upstream);
                record_creates(&req, &answer.2, faults, state);
                answer
            }
        };
        if write_response(&mut writer, status, &headers, &body).is_err() {
            return;
        }
    }
}

/// The fault this request gets, if any.
fn decide(req: &Request, f: &Faults, state: &Mutex<State>) -> Option<Answer> {
    let mut st = state.lock().unwrap();
    let op = format!("{}:{}", req.service, req.action);
    let n = {
        let c = st.calls.entry(op.clone()).or_insert(0);
        *c += 1;
        *c
    };
    let roll = mix(f.seed ^ fnv(&op) ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let (status, code, message) = if f.deny.contains(&op) {
        st.injected.denied += 1;
        denied(&req.service, &op)
    } else if roll % 1000 < f.throttle_per_mille {
        st.injected.throttled += 1;
        throttled(&req.service)
    } else if (roll / 1000) % 1000 < f.server_error_per_mille {
        st.injected.server_errors += 1;
        server_error(&req.service)
    } else if let Some(answer) = still_invisible(req, &mut st) {
        st.injected.not_found += 1;
        answer
    } else {
        st.injected.forwarded += 1;
        return None;
    };
    st.log.push(format!("{op} #{n}: {status} {code}"));
    Some(error_response(req, status, code, &message))
}

/// NotFound when the request names something created a moment ago.
fn still_invisible(req: &Request, st: &mut State) -> Option<(u16, &'static str, String)> {
    let describes = req.action.starts_with("Describe") || req.action.starts_with("List");
    let live = |f: &&mut Fresh| {
        f.left > 0 && f.service == req.service && f.created.elapsed() < INVISIBLE_FOR
    };
    for fresh in st.fresh.iter_mut().filter(live) {
        if fresh.skip_describes && describes {
            continue;
        }
        let named = req.params.iter().any(|(k, v)| {
            *v == fresh.id
                && !k.starts_with("Filter")
                && (fresh.keys.is_empty() || fresh.keys.contains(&k.as_str()))
        });
        if named {
            fresh.left -= 1;
            return Some((fresh.answer)(&fresh.id));
        }
    }
    None
}

/// After a successful create, what it made stays invisible for a while.
fn record_creates(req: &Request, response: &[u8], f: &Faults, state: &Mutex<State>) {
    let text = String::from_utf8_lossy(response);
    for rule in rules() {
        if rule.service != req.service || rule.action != req.action || f.not_found_max == 0 {
            continue;
        }
        let id = match rule.from {
            From::Response(tag) => element(&text, tag),
            From::Request(key) => req
                .params
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone()),
        };
        let Some(id) = id else { continue };
        let mut st = state.lock().unwrap();
        let count = st
            .calls
            .get(&format!("{}:{}", req.service, req.action))
            .copied()
            .unwrap_or(0);
        let left = 1 + mix(f.seed ^ fnv(rule.action) ^ count) % f.not_found_max;
        st.log.push(format!(
            "{} {id}: invisible for {left} references",
            rule.action
        ));
        st.fresh.push(Fresh {
            service: rule.service.to_string(),
            id,
            keys: rule.keys,
            left,
            created: Instant::now(),
            answer: rule.answer,
            skip_describes: rule.skip_describes,
        });
    }
}

/// FNV-1a, stable across runs.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// splitmix64's finaliser: spreads the bits of a seed.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
