//! A fault-injecting HTTP proxy between the SDK and moto, so moto behaves
//! like AWS: something just created answers NotFound for its next few
//! references within a few seconds (eventual consistency), a share of calls
//! is throttled, a few fail with a 500, and chosen actions are denied. Every
//! fault is decided by a hash of the seed, the operation and how many times
//! it was called, so a schedule replays (`FAULT_SEED` picks another); only
//! the end of the NotFound window depends on the clock.
//!
//! The error bodies are the services' own wire formats and texts:
//! - EC2 (its query protocol): `<Response><Errors><Error><Code>` with
//!   `InvalidVpcID.NotFound: The vpc ID 'vpc-1a2b3c4d' does not exist`,
//!   `RequestLimitExceeded` (503), `InternalError` (500) and
//!   `UnauthorizedOperation` (403), as in the EC2 API reference, "Error
//!   codes for the Amazon EC2 API" (and its example error response); that
//!   a new resource answers NotFound: EC2 developer guide, "Eventual
//!   consistency in the Amazon EC2 API".
//! - The AWS query services (Auto Scaling, ELBv2, ElastiCache, IAM):
//!   `<ErrorResponse><Error><Type>Sender</Type><Code>` with `Throttling:
//!   Rate exceeded`, their NotFound codes (`LoadBalancerNotFound`,
//!   `CacheSubnetGroupNotFoundFault`, `NoSuchEntity`, Auto Scaling's
//!   `ValidationError: AutoScalingGroup name not found - ...`).
//! - The JSON services (ECS, SSM, ECR): `{"__type": ..., "message": ...}`
//!   with `ThrottlingException: Rate exceeded`, `ClusterNotFoundException:
//!   Cluster not found.`, `ParameterNotFound`, `RepositoryNotFoundException`.
//! - Access denied: "User: ARN is not authorized to perform: ACTION on
//!   resource: ARN because no identity-based policy allows the ACTION
//!   action" (IAM user guide, "Troubleshoot access denied error messages").

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// How a create names what it made, and what AWS answers about it while
/// it is not visible yet.
struct CreateRule {
    service: &'static str,
    action: &'static str,
    from: From,
    keys: &'static [&'static str],
    answer: fn(&str) -> (u16, &'static str, String),
    skip_describes: bool,
}

enum From {
    /// An XML element of the response.
    Response(&'static str),
    /// A parameter of the request.
    Request(&'static str),
}

fn ec2_missing(id: &str) -> (u16, &'static str, String) {
    let (code, what) = match id.split('-').next().unwrap_or_default() {
        "vpc" => ("InvalidVpcID.NotFound", "vpc"),
        "subnet" => ("InvalidSubnetID.NotFound", "subnet"),
        "sg" => ("InvalidGroup.NotFound", "security group"),
        "rtb" => ("InvalidRouteTableID.NotFound", "routeTable"),
        "igw" => ("InvalidInternetGatewayID.NotFound", "internetGateway"),
        "nat" => ("NatGatewayNotFound", "natGateway"),
        "eipalloc" => ("InvalidAllocationID.NotFound", "allocation"),
        _ => ("InvalidLaunchTemplateId.NotFound", "launchTemplate"),
    };
    (400, code, format!("The {what} ID '{id}' does not exist"))
}

fn not_found(code: &'static str, text: &'static str) -> fn(&str) -> (u16, &'static str, String) {
    // One function per answer: a closure capturing the code cannot be a fn.
    match (code, text) {
        ("LoadBalancerNotFound", _) => |_| {
            (
                400,
                "LoadBalancerNotFound",
                "One or more load balancers not found".into(),
            )
        },
        ("TargetGroupNotFound", _) => |_| {
            (
                400,
                "TargetGroupNotFound",
                "One or more target groups not found".into(),
            )
        },
        ("ListenerNotFound", _) => |_| {
            (
                400,
                "ListenerNotFound",
                "One or more listeners not found".into(),
            )
        },
        ("NoSuchEntity", "role") => |n| {
            (
                404,
                "NoSuchEntity",
                format!("The role with name {n} cannot be found."),
            )
        },
        ("NoSuchEntity", _) => |n| {
            (
                404,
                "NoSuchEntity",
                format!("Instance Profile {n} cannot be found."),
            )
        },
        ("CacheSubnetGroupNotFoundFault", _) => |n| {
            (
                404,
                "CacheSubnetGroupNotFoundFault",
                format!("Cache subnet group {n} not found."),
            )
        },
        ("ReplicationGroupNotFoundFault", _) => |n| {
            (
                404,
                "ReplicationGroupNotFoundFault",
                format!("Replication group {n} not found."),
            )
        },
        ("ValidationError", _) => |n| {
            (
                400,
                "ValidationError",
                format!("AutoScalingGroup name not found - AutoScalingGroup {n} not found"),
            )
        },
        ("ClusterNotFoundException", _) => {
            |_| (400, "ClusterNotFoundException", "Cluster not found.".into())
        }
        ("ServiceNotFoundException", _) => {
            |_| (400, "ServiceNotFoundException", "Service not found.".into())
        }
        ("ParameterNotFound", _) => |_| (400, "ParameterNotFound", String::new()),
        _ => |n| {
            (400, "RepositoryNotFoundException", format!("The repository with name '{n}' does not exist in the registry with id '123456789012'"))
        },
    }
}

fn rules() -> Vec<CreateRule> {
    use From::{Request, Response};
    let ec2 = |action, tag| CreateRule {
        service: "ec2",
        action,
        from: Response(tag),
        keys: &[],
        answer: ec2_missing,
        skip_describes: false,
    };
    let named = |service, action, from, keys, answer, skip_describes| CreateRule {
        service,
        action,
        from,
        keys,
        answer,
        skip_describes,
    };
    vec![
        ec2("CreateVpc", "vpcId"),
        ec2("CreateSubnet", "subnetId"),
        ec2("CreateSecurityGroup", "groupId"),
        ec2("CreateRouteTable", "routeTableId"),
        ec2("CreateInternetGateway", "internetGatewayId"),
        ec2("CreateNatGateway", "natGatewayId"),
        ec2("AllocateAddress", "allocationId"),
        ec2("CreateLaunchTemplate", "launchTemplateId"),
        named(
            "elasticloadbalancing",
            "CreateLoadBalancer",
            Response("LoadBalancerArn"),
            &[],
            not_found("LoadBalancerNotFound", ""),
            false,
        ),
        named(
            "elasticloadbalancing",
            "CreateTargetGroup",
            Response("TargetGroupArn"),
            &[],
            not_found("TargetGroupNotFound", ""),
            false,
        ),
        named(
            "elasticloadbalancing",
            "CreateListener",
            Response("ListenerArn"),
            &[],
            not_found("ListenerNotFound", ""),
            false,
        ),
        named(
            "iam",
            "CreateRole",
            Request("RoleName"),
            &["RoleName"],
            not_found("NoSuchEntity", "role"),
            false,
        ),
        named(
            "iam",
            "CreateInstanceProfile",
            Request("InstanceProfileName"),
            &["InstanceProfileName"],
            not_found("NoSuchEntity", "profile"),
            false,
        ),
        named(
            "elasticache",
            "CreateCacheSubnetGroup",
            Request("CacheSubnetGroupName"),
            &["CacheSubnetGroupName"],
            not_found("CacheSubnetGroupNotFoundFault", ""),
            false,
        ),
        named(
            "elasticache",
            "CreateReplicationGroup",
            Request("ReplicationGroupId"),
            &["ReplicationGroupId"],
            not_found("ReplicationGroupNotFoundFault", ""),
            false,
        ),
        // Auto Scaling and ECS describe an unknown name as an empty list,
        // not an error: only their other actions answer NotFound.
        named(
            "autoscaling",
            "CreateAutoScalingGroup",
            Request("AutoScalingGroupName"),
            &["AutoScalingGroupName", "ResourceId"],
            not_found("ValidationError", ""),
            true,
        ),
        named(
            "ecs",
            "CreateCluster",
            Request("clusterName"),
            &["cluster"],
            not_found("ClusterNotFoundException", ""),
            true,
        ),
        named(
            "ecs",
            "CreateService",
            Request("serviceName"),
            &["service"],
            not_found("ServiceNotFoundException", ""),
            true,
        ),
        named(
            "ssm",
            "PutParameter",
            Request("Name"),
            &["Name", "ResourceId"],
            not_found("ParameterNotFound", ""),
            false,
        ),
        named(
            "ecr",
            "CreateRepository",
            Request("repositoryName"),
            &["repositoryName"],
            not_found("RepositoryNotFoundException", ""),
            false,
        ),
    ]
}

/// An HTTP answer: status, headers, body.
type Answer = (u16, Vec<(String, String)>, Vec<u8>);

/// One request as the proxy understands it.
struct Request {
    head: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    service: String,
    action: String,
    json: bool,
    /// (name, value); query names by their last segment.
    params: Vec<(String, String)>,
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

fn throttled(service: &str) -> (u16, &'static str, String) {
    match service {
        "ec2" => (
            503,
            "RequestLimitExceeded",
            "Request limit exceeded.".into(),
        ),
        "ecs" | "ssm" | "ecr" => (400, "ThrottlingException", "Rate exceeded".into()),
        _ => (400, "Throttling", "Rate exceeded".into()),
    }
}

fn server_error(service: &str) -> (u16, &'static str, String) {
    match service {
        "ec2" => (
            500,
            "InternalError",
            "An internal error has occurred".into(),
        ),
        _ => (
            500,
            "InternalFailure",
            "The request processing has failed because of an unknown error, exception or failure."
                .into(),
        ),
    }
}

fn denied(service: &str, op: &str) -> (u16, &'static str, String) {
    let resource = format!("arn:aws:{service}:us-east-1:123456789012:*");
    let why = format!(
        "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: {op} on resource: {resource} because no identity-based policy allows the {op} action"
    );
    match service {
        "ec2" => (
            403,
            "UnauthorizedOperation",
            format!("You are not authorized to perform this operation. {why}. Encoded authorization failure message: AbCdEf0123"),
        ),
        "ecs" | "ssm" | "ecr" => (400, "AccessDeniedException", why),
        _ => (403, "AccessDenied", why),
    }
}

fn error_response(req: &Request, status: u16, code: &str, message: &str) -> Answer {
    let (kind, body) = if req.json {
        (
            "application/x-amz-json-1.1",
            serde_json::json!({"__type": code, "message": message}).to_string(),
        )
    } else if req.service == "ec2" {
        (
            "text/xml",
            format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>{code}</Code><Message>{}</Message></Error></Errors><RequestID>fault-proxy</RequestID></Response>", xml_escape(message)),
        )
    } else {
        (
            "text/xml",
            format!("<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>", xml_escape(message)),
        )
    };
    (
        status,
        vec![("Content-Type".into(), kind.into())],
        body.into_bytes(),
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
}

/// The text of the first `<tag>` element.
fn element(xml: &str, tag: &str) -> Option<String> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(xml[start..end].to_string())
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut head = String::new();
    if reader.read_line(&mut head).ok()? == 0 {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let length: usize = header("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    // Credential=KEY/DATE/REGION/SERVICE/aws4_request
    let service = header("authorization")
        .and_then(|a| a.split("Credential=").nth(1).map(str::to_string))
        .and_then(|c| c.split('/').nth(3).map(str::to_string))
        .unwrap_or_default();
    let target = header("x-amz-target");
    let json = target.is_some();
    let text = String::from_utf8_lossy(&body).into_owned();
    let (action, params) = match &target {
        Some(t) => (
            t.rsplit('.').next().unwrap_or_default().to_string(),
            json_params(&text),
        ),
        None => {
            let params = form_params(&text);
            let action = params
                .iter()
                .find(|(k, _)| k == "Action")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            (action, params)
        }
    };
    Some(Request {
        head,
        headers,
        body,
        service,
        action,
        json,
        params,
    })
}

/// `a=1&Tags.member.1.Key=b` as (name, value), names by their last segment
/// unless they are filters.
fn form_params(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            let k = url_decode(k);
            let name = if k.starts_with("Filter") {
                k
            } else {
                k.rsplit('.').next().unwrap_or(&k).to_string()
            };
            Some((name, url_decode(v)))
        })
        .collect()
}

fn json_params(body: &str) -> Vec<(String, String)> {
    fn walk(key: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
        match v {
            serde_json::Value::String(s) => out.push((key.to_string(), s.clone())),
            serde_json::Value::Array(items) => items.iter().for_each(|i| walk(key, i, out)),
            serde_json::Value::Object(map) => map.iter().for_each(|(k, v)| walk(k, v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Ok(v) = serde_json::from_str(body) {
        walk("", &v, &mut out);
    }
    out
}

fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Sends the request to moto and returns its answer.
fn forward(req: &Request, upstream: u16) -> Answer {
    let mut up = TcpStream::connect(("127.0.0.1", upstream)).expect("moto answers");
    let mut out = req.head.clone().into_bytes();
    for (k, v) in &req.headers {
        if !k.eq_ignore_ascii_case("connection") {
            out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(&req.body);
    up.write_all(&out).expect("writing to moto");
    let mut raw = Vec::new();
    up.read_to_end(&mut raw).expect("reading moto's answer");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status");
    let mut headers = Vec::new();
    let mut chunked = false;
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case("transfer-encoding") {
                chunked = v.eq_ignore_ascii_case("chunked");
            } else if !k.eq_ignore_ascii_case("content-length")
                && !k.eq_ignore_ascii_case("connection")
            {
                headers.push((k.to_string(), v.to_string()));
            }
        }
    }
    let body = &raw[split + 4..];
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_vec()
    };
    (status, headers, body)
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = body.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&body[..end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = end + 2;
        out.extend_from_slice(&body[start..start + size]);
        body = &body[start + size + 2..];
    }
    out
}

fn write_response(
    w: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut out = format!("HTTP/1.1 {status} Fault Proxy\r\n").into_bytes();
    for (k, v) in headers {
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    w.write_all(&out)
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
