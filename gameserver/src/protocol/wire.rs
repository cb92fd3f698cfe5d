//! Little-endian primitives, LEB128 varints and `str8` strings, read with
//! bounds checks so that no input can make the decoder panic.

use bytes::BufMut;
use thiserror::Error;

use super::PROTOCOL_VERSION;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DecodeError {
    #[error("empty frame: every frame starts with a message-type byte")]
    Empty,
    #[error("frame ends inside field `{field}`")]
    Truncated { field: &'static str },
    #[error("{extra} byte(s) left over after the last field of message 0x{kind:02x}")]
    TrailingBytes { kind: u8, extra: usize },
    #[error("unknown message type 0x{0:02x}")]
    UnknownType(u8),
    #[error("unsupported protocol version {0} (this server speaks version {PROTOCOL_VERSION})")]
    UnsupportedVersion(u8),
    #[error("field `{field}` is not valid UTF-8")]
    BadUtf8 { field: &'static str },
    #[error("field `{field}` is {len} bytes long, at most {max} allowed")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("varint in field `{field}` is longer than 5 bytes or overflows u32")]
    BadVarint { field: &'static str },
    #[error("input keys 0x{0:02x} set reserved bits (only bits 0-3 are defined)")]
    ReservedKeyBits(u8),
    #[error("update kind {0} is neither full (0) nor delta (1)")]
    BadUpdateKind(u8),
}

/// A cursor over one frame.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.buf.len())
            .ok_or(DecodeError::Truncated { field })?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    pub fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(field)?[0])
    }

    pub fn i8(&mut self, field: &'static str) -> Result<i8, DecodeError> {
        Ok(i8::from_le_bytes(self.array(field)?))
    }

    pub fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array(field)?))
    }

    pub fn i16(&mut self, field: &'static str) -> Result<i16, DecodeError> {
        Ok(i16::from_le_bytes(self.array(field)?))
    }

    pub fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    pub fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    /// The next `n` bytes as they are.
    pub fn bytes(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        self.take(n, field)
    }

    pub fn f32(&mut self, field: &'static str) -> Result<f32, DecodeError> {
        Ok(f32::from_le_bytes(self.array(field)?))
    }

    pub fn varint(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        let mut value: u64 = 0;
        for i in 0..5 {
            let byte = self.u8(field)?;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return u32::try_from(value).map_err(|_| DecodeError::BadVarint { field });
            }
        }
        Err(DecodeError::BadVarint { field })
    }

    /// A `varint` count of entries that each take at least `min_entry_bytes`:
    /// refuses counts the rest of the frame cannot hold, before anything is allocated.
    pub fn count(
        &mut self,
        field: &'static str,
        min_entry_bytes: usize,
    ) -> Result<usize, DecodeError> {
        let n = self.varint(field)? as usize;
        if n.saturating_mul(min_entry_bytes) > self.remaining() {
            return Err(DecodeError::Truncated { field });
        }
        Ok(n)
    }

    pub fn str8(&mut self, field: &'static str, max: usize) -> Result<String, DecodeError> {
        let len = usize::from(self.u8(field)?);
        let bytes = self.take(len, field)?;
        if len > max {
            return Err(DecodeError::TooLong { field, len, max });
        }
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| DecodeError::BadUtf8 { field })
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Ends the frame of message `kind`: leftover bytes make it malformed.
    pub fn finish(self, kind: u8) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            extra => Err(DecodeError::TrailingBytes { kind, extra }),
        }
    }
}

pub fn put_varint(out: &mut impl BufMut, mut value: u32) {
    while value >= 0x80 {
        out.put_u8((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.put_u8(value as u8);
}

/// Writes `s` as `str8`, cut at a character boundary to fit 255 bytes: every
/// string the server sends (names, tokens, error messages) is far shorter.
pub fn put_str8(out: &mut impl BufMut, s: &str) {
    let mut end = s.len().min(255);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    out.put_u8(end as u8);
    out.put_slice(&s.as_bytes()[..end]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_round_trips_edges() {
        for v in [0, 1, 127, 128, 16_383, 16_384, u32::MAX / 2, u32::MAX] {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            let mut r = Reader::new(&buf);
            assert_eq!(r.varint("v"), Ok(v));
            assert_eq!(r.remaining(), 0);
        }
    }

    #[test]
    fn varint_refuses_overflow_and_overlong() {
        let overflow = [0xff, 0xff, 0xff, 0xff, 0x1f];
        assert!(matches!(
            Reader::new(&overflow).varint("v"),
            Err(DecodeError::BadVarint { .. })
        ));
        let overlong = [0x80, 0x80, 0x80, 0x80, 0x80, 0x00];
        assert!(matches!(
            Reader::new(&overlong).varint("v"),
            Err(DecodeError::BadVarint { .. })
        ));
    }

    #[test]
    fn str8_cuts_long_strings_at_a_char_boundary() {
        let s = "é".repeat(200);
        let mut buf = Vec::new();
        put_str8(&mut buf, &s);
        assert_eq!(buf[0], 254);
        let back = Reader::new(&buf).str8("s", 255).unwrap();
        assert_eq!(back, "é".repeat(127));
    }

    #[test]
    fn count_refuses_what_the_frame_cannot_hold() {
        let mut buf = Vec::new();
        put_varint(&mut buf, 1_000_000);
        buf.extend_from_slice(&[0; 10]);
        assert!(matches!(
            Reader::new(&buf).count("n", 1),
            Err(DecodeError::Truncated { .. })
        ));
    }
}
