//! The flusher's side of the disk: appending batches to segment files, rolling over to a new
//! segment, syncing per the durability mode, and writing snapshots. Everything here blocks; it
//! runs on the journal's flusher thread or on the caller's blocking thread (snapshots).

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::JournalError;
use super::format::{
    MAX_PAYLOAD, SEGMENT_HEADER_LEN, encode_record, segment_header, segment_path, snapshot_header,
    snapshot_path, snapshot_temp_path,
};

/// Appended entries waiting for the flusher: their records, encoded back to back, and where
/// each one ends. Swapped out whole by the flusher, so the allocation is reused.
#[derive(Default)]
pub(super) struct Batch {
    buf: Vec<u8>,
    /// (index, end offset in `buf`) per record, in index order.
    records: Vec<(u64, usize)>,
}

impl Batch {
    /// Adds one entry. With `encode` false (durability `none`) only the index is kept.
    pub fn push(&mut self, index: u64, payload: &[u8], encode: bool) {
        debug_assert!(payload.len() <= MAX_PAYLOAD);
        if encode {
            encode_record(&mut self.buf, index, payload);
        }
        self.records.push((index, self.buf.len()));
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn last_index(&self) -> Option<u64> {
        self.records.last().map(|&(index, _)| index)
    }

    pub fn encoded_len(&self) -> u64 {
        self.buf.len() as u64
    }

    pub fn clear(&mut self) {
        self.buf.clear();
        self.records.clear();
    }
}

/// A segment file (named after its first index) and the last index it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Segment {
    pub last: u64,
    pub path: PathBuf,
}

/// The segment being appended to.
struct Active {
    file: File,
    segment: Segment,
    len: u64,
    /// Written since its last sync.
    dirty: bool,
}

pub(super) struct Writer {
    dir: PathBuf,
    /// Durability `fsync`: sync data after each batch, and the directory after creating files.
    sync: bool,
    segment_bytes: u64,
    /// Full segments, oldest first.
    closed: VecDeque<Segment>,
    active: Option<Active>,
}

impl Writer {
    /// Takes over the segments recovery found; `active` (the last one, with its length) is
    /// appended to until it reaches `segment_bytes`.
    pub fn new(
        dir: PathBuf,
        sync: bool,
        segment_bytes: u64,
        closed: Vec<Segment>,
        active: Option<(Segment, u64)>,
    ) -> Result<Self, JournalError> {
        let active = match active {
            None => None,
            Some((segment, len)) => {
                let file = OpenOptions::new()
                    .append(true)
                    .open(&segment.path)
                    .map_err(io_error(&segment.path))?;
                Some(Active {
                    file,
                    segment,
                    len,
                    dirty: false,
                })
            }
        };
        Ok(Writer {
            dir,
            sync,
            segment_bytes,
            closed: closed.into(),
            active,
        })
    }

    /// Writes a batch: one write call per segment it touches, then (in `fsync` mode) one data
    /// sync. A new segment starts before any record that would begin at or past
    /// `segment_bytes`, so a segment exceeds the limit by at most one record.
    pub fn write(&mut self, batch: &Batch) -> Result<(), JournalError> {
        let records = &batch.records;
        let mut start = 0;
        let mut i = 0;
        while i < records.len() {
            if self
                .active
                .as_ref()
                .is_none_or(|active| active.len >= self.segment_bytes)
            {
                self.roll(records[i].0)?;
            }
            let active = self.active.as_mut().expect("roll leaves an active segment");
            let mut end = records[i].1;
            let mut next = i + 1;
            while next < records.len() && active.len + ((end - start) as u64) < self.segment_bytes {
                end = records[next].1;
                next += 1;
            }
            let path = &active.segment.path;
            active
                .file
                .write_all(&batch.buf[start..end])
                .map_err(io_error(path))?;
            active.len += (end - start) as u64;
            active.segment.last = records[next - 1].0;
            active.dirty = true;
            start = end;
            i = next;
        }
        if self.sync
            && let Some(active) = self.active.as_mut().filter(|active| active.dirty)
        {
            active
                .file
                .sync_data()
                .map_err(io_error(&active.segment.path))?;
            active.dirty = false;
        }
        Ok(())
    }

    /// Closes the active segment and starts one named `first_index`.
    fn roll(&mut self, first_index: u64) -> Result<(), JournalError> {
        if let Some(old) = self.active.take() {
            // The old segment is whole on disk before a newer one can exist: recovery treats
            // damage anywhere but in the last segment as corruption.
            if self.sync && old.dirty {
                old.file.sync_data().map_err(io_error(&old.segment.path))?;
            }
            self.closed.push_back(old.segment);
        }
        let path = segment_path(&self.dir, first_index);
        // `create_new`: a file of that name can only be left from another writer; never
        // append to it.
        let mut file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(&path)
            .map_err(io_error(&path))?;
        file.write_all(&segment_header()).map_err(io_error(&path))?;
        if self.sync {
            sync_dir(&self.dir)?;
        }
        let segment = Segment {
            last: first_index,
            path,
        };
        self.active = Some(Active {
            file,
            segment,
            len: SEGMENT_HEADER_LEN as u64,
            dirty: true,
        });
        Ok(())
    }

    /// Forgets the full segments whose entries are all `<= index` and returns their paths for
    /// the caller to delete. The active segment always stays.
    pub fn compact(&mut self, index: u64) -> Vec<PathBuf> {
        let mut removed = Vec::new();
        while self
            .closed
            .front()
            .is_some_and(|segment| segment.last <= index)
        {
            removed.extend(self.closed.pop_front().map(|segment| segment.path));
        }
        removed
    }
}

/// Writes a snapshot so that it is either wholly there or not at all: temporary file, sync,
/// rename, sync of the directory.
pub(super) fn write_snapshot_file(dir: &Path, index: u64, data: &[u8]) -> Result<(), JournalError> {
    let temp = snapshot_temp_path(dir, index);
    let write = || -> Result<(), JournalError> {
        let mut file = File::create(&temp).map_err(io_error(&temp))?;
        file.write_all(&snapshot_header(index, data))
            .map_err(io_error(&temp))?;
        file.write_all(data).map_err(io_error(&temp))?;
        file.sync_all().map_err(io_error(&temp))
    };
    if let Err(err) = write() {
        // Best effort: a leftover temporary file is also removed by the next open.
        let _ = std::fs::remove_file(&temp);
        return Err(err);
    }
    let path = snapshot_path(dir, index);
    std::fs::rename(&temp, &path).map_err(io_error(&path))?;
    sync_dir(dir)
}

/// Makes creations, renames and deletions in `dir` durable.
pub(super) fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(io_error(dir))
}

pub(super) fn remove_files(dir: &Path, paths: &[PathBuf]) -> Result<(), JournalError> {
    for path in paths {
        std::fs::remove_file(path).map_err(io_error(path))?;
    }
    if paths.is_empty() {
        Ok(())
    } else {
        sync_dir(dir)
    }
}

pub(super) fn io_error(path: &Path) -> impl FnOnce(io::Error) -> JournalError + '_ {
    move |source| JournalError::Io {
        path: path.to_path_buf(),
        source,
    }
}
