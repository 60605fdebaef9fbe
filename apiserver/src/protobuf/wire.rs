//! The protobuf wire format: varints, keys and length-delimited runs.

use super::ProtobufError;

/// A varint takes at most this many bytes (64 bits, 7 per byte).
const MAX_VARINT_LEN: usize = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum WireType {
    Varint,
    Fixed64,
    Len,
    Fixed32,
}

impl WireType {
    fn bits(self) -> u64 {
        match self {
            WireType::Varint => 0,
            WireType::Fixed64 => 1,
            WireType::Len => 2,
            WireType::Fixed32 => 5,
        }
    }
}

/// Reads one message's fields from a byte slice; every read is bounds-checked.
pub(super) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub(super) fn varint(&mut self) -> Result<u64, ProtobufError> {
        let mut value = 0u64;
        for i in 0..MAX_VARINT_LEN {
            let byte = *self.buf.get(self.pos).ok_or(ProtobufError::Truncated)?;
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(ProtobufError::BadVarint)
    }

    /// The next field's tag and wire type.
    pub(super) fn key(&mut self) -> Result<(u32, WireType), ProtobufError> {
        let key = self.varint()?;
        let wire_type = match key & 7 {
            0 => WireType::Varint,
            1 => WireType::Fixed64,
            2 => WireType::Len,
            5 => WireType::Fixed32,
            // 3 and 4 are proto2 groups, which no Kubernetes message uses.
            other => return Err(ProtobufError::WireType(other as u8)),
        };
        let tag = u32::try_from(key >> 3).map_err(|_| ProtobufError::BadTag)?;
        if tag == 0 {
            return Err(ProtobufError::BadTag);
        }
        Ok((tag, wire_type))
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], ProtobufError> {
        let end = self.pos.checked_add(len).ok_or(ProtobufError::Truncated)?;
        let bytes = self
            .buf
            .get(self.pos..end)
            .ok_or(ProtobufError::Truncated)?;
        self.pos = end;
        Ok(bytes)
    }

    /// A length-delimited run: a string, bytes, an embedded message or a packed array.
    pub(super) fn bytes(&mut self) -> Result<&'a [u8], ProtobufError> {
        let len = usize::try_from(self.varint()?).map_err(|_| ProtobufError::Truncated)?;
        self.take(len)
    }

    pub(super) fn fixed64(&mut self) -> Result<u64, ProtobufError> {
        let bytes = self.take(8)?;
        let mut le = [0u8; 8];
        le.copy_from_slice(bytes);
        Ok(u64::from_le_bytes(le))
    }

    /// Skips a field this side does not know (a newer peer may send fields we lack).
    pub(super) fn skip(&mut self, wire_type: WireType) -> Result<(), ProtobufError> {
        match wire_type {
            WireType::Varint => self.varint().map(drop),
            WireType::Fixed64 => self.take(8).map(drop),
            WireType::Len => self.bytes().map(drop),
            WireType::Fixed32 => self.take(4).map(drop),
        }
    }
}

pub(super) fn put_varint(buf: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        buf.push((value as u8) | 0x80);
        value >>= 7;
    }
    buf.push(value as u8);
}

pub(super) fn put_key(buf: &mut Vec<u8>, tag: u32, wire_type: WireType) {
    put_varint(buf, (u64::from(tag) << 3) | wire_type.bits());
}

pub(super) fn put_bytes(buf: &mut Vec<u8>, tag: u32, bytes: &[u8]) {
    put_key(buf, tag, WireType::Len);
    put_varint(buf, bytes.len() as u64);
    buf.extend_from_slice(bytes);
}

/// Writes an embedded message whose body `write` appends to `buf`.
///
/// The length goes before the body but is known only after it: one byte is reserved, which
/// fits bodies under 128 bytes (most of them), and a larger body is shifted right to make
/// room. That keeps the output canonical (minimal varints, as Go writes) without a separate
/// sizing pass.
pub(super) fn put_message<E>(
    buf: &mut Vec<u8>,
    tag: u32,
    write: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
) -> Result<(), E> {
    put_key(buf, tag, WireType::Len);
    let at = buf.len();
    buf.push(0);
    write(buf)?;
    let len = buf.len() - at - 1;
    if len < 0x80 {
        buf[at] = len as u8;
    } else {
        let mut prefix = Vec::with_capacity(MAX_VARINT_LEN);
        put_varint(&mut prefix, len as u64);
        buf.splice(at..=at, prefix);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip() {
        for value in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut buf = Vec::new();
            put_varint(&mut buf, value);
            let mut r = Reader::new(&buf);
            assert_eq!(r.varint(), Ok(value));
            assert!(r.is_empty());
        }
        assert_eq!(
            Reader::new(&[0x80; 11]).varint(),
            Err(ProtobufError::BadVarint)
        );
        assert_eq!(Reader::new(&[0x80]).varint(), Err(ProtobufError::Truncated));
    }

    #[test]
    fn long_messages_get_a_longer_length() {
        for len in [0, 127, 128, 20_000] {
            let mut buf = vec![0xff];
            put_message::<()>(&mut buf, 2, |b| {
                b.extend(std::iter::repeat_n(7, len));
                Ok(())
            })
            .expect("writing cannot fail");
            let mut r = Reader::new(&buf[1..]);
            assert_eq!(r.key(), Ok((2, WireType::Len)));
            assert_eq!(r.bytes().map(<[u8]>::len), Ok(len));
            assert!(r.is_empty());
        }
    }
}
