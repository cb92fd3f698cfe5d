//! WebSocket framing (RFC 6455), the server's side of it and only what the
//! game needs: client frames are read in place from one small buffer (they
//! are masked and at most `MAX_CLIENT_FRAME_BYTES` long, fragmented or not),
//! and server frames are written unmasked straight into the connection's
//! write buffer. Reading and writing a frame allocates nothing.

use std::ops::Range;

use thiserror::Error;

use crate::protocol::MAX_CLIENT_FRAME_BYTES;

/// What one read takes from the socket: dozens of client frames.
pub const READ_CHUNK: usize = 1024;
/// RFC 6455 close code for a frame that breaks the WebSocket protocol.
pub const WS_PROTOCOL_ERROR: u16 = 1002;

const FIN: u8 = 0x80;
const RESERVED: u8 = 0x70;
const MASKED: u8 = 0x80;
const CONTINUATION: u8 = 0x0;
const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;
/// Control frames carry at most this much (RFC 6455 5.5).
const MAX_CONTROL_PAYLOAD: usize = 125;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FrameError {
    #[error("frame of {0} bytes exceeds {MAX_CLIENT_FRAME_BYTES}")]
    TooLarge(u64),
    #[error("client frame not masked")]
    Unmasked,
    #[error("reserved bits set in a frame")]
    Reserved,
    #[error("unknown frame opcode {0:#x}")]
    UnknownOpcode(u8),
    #[error("control frame fragmented or over 125 bytes")]
    BadControl,
    #[error("continuation frame without a message to continue, or a message inside another")]
    BadFragment,
}

/// A whole message from the client, borrowed from the reader's buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Message<'a> {
    Binary(&'a [u8]),
    Text,
    Ping(&'a [u8]),
    Pong,
    /// The close code, if the client gave one.
    Close(Option<u16>),
}

/// Client bytes not yet made into messages.
#[derive(Clone)]
pub struct FrameReader {
    buf: Box<[u8; READ_CHUNK]>,
    start: usize,
    end: usize,
    /// A fragmented data message so far: its opcode and payload.
    partial: Option<(u8, Vec<u8>)>,
    /// The payload of a message put back together from fragments.
    assembled: Vec<u8>,
    /// The message `advance` found, until the next `advance`.
    ready: Option<Ready>,
}

/// A whole message in the buffer (or in `assembled`).
#[derive(Clone)]
enum Ready {
    Data { opcode: u8, payload: Range<usize> },
    Assembled { opcode: u8 },
    Ping(Range<usize>),
    Pong,
    Close(Option<u16>),
}

impl Default for FrameReader {
    fn default() -> Self {
        FrameReader {
            buf: Box::new([0; READ_CHUNK]),
            start: 0,
            end: 0,
            partial: None,
            assembled: Vec::new(),
            ready: None,
        }
    }
}

/// One parsed frame's header: where its (unmasked) payload lies.
struct Header {
    fin: bool,
    opcode: u8,
    payload: Range<usize>,
}

impl FrameReader {
    /// Bytes that arrived with the HTTP request, before any read.
    pub fn with_bytes(early: &[u8]) -> Result<FrameReader, FrameError> {
        let mut reader = FrameReader::default();
        if early.len() > READ_CHUNK {
            return Err(FrameError::TooLarge(early.len() as u64));
        }
        reader.buf[..early.len()].copy_from_slice(early);
        reader.end = early.len();
        Ok(reader)
    }

    /// Where the next read goes; never empty (a whole frame is at most 270
    /// bytes, and whole frames are taken out before more is read).
    pub fn spare(&mut self) -> &mut [u8] {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        &mut self.buf[self.end..]
    }

    /// `n` bytes were read into `spare()`.
    pub fn filled(&mut self, n: usize) {
        self.end = (self.end + n).min(READ_CHUNK);
    }

    /// Moves on to the next whole message: true if its bytes are all here
    /// (then `message` has it).
    pub fn advance(&mut self) -> Result<bool, FrameError> {
        self.ready = None;
        while let Some(header) = self.next_frame()? {
            let payload = header.payload;
            self.ready = match header.opcode {
                CLOSE => {
                    let p = &self.buf[payload];
                    Some(Ready::Close(
                        (p.len() >= 2).then(|| u16::from_be_bytes([p[0], p[1]])),
                    ))
                }
                PING => Some(Ready::Ping(payload)),
                PONG => Some(Ready::Pong),
                opcode => self.data(opcode, header.fin, payload)?,
            };
            if self.ready.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether a close is among the whole frames buffered; takes nothing.
    pub fn holds_close(&self) -> bool {
        let mut probe = self.clone();
        while let Ok(true) = probe.advance() {
            if matches!(probe.message(), Some(Message::Close(_))) {
                return true;
            }
        }
        false
    }

    /// The message the last `advance` found.
    pub fn message(&self) -> Option<Message<'_>> {
        Some(match self.ready.as_ref()? {
            Ready::Data { opcode, payload } => message(*opcode, &self.buf[payload.clone()]),
            Ready::Assembled { opcode } => message(*opcode, &self.assembled),
            Ready::Ping(payload) => Message::Ping(&self.buf[payload.clone()]),
            Ready::Pong => Message::Pong,
            Ready::Close(code) => Message::Close(*code),
        })
    }

    /// A data frame: a whole message, or a fragment of one (None).
    fn data(
        &mut self,
        opcode: u8,
        fin: bool,
        payload: Range<usize>,
    ) -> Result<Option<Ready>, FrameError> {
        match (&mut self.partial, opcode) {
            (None, CONTINUATION) | (Some(_), TEXT | BINARY) => Err(FrameError::BadFragment),
            (None, _) if fin => Ok(Some(Ready::Data { opcode, payload })),
            (None, _) => {
                self.partial = Some((opcode, self.buf[payload].to_vec()));
                Ok(None)
            }
            (Some((first, so_far)), _) => {
                so_far.extend_from_slice(&self.buf[payload]);
                if so_far.len() > MAX_CLIENT_FRAME_BYTES {
                    return Err(FrameError::TooLarge(so_far.len() as u64));
                }
                if !fin {
                    return Ok(None);
                }
                let opcode = *first;
                self.assembled = std::mem::take(so_far);
                self.partial = None;
                Ok(Some(Ready::Assembled { opcode }))
            }
        }
    }

    /// Parses and unmasks the next frame if it is all here.
    fn next_frame(&mut self) -> Result<Option<Header>, FrameError> {
        let bytes = &self.buf[self.start..self.end];
        if bytes.len() < 2 {
            return Ok(None);
        }
        let (b0, b1) = (bytes[0], bytes[1]);
        if b0 & RESERVED != 0 {
            return Err(FrameError::Reserved);
        }
        if b1 & MASKED == 0 {
            return Err(FrameError::Unmasked);
        }
        let (fin, opcode) = (b0 & FIN != 0, b0 & 0x0F);
        let (len, mut at) = match b1 & 0x7F {
            126 if bytes.len() >= 4 => (u64::from(u16::from_be_bytes([bytes[2], bytes[3]])), 4),
            127 if bytes.len() >= 10 => {
                let mut be = [0u8; 8];
                be.copy_from_slice(&bytes[2..10]);
                (u64::from_be_bytes(be), 10)
            }
            126 | 127 => return Ok(None),
            short => (u64::from(short), 2),
        };
        match opcode {
            CLOSE | PING | PONG if !fin || len > MAX_CONTROL_PAYLOAD as u64 => {
                return Err(FrameError::BadControl)
            }
            CLOSE | PING | PONG | CONTINUATION | TEXT | BINARY => {}
            other => return Err(FrameError::UnknownOpcode(other)),
        }
        if len > MAX_CLIENT_FRAME_BYTES as u64 {
            return Err(FrameError::TooLarge(len));
        }
        let len = len as usize;
        if bytes.len() < at + 4 + len {
            return Ok(None);
        }
        let mask = [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]];
        at += 4;
        let payload = self.start + at..self.start + at + len;
        for (i, byte) in self.buf[payload.clone()].iter_mut().enumerate() {
            *byte ^= mask[i % 4];
        }
        self.start = payload.end;
        Ok(Some(Header {
            fin,
            opcode,
            payload,
        }))
    }
}

fn message(opcode: u8, payload: &[u8]) -> Message<'_> {
    match opcode {
        TEXT => Message::Text,
        _ => Message::Binary(payload),
    }
}

/// A binary frame whose payload is `parts` one after the other.
pub fn put_binary(out: &mut Vec<u8>, parts: &[&[u8]]) {
    let len = parts.iter().map(|p| p.len()).sum();
    put_header(out, BINARY, len);
    for part in parts {
        out.extend_from_slice(part);
    }
}

/// A close frame; without a code it carries nothing (not even `reason`).
pub fn put_close(out: &mut Vec<u8>, code: Option<u16>, reason: &str) {
    let Some(code) = code else {
        return put_header(out, CLOSE, 0);
    };
    // A close reason is at most 123 bytes; ours are short, but never split a character.
    let mut cut = reason.len().min(MAX_CONTROL_PAYLOAD - 2);
    while !reason.is_char_boundary(cut) {
        cut -= 1;
    }
    put_header(out, CLOSE, 2 + cut);
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(&reason.as_bytes()[..cut]);
}

pub fn put_ping(out: &mut Vec<u8>) {
    put_header(out, PING, 0);
}

pub fn put_pong(out: &mut Vec<u8>, payload: &[u8]) {
    let payload = &payload[..payload.len().min(MAX_CONTROL_PAYLOAD)];
    put_header(out, PONG, payload.len());
    out.extend_from_slice(payload);
}

fn put_header(out: &mut Vec<u8>, opcode: u8, len: usize) {
    out.push(FIN | opcode);
    match len {
        0..=125 => out.push(len as u8),
        126..=0xFFFF => {
            out.push(126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client frame as a browser sends it: masked with `mask`.
    fn client_frame(first: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        let mut out = vec![first];
        match payload.len() {
            0..=125 => out.push(MASKED | payload.len() as u8),
            n => {
                out.push(MASKED | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    fn reader_with(bytes: &[u8]) -> FrameReader {
        FrameReader::with_bytes(bytes).unwrap()
    }

    /// The next whole message, as text.
    fn next(reader: &mut FrameReader) -> Option<String> {
        reader
            .advance()
            .unwrap()
            .then(|| format!("{:?}", reader.message().unwrap()))
    }

    #[test]
    fn a_close_behind_a_message_is_seen_without_taking_either() {
        let mask = [1, 2, 3, 4];
        let mut bytes = client_frame(FIN | TEXT, b"{\"type\":\"input\"}", mask);
        let mut reader = reader_with(&bytes);
        assert!(!reader.holds_close());
        bytes.extend(client_frame(FIN | CLOSE, &1000u16.to_be_bytes(), mask));
        // Only part of the close: not yet.
        let mut reader_partial = reader_with(&bytes[..bytes.len() - 1]);
        assert!(!reader_partial.holds_close());
        reader = reader_with(&bytes);
        assert!(reader.holds_close());
        assert_eq!(next(&mut reader).as_deref(), Some("Text"));
        assert_eq!(next(&mut reader).as_deref(), Some("Close(Some(1000))"));
        assert_eq!(next(&mut reader_partial).as_deref(), Some("Text"));
    }

    #[test]
    fn reads_masked_frames_one_byte_at_a_time_and_several_at_once() {
        let a = client_frame(FIN | BINARY, &[2, 1, 0, 0, 0, 5], [1, 2, 3, 4]);
        let b = client_frame(FIN | BINARY, &[4, 9, 9, 9, 9], [9, 8, 7, 6]);
        let both = [a.clone(), b].concat();
        let mut reader = FrameReader::default();
        let mut got = Vec::new();
        for byte in &both {
            reader.spare()[0] = *byte;
            reader.filled(1);
            while reader.advance().unwrap() {
                got.push(format!("{:?}", reader.message().unwrap()));
            }
        }
        assert_eq!(
            got,
            ["Binary([2, 1, 0, 0, 0, 5])", "Binary([4, 9, 9, 9, 9])"]
        );
        let mut reader = reader_with(&both);
        assert_eq!(next(&mut reader).unwrap(), "Binary([2, 1, 0, 0, 0, 5])");
        assert_eq!(next(&mut reader).unwrap(), "Binary([4, 9, 9, 9, 9])");
        assert_eq!(next(&mut reader), None);
    }

    #[test]
    fn reassembles_fragments_between_control_frames() {
        let bytes = [
            client_frame(BINARY, &[1, 2], [5; 4]),
            client_frame(FIN | PING, b"hi", [6; 4]),
            client_frame(CONTINUATION, &[3], [7; 4]),
            client_frame(FIN | CONTINUATION, &[4, 5], [8; 4]),
            client_frame(FIN | CLOSE, &1000u16.to_be_bytes(), [9; 4]),
        ]
        .concat();
        let mut reader = reader_with(&bytes);
        assert_eq!(next(&mut reader).unwrap(), "Ping([104, 105])");
        assert_eq!(next(&mut reader).unwrap(), "Binary([1, 2, 3, 4, 5])");
        assert_eq!(next(&mut reader).unwrap(), "Close(Some(1000))");
    }

    #[test]
    fn refuses_what_the_protocol_forbids() {
        let cases: Vec<(Vec<u8>, FrameError)> = vec![
            (vec![FIN | BINARY, 3, 1, 2, 3], FrameError::Unmasked),
            (
                client_frame(FIN | 0x40 | BINARY, &[1], [1; 4]),
                FrameError::Reserved,
            ),
            (
                client_frame(FIN | 0x3, &[1], [1; 4]),
                FrameError::UnknownOpcode(3),
            ),
            (client_frame(PING, &[], [1; 4]), FrameError::BadControl),
            (
                client_frame(FIN | CONTINUATION, &[1], [1; 4]),
                FrameError::BadFragment,
            ),
            (
                [
                    client_frame(BINARY, &[1], [1; 4]),
                    client_frame(FIN | BINARY, &[1], [1; 4]),
                ]
                .concat(),
                FrameError::BadFragment,
            ),
            (
                client_frame(FIN | BINARY, &[0; 257], [1; 4]),
                FrameError::TooLarge(257),
            ),
            // Refused from its header: the 100 KiB never need to arrive.
            (
                vec![FIN | BINARY, MASKED | 127, 0, 0, 0, 0, 0, 1, 0x90, 0],
                FrameError::TooLarge(100 * 1024),
            ),
            (
                [
                    client_frame(BINARY, &[0; 200], [1; 4]),
                    client_frame(FIN | CONTINUATION, &[0; 100], [1; 4]),
                ]
                .concat(),
                FrameError::TooLarge(300),
            ),
        ];
        for (bytes, error) in cases {
            let mut reader = reader_with(&bytes);
            let got = loop {
                match reader.advance() {
                    Ok(true) => continue,
                    Ok(false) => panic!("{bytes:?} read as whole messages"),
                    Err(e) => break e,
                }
            };
            assert_eq!(got, error, "{bytes:?}");
        }
    }

    #[test]
    fn text_is_reported_and_server_frames_have_the_right_headers() {
        let mut reader = reader_with(&client_frame(FIN | TEXT, b"{}", [3; 4]));
        assert_eq!(next(&mut reader).unwrap(), "Text");
        let mut out = Vec::new();
        put_binary(&mut out, &[&[0x82], &[1, 2]]);
        assert_eq!(out, [0x82, 3, 0x82, 1, 2]);
        out.clear();
        put_binary(&mut out, &[&[7; 300]]);
        assert_eq!(&out[..4], [0x82, 126, 1, 44]);
        assert_eq!(out.len(), 304);
        out.clear();
        put_close(&mut out, Some(4000), "server restarting");
        assert_eq!(&out[..4], [0x88, 19, 0x0F, 0xA0]);
        assert_eq!(&out[4..], b"server restarting");
        out.clear();
        put_close(&mut out, None, "ignored");
        assert_eq!(out, [0x88, 0]);
        out.clear();
        put_ping(&mut out);
        put_pong(&mut out, b"x");
        assert_eq!(out, [0x89, 0, 0x8A, 1, b'x']);
    }
}
