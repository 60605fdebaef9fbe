//! The binary form of what partitions and the lease table write to their journals: one
//! record per committed revision or compaction, and snapshots. Little-endian, length-prefixed;
//! the journal adds framing and checksums, so a decode error here means a bug or a format
//! change, and is reported as corruption rather than skipped.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::engine::{EngineDump, Write};
use crate::types::{KeyValue, LeaseId, Revision};

const TAG_WRITE: u8 = 1;
const TAG_COMPACT: u8 = 2;
const TAG_LEASE_GRANT: u8 = 3;
const TAG_LEASE_REVOKE: u8 = 4;
const SNAPSHOT_VERSION: u8 = 1;

#[derive(Debug, thiserror::Error)]
#[error("journal record is malformed: {0}")]
pub struct DecodeError(&'static str);

/// One record of a partition's journal.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum PartitionRecord {
    Write {
        revision: Revision,
        writes: Vec<Write>,
    },
    Compact {
        revision: Revision,
    },
}

/// One record of the lease journal.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum LeaseRecord {
    Grant { id: LeaseId, ttl: i64 },
    Revoke { id: LeaseId },
}

/// A partition's state at `revision`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PartitionSnapshot {
    pub revision: Revision,
    pub compacted: Option<Revision>,
    pub dump: EngineDump,
}

pub fn encode_write(revision: Revision, writes: &[Write]) -> Bytes {
    let size: usize = writes
        .iter()
        .map(|w| 40 + w.key.len() + w.kv.as_ref().map_or(0, |kv| kv.value.len()))
        .sum();
    let mut buf = BytesMut::with_capacity(16 + size);
    buf.put_u8(TAG_WRITE);
    buf.put_u64_le(revision.get());
    put_writes(&mut buf, writes);
    buf.freeze()
}

pub fn encode_compact(revision: Revision) -> Bytes {
    let mut buf = BytesMut::with_capacity(9);
    buf.put_u8(TAG_COMPACT);
    buf.put_u64_le(revision.get());
    buf.freeze()
}

fn put_writes(buf: &mut BytesMut, writes: &[Write]) {
    buf.put_u32_le(writes.len() as u32);
    for write in writes {
        put_bytes(buf, &write.key);
        match &write.kv {
            None => buf.put_u8(0),
            Some(kv) => {
                buf.put_u8(1);
                put_bytes(buf, &kv.value);
                buf.put_u64_le(kv.create_revision.get());
                buf.put_u64_le(kv.version);
                buf.put_i64_le(kv.lease.map_or(0, LeaseId::get));
            }
        }
    }
}

fn put_bytes(buf: &mut BytesMut, bytes: &[u8]) {
    buf.put_u32_le(bytes.len() as u32);
    buf.put_slice(bytes);
}

pub fn decode_partition_record(mut buf: Bytes) -> Result<PartitionRecord, DecodeError> {
    match get_u8(&mut buf)? {
        TAG_WRITE => {
            let revision = get_revision(&mut buf)?;
            let writes = get_writes(&mut buf, revision)?;
            Ok(PartitionRecord::Write { revision, writes })
        }
        TAG_COMPACT => Ok(PartitionRecord::Compact {
            revision: get_revision(&mut buf)?,
        }),
        _ => Err(DecodeError("unknown partition record tag")),
    }
}

fn get_writes(buf: &mut Bytes, revision: Revision) -> Result<Vec<Write>, DecodeError> {
    let count = get_u32(buf)? as usize;
    let mut writes = Vec::with_capacity(count.min(buf.remaining()));
    for _ in 0..count {
        let key = get_bytes(buf)?;
        let kv = match get_u8(buf)? {
            0 => None,
            1 => {
                let value = get_bytes(buf)?;
                let create_revision = get_revision(buf)?;
                let version = get_u64(buf)?;
                let lease = LeaseId::new(get_i64(buf)?);
                Some(KeyValue {
                    key: key.clone(),
                    value,
                    create_revision,
                    mod_revision: revision,
                    version,
                    lease,
                })
            }
            _ => return Err(DecodeError("bad write kind")),
        };
        writes.push(Write { key, kv });
    }
    Ok(writes)
}

pub fn encode_lease_record(record: &LeaseRecord) -> Bytes {
    let mut buf = BytesMut::with_capacity(17);
    match record {
        LeaseRecord::Grant { id, ttl } => {
            buf.put_u8(TAG_LEASE_GRANT);
            buf.put_i64_le(id.get());
            buf.put_i64_le(*ttl);
        }
        LeaseRecord::Revoke { id } => {
            buf.put_u8(TAG_LEASE_REVOKE);
            buf.put_i64_le(id.get());
        }
    }
    buf.freeze()
}

pub fn decode_lease_record(mut buf: Bytes) -> Result<LeaseRecord, DecodeError> {
    let tag = get_u8(&mut buf)?;
    let id = LeaseId::new(get_i64(&mut buf)?).ok_or(DecodeError("zero lease id"))?;
    match tag {
        TAG_LEASE_GRANT => Ok(LeaseRecord::Grant {
            id,
            ttl: get_i64(&mut buf)?,
        }),
        TAG_LEASE_REVOKE => Ok(LeaseRecord::Revoke { id }),
        _ => Err(DecodeError("unknown lease record tag")),
    }
}

/// The lease table as a snapshot: (id, granted TTL) pairs.
pub fn encode_lease_snapshot(leases: &[(LeaseId, i64)]) -> Vec<u8> {
    let mut buf = BytesMut::with_capacity(5 + leases.len() * 16);
    buf.put_u8(SNAPSHOT_VERSION);
    buf.put_u32_le(leases.len() as u32);
    for (id, ttl) in leases {
        buf.put_i64_le(id.get());
        buf.put_i64_le(*ttl);
    }
    buf.to_vec()
}

pub fn decode_lease_snapshot(mut buf: Bytes) -> Result<Vec<(LeaseId, i64)>, DecodeError> {
    if get_u8(&mut buf)? != SNAPSHOT_VERSION {
        return Err(DecodeError("unknown lease snapshot version"));
    }
    let count = get_u32(&mut buf)? as usize;
    let mut leases = Vec::with_capacity(count.min(buf.remaining() / 16));
    for _ in 0..count {
        let id = LeaseId::new(get_i64(&mut buf)?).ok_or(DecodeError("zero lease id"))?;
        leases.push((id, get_i64(&mut buf)?));
    }
    Ok(leases)
}

pub fn encode_snapshot(snapshot: &PartitionSnapshot) -> Vec<u8> {
    let mut buf = BytesMut::new();
    buf.put_u8(SNAPSHOT_VERSION);
    buf.put_u64_le(snapshot.revision.get());
    buf.put_u64_le(snapshot.compacted.map_or(0, Revision::get));
    buf.put_u64_le(snapshot.dump.len() as u64);
    for (revision, writes) in &snapshot.dump {
        buf.put_u64_le(revision.get());
        put_writes(&mut buf, writes);
    }
    buf.to_vec()
}

pub fn decode_snapshot(mut buf: Bytes) -> Result<PartitionSnapshot, DecodeError> {
    if get_u8(&mut buf)? != SNAPSHOT_VERSION {
        return Err(DecodeError("unknown snapshot version"));
    }
    let revision = get_revision(&mut buf)?;
    let compacted = Revision::new(get_u64(&mut buf)?);
    let count = get_u64(&mut buf)? as usize;
    let mut dump = Vec::with_capacity(count.min(buf.remaining()));
    for _ in 0..count {
        let at = get_revision(&mut buf)?;
        dump.push((at, get_writes(&mut buf, at)?));
    }
    Ok(PartitionSnapshot {
        revision,
        compacted,
        dump,
    })
}

fn need(buf: &Bytes, n: usize) -> Result<(), DecodeError> {
    if buf.remaining() < n {
        Err(DecodeError("record is truncated"))
    } else {
        Ok(())
    }
}

fn get_u8(buf: &mut Bytes) -> Result<u8, DecodeError> {
    need(buf, 1)?;
    Ok(buf.get_u8())
}

fn get_u32(buf: &mut Bytes) -> Result<u32, DecodeError> {
    need(buf, 4)?;
    Ok(buf.get_u32_le())
}

fn get_u64(buf: &mut Bytes) -> Result<u64, DecodeError> {
    need(buf, 8)?;
    Ok(buf.get_u64_le())
}

fn get_i64(buf: &mut Bytes) -> Result<i64, DecodeError> {
    need(buf, 8)?;
    Ok(buf.get_i64_le())
}

fn get_revision(buf: &mut Bytes) -> Result<Revision, DecodeError> {
    Revision::new(get_u64(buf)?).ok_or(DecodeError("zero revision"))
}

fn get_bytes(buf: &mut Bytes) -> Result<Bytes, DecodeError> {
    let len = get_u32(buf)? as usize;
    need(buf, len)?;
    Ok(buf.split_to(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &'static [u8], value: &'static [u8], create: u64, at: u64) -> KeyValue {
        KeyValue {
            key: Bytes::from_static(key),
            value: Bytes::from_static(value),
            create_revision: Revision::new(create).expect("nonzero"),
            mod_revision: Revision::new(at).expect("nonzero"),
            version: at - create + 1,
            lease: LeaseId::new(7),
        }
    }

    #[test]
    fn partition_records_round_trip() {
        let at = Revision::new(5).expect("nonzero");
        let writes = vec![
            Write {
                key: Bytes::from_static(b"a"),
                kv: Some(kv(b"a", b"1", 3, 5)),
            },
            Write {
                key: Bytes::from_static(b"b"),
                kv: None,
            },
        ];
        let record = decode_partition_record(encode_write(at, &writes)).expect("decodes");
        assert_eq!(
            record,
            PartitionRecord::Write {
                revision: at,
                writes: writes.clone()
            }
        );
        let snapshot = PartitionSnapshot {
            revision: at,
            compacted: Revision::new(2),
            dump: vec![(at, writes)],
        };
        assert_eq!(
            decode_snapshot(encode_snapshot(&snapshot).into()).expect("decodes"),
            snapshot
        );
        let compact = decode_partition_record(encode_compact(at)).expect("decodes");
        assert_eq!(compact, PartitionRecord::Compact { revision: at });
    }

    #[test]
    fn truncated_records_are_errors_not_panics() {
        let at = Revision::new(5).expect("nonzero");
        let full = encode_write(
            at,
            &[Write {
                key: Bytes::from_static(b"a"),
                kv: Some(kv(b"a", b"1", 3, 5)),
            }],
        );
        for cut in 0..full.len() {
            assert!(
                decode_partition_record(full.slice(..cut)).is_err(),
                "cut at {cut}"
            );
        }
    }
}
