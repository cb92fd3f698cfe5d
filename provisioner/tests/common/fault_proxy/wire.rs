//! The HTTP between the SDK, the proxy and moto: just enough of HTTP/1.1
//! to read a signed AWS request (its service, action and parameters) and
//! relay it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

/// An HTTP answer: status, headers, body.
pub(super) type Answer = (u16, Vec<(String, String)>, Vec<u8>);

/// One request as the proxy understands it.
pub(super) struct Request {
    pub(super) head: String,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
    pub(super) service: String,
    pub(super) action: String,
    pub(super) json: bool,
    /// (name, value); query names by their last segment.
    pub(super) params: Vec<(String, String)>,
}

/// The text of the first `<tag>` element.
pub(super) fn element(xml: &str, tag: &str) -> Option<String> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(xml[start..end].to_string())
}

pub(super) fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
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
pub(super) fn forward(req: &Request, upstream: u16) -> Answer {
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

pub(super) fn write_response(
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
