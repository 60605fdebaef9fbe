//! The bytes on disk: segment headers, records, snapshot files and file names. Pure functions
//! over byte slices; the layouts are described in the module doc of `journal`.

use std::path::{Path, PathBuf};

use bytes::Bytes;

/// Largest payload a record may carry. A record whose length field says more is treated as
/// damaged, so that a garbage length can never make recovery allocate gigabytes. The store's
/// own request limit is far below this.
pub const MAX_PAYLOAD: usize = 64 << 20;

pub(super) const SEGMENT_MAGIC: [u8; 8] = *b"UK8SJSEG";
pub(super) const SNAPSHOT_MAGIC: [u8; 8] = *b"UK8SSNAP";
pub(super) const FORMAT_VERSION: u32 = 1;

/// magic (8) | version u32 | reserved u32 (zero).
pub(super) const SEGMENT_HEADER_LEN: usize = 16;
/// length u32 | crc32c u32 | index u64.
pub(super) const RECORD_HEADER_LEN: usize = 16;
/// magic (8) | version u32 | crc32c u32 | index u64 | length u64.
const SNAPSHOT_HEADER_LEN: usize = 32;

const SEGMENT_EXT: &str = "seg";
const SNAPSHOT_EXT: &str = "snap";
const TEMP_EXT: &str = "tmp";

pub(super) fn segment_header() -> [u8; SEGMENT_HEADER_LEN] {
    let mut header = [0u8; SEGMENT_HEADER_LEN];
    header[..8].copy_from_slice(&SEGMENT_MAGIC);
    header[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    header
}

/// Appends one record to `buf`. The caller has checked `payload.len() <= MAX_PAYLOAD`.
pub(super) fn encode_record(buf: &mut Vec<u8>, index: u64, payload: &[u8]) {
    let len = u32::try_from(payload.len()).expect("payload length is checked against MAX_PAYLOAD");
    buf.reserve(RECORD_HEADER_LEN + payload.len());
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&record_crc(index, payload).to_le_bytes());
    buf.extend_from_slice(&index.to_le_bytes());
    buf.extend_from_slice(payload);
}

fn record_crc(index: u64, payload: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&index.to_le_bytes()), payload)
}

/// Why a segment stops being readable at some offset.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Damage {
    /// What an interrupted append leaves behind: a short header or record, a length that cannot
    /// be right, a checksum mismatch. In the last segment this is cut off; elsewhere it is
    /// corruption.
    Torn { offset: u64, reason: &'static str },
    /// Data that is internally consistent but wrong (a foreign or newer file, indexes out of
    /// order). Never cut off, because cutting would silently drop records that were written
    /// whole.
    Invalid { offset: u64, reason: String },
}

/// The records of one segment file, up to the first damage.
#[derive(Debug)]
pub(super) struct SegmentScan {
    /// Index and payload of each whole record; payloads are slices of the file's buffer.
    pub records: Vec<(u64, Bytes)>,
    /// Offset just past the last whole record (or past the header when there is none).
    pub valid_len: u64,
    pub damage: Option<Damage>,
}

/// Reads a segment file's bytes: its header, then records until the end or the first damage.
pub(super) fn scan_segment(data: &Bytes) -> SegmentScan {
    let mut scan = SegmentScan {
        records: Vec::new(),
        valid_len: 0,
        damage: None,
    };
    if data.len() < SEGMENT_HEADER_LEN {
        scan.damage = Some(Damage::Torn {
            offset: 0,
            reason: "short segment header",
        });
        return scan;
    }
    let magic = &data[..8];
    if magic == [0u8; 8] {
        // A header whose page never reached the disk reads as zeros.
        scan.damage = Some(Damage::Torn {
            offset: 0,
            reason: "zeroed segment header",
        });
        return scan;
    }
    if magic != SEGMENT_MAGIC {
        scan.damage = Some(Damage::Invalid {
            offset: 0,
            reason: "not a segment file".into(),
        });
        return scan;
    }
    let version = read_u32(data, 8);
    if version != FORMAT_VERSION {
        let reason = format!("unsupported segment format version {version}");
        scan.damage = Some(Damage::Invalid { offset: 8, reason });
        return scan;
    }
    let mut offset = SEGMENT_HEADER_LEN;
    scan.valid_len = offset as u64;
    let mut previous: Option<u64> = None;
    while offset < data.len() {
        let at = offset as u64;
        let torn = |reason| Some(Damage::Torn { offset: at, reason });
        if data.len() - offset < RECORD_HEADER_LEN {
            scan.damage = torn("short record header");
            break;
        }
        let len = read_u32(data, offset) as usize;
        let crc = read_u32(data, offset + 4);
        let index = read_u64(data, offset + 8);
        if len > MAX_PAYLOAD {
            scan.damage = torn("record length over the limit");
            break;
        }
        let start = offset + RECORD_HEADER_LEN;
        if data.len() - start < len {
            scan.damage = torn("short record payload");
            break;
        }
        let payload = data.slice(start..start + len);
        if record_crc(index, &payload) != crc {
            scan.damage = torn("record checksum mismatch");
            break;
        }
        if let Some(previous) = previous.filter(|&previous| index <= previous) {
            let reason = format!("record index {index} does not follow {previous}");
            scan.damage = Some(Damage::Invalid { offset: at, reason });
            break;
        }
        previous = Some(index);
        scan.records.push((index, payload));
        offset = start + len;
        scan.valid_len = offset as u64;
    }
    scan
}

/// The header of a snapshot file; `data` follows it.
pub(super) fn snapshot_header(index: u64, data: &[u8]) -> [u8; SNAPSHOT_HEADER_LEN] {
    let len = data.len() as u64;
    let mut header = [0u8; SNAPSHOT_HEADER_LEN];
    header[..8].copy_from_slice(&SNAPSHOT_MAGIC);
    header[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    header[12..16].copy_from_slice(&snapshot_crc(index, len, data).to_le_bytes());
    header[16..24].copy_from_slice(&index.to_le_bytes());
    header[24..32].copy_from_slice(&len.to_le_bytes());
    header
}

/// A whole snapshot file.
#[cfg(test)]
pub(super) fn encode_snapshot(index: u64, data: &[u8]) -> Vec<u8> {
    [&snapshot_header(index, data)[..], data].concat()
}

/// Checks a snapshot file's bytes and returns its index and data. A snapshot is written to a
/// temporary name and renamed only once whole and synced, so any damage here is corruption.
pub(super) fn decode_snapshot(file: &Bytes) -> Result<(u64, Bytes), (u64, String)> {
    if file.len() < SNAPSHOT_HEADER_LEN {
        return Err((0, "short snapshot header".into()));
    }
    if file[..8] != SNAPSHOT_MAGIC {
        return Err((0, "not a snapshot file".into()));
    }
    let version = read_u32(file, 8);
    if version != FORMAT_VERSION {
        return Err((8, format!("unsupported snapshot format version {version}")));
    }
    let crc = read_u32(file, 12);
    let index = read_u64(file, 16);
    let len = read_u64(file, 24);
    let actual = (file.len() - SNAPSHOT_HEADER_LEN) as u64;
    if len != actual {
        return Err((
            24,
            format!("snapshot length {len} but {actual} bytes follow the header"),
        ));
    }
    let data = file.slice(SNAPSHOT_HEADER_LEN..);
    if snapshot_crc(index, len, &data) != crc {
        return Err((12, "snapshot checksum mismatch".into()));
    }
    Ok((index, data))
}

fn snapshot_crc(index: u64, len: u64, data: &[u8]) -> u32 {
    let head = crc32c::crc32c_append(crc32c::crc32c(&index.to_le_bytes()), &len.to_le_bytes());
    crc32c::crc32c_append(head, data)
}

fn read_u32(data: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(data[at..at + 4].try_into().expect("slice of length 4"))
}

fn read_u64(data: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(data[at..at + 8].try_into().expect("slice of length 8"))
}

/// What a file in the journal directory is, by its name.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum FileKind {
    Segment(u64),
    Snapshot(u64),
    /// A snapshot that was being written when the process stopped.
    Temp,
}

pub(super) fn segment_path(dir: &Path, first_index: u64) -> PathBuf {
    dir.join(format!("{first_index:020}.{SEGMENT_EXT}"))
}

pub(super) fn snapshot_path(dir: &Path, index: u64) -> PathBuf {
    dir.join(format!("{index:020}.{SNAPSHOT_EXT}"))
}

pub(super) fn snapshot_temp_path(dir: &Path, index: u64) -> PathBuf {
    dir.join(format!("{index:020}.{SNAPSHOT_EXT}.{TEMP_EXT}"))
}

/// Classifies a file name; `None` for names the journal did not write.
pub(super) fn parse_file_name(name: &str) -> Option<FileKind> {
    if name.ends_with(&format!(".{SNAPSHOT_EXT}.{TEMP_EXT}")) {
        return Some(FileKind::Temp);
    }
    let (stem, ext) = name.split_once('.')?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let index = stem.parse().ok()?;
    match ext {
        SEGMENT_EXT => Some(FileKind::Segment(index)),
        SNAPSHOT_EXT => Some(FileKind::Snapshot(index)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(records: &[(u64, &[u8])]) -> Bytes {
        let mut buf = segment_header().to_vec();
        for (index, payload) in records {
            encode_record(&mut buf, *index, payload);
        }
        Bytes::from(buf)
    }

    #[test]
    fn records_round_trip() {
        let data = segment(&[(1, b"a"), (5, b""), (9, b"hello")]);
        let scan = scan_segment(&data);
        assert_eq!(scan.damage, None);
        assert_eq!(scan.valid_len, data.len() as u64);
        let got: Vec<(u64, &[u8])> = scan.records.iter().map(|(i, p)| (*i, &p[..])).collect();
        assert_eq!(got, vec![(1, &b"a"[..]), (5, &b""[..]), (9, &b"hello"[..])]);
    }

    #[test]
    fn damage_is_classified() {
        let whole = segment(&[(1, b"abc"), (2, b"defg")]);
        let second = (SEGMENT_HEADER_LEN + RECORD_HEADER_LEN + 3) as u64;
        let with = |edit: &dyn Fn(&mut Vec<u8>)| {
            let mut data = whole.to_vec();
            edit(&mut data);
            scan_segment(&Bytes::from(data))
        };
        let at = second as usize;
        let cases: Vec<(&str, SegmentScan, Option<Damage>)> = vec![
            (
                "empty file",
                with(&|d| d.clear()),
                Some(torn(0, "short segment header")),
            ),
            (
                "zeroed header",
                with(&|d| d[..8].fill(0)),
                Some(torn(0, "zeroed segment header")),
            ),
            (
                "short record header",
                with(&|d| d.truncate(at + 3)),
                Some(torn(second, "short record header")),
            ),
            (
                "huge length",
                with(&|d| d[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes())),
                Some(torn(second, "record length over the limit")),
            ),
            (
                "short payload",
                with(&|d| d.truncate(d.len() - 1)),
                Some(torn(second, "short record payload")),
            ),
            (
                "flipped payload byte",
                with(&|d| *d.last_mut().expect("non-empty") ^= 1),
                Some(torn(second, "record checksum mismatch")),
            ),
        ];
        for (name, scan, want) in cases {
            assert_eq!(scan.damage, want, "{name}");
        }
        let foreign = with(&|d| d[0] = b'X');
        assert!(matches!(
            foreign.damage,
            Some(Damage::Invalid { offset: 0, .. })
        ));
        let newer = with(&|d| d[8] = 2);
        assert!(matches!(
            newer.damage,
            Some(Damage::Invalid { offset: 8, .. })
        ));
        let backwards = scan_segment(&segment(&[(2, b"x"), (2, b"y")]));
        assert!(matches!(backwards.damage, Some(Damage::Invalid { .. })));
        assert_eq!(backwards.records.len(), 1);
    }

    fn torn(offset: u64, reason: &'static str) -> Damage {
        Damage::Torn { offset, reason }
    }

    #[test]
    fn snapshots_round_trip_and_reject_damage() {
        let file = Bytes::from(encode_snapshot(42, b"state"));
        let (index, data) = decode_snapshot(&file).expect("valid snapshot");
        assert_eq!((index, &data[..]), (42, &b"state"[..]));
        for at in 0..file.len() {
            let mut bad = file.to_vec();
            bad[at] ^= 0x40;
            assert!(decode_snapshot(&Bytes::from(bad)).is_err(), "flip at {at}");
        }
        assert!(decode_snapshot(&file.slice(..file.len() - 1)).is_err());
    }

    #[test]
    fn file_names() {
        let dir = Path::new("/j");
        let cases = [
            (segment_path(dir, 7), Some(FileKind::Segment(7))),
            (
                snapshot_path(dir, u64::MAX),
                Some(FileKind::Snapshot(u64::MAX)),
            ),
            (snapshot_temp_path(dir, 3), Some(FileKind::Temp)),
            (dir.join("7.seg"), None),
            (dir.join("0000000000000000000a.seg"), None),
            (dir.join("00000000000000000007.log"), None),
        ];
        for (path, want) in cases {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .expect("utf-8 name");
            assert_eq!(parse_file_name(name), want, "{name}");
        }
    }
}
