//! Opening a journal directory: the newest snapshot, every entry after it, and the repair of a
//! torn tail. Also removes what an interrupted snapshot or segment creation left behind.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::format::{
    Damage, FileKind, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN, decode_snapshot, parse_file_name,
    scan_segment,
};
use super::writer::{Segment, io_error, remove_files};
use super::{JournalError, Replay, TornTail};

/// Everything `open` needs to continue the log.
#[derive(Default)]
pub(super) struct Recovered {
    pub replay: Replay,
    /// Segments before the last one, oldest first.
    pub closed: Vec<Segment>,
    /// The last segment and its length after any cut; appends continue there.
    pub active: Option<(Segment, u64)>,
    pub snapshot_index: Option<u64>,
    /// The highest index in the snapshot or the log; the next append must exceed it.
    pub last_index: u64,
    /// Bytes of records after the snapshot.
    pub bytes_since_snapshot: u64,
}

pub(super) fn recover(dir: &Path) -> Result<Recovered, JournalError> {
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    let mut segments: Vec<(u64, PathBuf)> = Vec::new();
    let mut snapshots: Vec<(u64, PathBuf)> = Vec::new();
    let mut garbage: Vec<PathBuf> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let path = entry.map_err(io_error(dir))?.path();
        let kind = path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(parse_file_name);
        match kind {
            Some(FileKind::Segment(index)) => segments.push((index, path)),
            Some(FileKind::Snapshot(index)) => snapshots.push((index, path)),
            Some(FileKind::Temp) => garbage.push(path),
            None => tracing::warn!(path = %path.display(), "ignoring unknown file in journal"),
        }
    }
    segments.sort_unstable();
    snapshots.sort_unstable();

    // Only the newest snapshot counts: older ones are removed once a newer one is in place,
    // and the segments it covered may already be gone, so falling back to an older one could
    // silently skip entries.
    let snapshot = match snapshots.pop() {
        None => None,
        Some((index, path)) => Some(read_snapshot(index, &path)?),
    };
    garbage.extend(snapshots.into_iter().map(|(_, path)| path));
    let snapshot_index = snapshot.as_ref().map(|(index, _)| *index);
    let after = snapshot_index.unwrap_or(0);

    // A segment is wholly covered by the snapshot when the next one starts at or below
    // `after + 1`; these are left from a snapshot whose clean-up was interrupted.
    let covered = segments
        .windows(2)
        .take_while(|pair| pair[1].0 <= after.saturating_add(1))
        .count();
    garbage.extend(segments.drain(..covered).map(|(_, path)| path));

    let mut replay = Replay {
        snapshot,
        entries: Vec::new(),
        torn_tail_cut: None,
    };
    let mut closed: Vec<Segment> = Vec::new();
    let mut active = None;
    let mut last_index = after;
    let mut bytes_since_snapshot = 0;
    let count = segments.len();
    for (position, (first, path)) in segments.into_iter().enumerate() {
        let is_last = position + 1 == count;
        let previous = closed.last().map(|segment| segment.last);
        let read = read_segment(&path, first, previous, is_last)?;
        if read.cut.is_some() {
            replay.torn_tail_cut = read.cut;
        }
        let Some(&(tail, _)) = read.records.last() else {
            // Only the last segment can be empty (`read_segment` checks): it was created, but
            // its first batch never reached the disk.
            garbage.push(path);
            continue;
        };
        for (index, payload) in read.records {
            if index > after {
                bytes_since_snapshot += (RECORD_HEADER_LEN + payload.len()) as u64;
                replay.entries.push((index, payload));
            }
        }
        last_index = last_index.max(tail);
        let segment = Segment { last: tail, path };
        if is_last {
            active = Some((segment, read.valid_len));
        } else {
            closed.push(segment);
        }
    }
    remove_files(dir, &garbage)?;
    Ok(Recovered {
        replay,
        closed,
        active,
        snapshot_index,
        last_index,
        bytes_since_snapshot,
    })
}

/// The whole records of one segment, after any torn tail was cut.
struct SegmentRead {
    records: Vec<(u64, Bytes)>,
    valid_len: u64,
    cut: Option<TornTail>,
}

/// Reads and checks the segment named `first`. Only the last segment may have a torn tail
/// (which is cut here) or no records at all; `previous` is the last index before it.
fn read_segment(
    path: &Path,
    first: u64,
    previous: Option<u64>,
    is_last: bool,
) -> Result<SegmentRead, JournalError> {
    let data = Bytes::from(std::fs::read(path).map_err(io_error(path))?);
    let scan = scan_segment(&data);
    let corrupt = |offset, reason| JournalError::Corrupt {
        path: path.to_path_buf(),
        offset,
        reason,
    };
    let cut = match scan.damage {
        None => None,
        Some(Damage::Torn { offset, reason }) if is_last => Some(TornTail {
            path: path.to_path_buf(),
            offset,
            dropped_bytes: data.len() as u64 - offset,
            reason,
        }),
        Some(Damage::Torn { offset, reason }) => return Err(corrupt(offset, reason.into())),
        Some(Damage::Invalid { offset, reason }) => return Err(corrupt(offset, reason)),
    };
    let Some(&(head, _)) = scan.records.first() else {
        if is_last {
            return Ok(SegmentRead {
                records: Vec::new(),
                valid_len: 0,
                cut,
            });
        }
        return Err(corrupt(scan.valid_len, "segment holds no records".into()));
    };
    if head != first {
        let reason = format!("first record has index {head}, but the file name says {first}");
        return Err(corrupt(SEGMENT_HEADER_LEN as u64, reason));
    }
    if let Some(previous) = previous
        && head <= previous
    {
        let reason = format!("first index {head} does not follow {previous} of the segment before");
        return Err(corrupt(SEGMENT_HEADER_LEN as u64, reason));
    }
    if let Some(cut) = &cut {
        truncate(path, cut.offset)?;
    }
    Ok(SegmentRead {
        records: scan.records,
        valid_len: scan.valid_len,
        cut,
    })
}

fn read_snapshot(index: u64, path: &Path) -> Result<(u64, Bytes), JournalError> {
    let file = Bytes::from(std::fs::read(path).map_err(io_error(path))?);
    let corrupt = |offset, reason| JournalError::Corrupt {
        path: path.to_path_buf(),
        offset,
        reason,
    };
    let (inside, data) =
        decode_snapshot(&file).map_err(|(offset, reason)| corrupt(offset, reason))?;
    if inside != index {
        let reason = format!("snapshot holds index {inside}, but the file name says {index}");
        return Err(corrupt(16, reason));
    }
    Ok((index, data))
}

/// Truncates a torn segment at `offset` and makes the cut durable, so that later appends
/// never follow garbage.
fn truncate(path: &Path, offset: u64) -> Result<(), JournalError> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io_error(path))?;
    file.set_len(offset).map_err(io_error(path))?;
    file.sync_all().map_err(io_error(path))
}
