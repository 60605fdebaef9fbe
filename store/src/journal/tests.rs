use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;

use super::format::{RECORD_HEADER_LEN, encode_snapshot, segment_path};
use super::*;

fn config(dir: &Path, durability: Durability, segment_bytes: u64) -> JournalConfig {
    JournalConfig {
        dir: dir.to_path_buf(),
        durability,
        segment_bytes,
    }
}

fn open(config: &JournalConfig) -> (Journal, Replay) {
    Journal::open(config.clone(), Box::new(|_| {})).expect("open journal")
}

fn payload(index: u64) -> Bytes {
    Bytes::from(format!("entry-{index}").repeat((index % 3) as usize))
}

async fn append_all(journal: &Journal, indexes: impl IntoIterator<Item = u64>) {
    let mut last = None;
    for index in indexes {
        journal.append(index, payload(index)).expect("append");
        last = Some(index);
    }
    if let Some(last) = last {
        journal.wait_durable(last).await.expect("durable");
    }
}

fn expected(indexes: impl IntoIterator<Item = u64>) -> Vec<(u64, Bytes)> {
    indexes
        .into_iter()
        .map(|index| (index, payload(index)))
        .collect()
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|entry| entry.expect("dir entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == ext))
        .collect();
    out.sort();
    out
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read dir") {
        let path = entry.expect("dir entry").path();
        std::fs::copy(&path, to.join(path.file_name().expect("file name"))).expect("copy");
    }
}

#[tokio::test]
async fn round_trip() {
    for durability in [Durability::Fsync, Durability::Buffered] {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = config(dir.path(), durability, DEFAULT_SEGMENT_BYTES);
        let indexes = [1, 2, 3, 10, 11, 500, 501, 1 << 40];
        let (journal, replay) = open(&config);
        assert!(replay.snapshot.is_none() && replay.entries.is_empty());
        append_all(&journal, indexes).await;
        assert_eq!(journal.durable_index(), 1 << 40);
        journal.close().await.expect("close");

        let (journal, replay) = open(&config);
        assert_eq!(replay.entries, expected(indexes), "{durability}");
        assert_eq!(replay.torn_tail_cut, None);
        assert_eq!(journal.durable_index(), 1 << 40);
        let record_bytes: usize = indexes
            .iter()
            .map(|&index| RECORD_HEADER_LEN + payload(index).len())
            .sum();
        assert_eq!(journal.bytes_since_snapshot(), record_bytes as u64);
    }
}

#[tokio::test]
async fn reopen_continues_appending() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path(), Durability::Fsync, DEFAULT_SEGMENT_BYTES);
    let (journal, _) = open(&config);
    append_all(&journal, 1..=5).await;
    journal.close().await.expect("close");

    let (journal, _) = open(&config);
    let refused = journal.append(5, payload(5));
    assert!(matches!(
        refused,
        Err(JournalError::OutOfOrder { last: 5, got: 5 })
    ));
    append_all(&journal, 6..=10).await;
    journal.close().await.expect("close");

    let (_, replay) = open(&config);
    assert_eq!(replay.entries, expected(1..=10));
    assert_eq!(
        files(dir.path(), "seg").len(),
        1,
        "appends continue in the last segment"
    );
}

#[tokio::test]
async fn out_of_order_appends_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (journal, _) = open(&config(
        dir.path(),
        Durability::Buffered,
        DEFAULT_SEGMENT_BYTES,
    ));
    let cases: [(u64, Option<(u64, u64)>); 6] = [
        (0, Some((0, 0))),
        (5, None),
        (5, Some((5, 5))),
        (3, Some((5, 3))),
        (6, None),
        (100, None),
    ];
    for (index, refused) in cases {
        match (journal.append(index, payload(index)), refused) {
            (Ok(()), None) => {}
            (Err(JournalError::OutOfOrder { last, got }), Some(want)) => {
                assert_eq!((last, got), want, "append {index}");
            }
            (got, want) => panic!("append {index}: got {got:?}, want refusal {want:?}"),
        }
    }
    journal.wait_durable(100).await.expect("durable");
    let too_large = journal.append(101, Bytes::from(vec![0; MAX_PAYLOAD + 1]));
    assert!(matches!(too_large, Err(JournalError::TooLarge { .. })));
}

/// Truncates or flips bytes of the last record at every offset: reopening must return exactly
/// the records before it, cut the file there, and accept appends afterwards.
#[tokio::test]
async fn torn_tail_is_cut() {
    let original = tempfile::tempdir().expect("tempdir");
    let config_at = |dir: &Path| config(dir, Durability::Buffered, DEFAULT_SEGMENT_BYTES);
    let (journal, _) = open(&config_at(original.path()));
    append_all(&journal, [1, 2, 4]).await;
    journal.close().await.expect("close");
    let segment = segment_path(original.path(), 1);
    let whole = std::fs::read(&segment).expect("read segment");
    let record_start = whole.len() - (RECORD_HEADER_LEN + payload(4).len());

    enum Damage {
        TruncateAt(usize),
        FlipAt(usize),
    }
    let damages = (record_start + 1..whole.len())
        .map(Damage::TruncateAt)
        .chain((record_start..whole.len()).map(Damage::FlipAt));
    for damage in damages {
        let dir = tempfile::tempdir().expect("tempdir");
        copy_dir(original.path(), dir.path());
        let mut bytes = whole.clone();
        let name = match damage {
            Damage::TruncateAt(at) => {
                bytes.truncate(at);
                format!("truncated at {at}")
            }
            Damage::FlipAt(at) => {
                bytes[at] ^= 0xff;
                format!("flipped at {at}")
            }
        };
        std::fs::write(segment_path(dir.path(), 1), &bytes).expect("write damage");

        let (journal, replay) = open(&config_at(dir.path()));
        assert_eq!(replay.entries, expected([1, 2]), "{name}");
        let cut = replay.torn_tail_cut.expect("a cut is reported");
        assert_eq!(cut.offset, record_start as u64, "{name}");
        assert_eq!(
            cut.dropped_bytes,
            (bytes.len() - record_start) as u64,
            "{name}"
        );
        let on_disk = std::fs::metadata(segment_path(dir.path(), 1))
            .expect("stat")
            .len();
        assert_eq!(on_disk, record_start as u64, "{name}");
        assert_eq!(journal.durable_index(), 2);

        append_all(&journal, [3, 4]).await;
        journal.close().await.expect("close");
        let (_, replay) = open(&config_at(dir.path()));
        assert_eq!(replay.entries, expected([1, 2, 3, 4]), "{name}");
        assert_eq!(replay.torn_tail_cut, None, "{name}");
    }
}

/// A crash while a new segment is created leaves a last segment without records; it is
/// removed and the next append starts a segment named after its own index.
#[tokio::test]
async fn segment_without_records_is_removed() {
    let cases: [(&str, Vec<u8>); 3] = [
        ("empty", Vec::new()),
        ("short header", format::segment_header()[..5].to_vec()),
        ("header only", format::segment_header().to_vec()),
    ];
    for (name, contents) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = config(dir.path(), Durability::Fsync, DEFAULT_SEGMENT_BYTES);
        let (journal, _) = open(&config);
        append_all(&journal, 1..=3).await;
        journal.close().await.expect("close");
        std::fs::write(segment_path(dir.path(), 4), contents).expect("write");

        let (journal, replay) = open(&config);
        assert_eq!(replay.entries, expected(1..=3), "{name}");
        assert!(!segment_path(dir.path(), 4).exists(), "{name}");
        journal.close().await.expect("close");
    }
}

fn first_segment(dir: &Path) -> PathBuf {
    files(dir, "seg")[0].clone()
}

fn last_segment(dir: &Path) -> PathBuf {
    files(dir, "seg").last().expect("a segment").clone()
}

fn the_snapshot(dir: &Path) -> PathBuf {
    files(dir, "snap")[0].clone()
}

fn flip(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).expect("read");
    bytes[at] ^= 0x01;
    std::fs::write(path, bytes).expect("write");
}

fn truncate_by_one(path: &Path) {
    let len = std::fs::metadata(path).expect("stat").len();
    let file = std::fs::File::options()
        .write(true)
        .open(path)
        .expect("open");
    file.set_len(len - 1).expect("truncate");
}

#[tokio::test]
async fn damage_outside_the_torn_tail_is_corruption() {
    type Edit = fn(&Path);
    type Culprit = fn(&Path) -> PathBuf;
    let cases: [(&str, Edit, Culprit); 5] = [
        (
            "flip in an earlier segment",
            |d| flip(&first_segment(d), 40),
            first_segment,
        ),
        (
            "earlier segment cut short",
            |d| truncate_by_one(&first_segment(d)),
            first_segment,
        ),
        (
            "foreign header in the last segment",
            |d| flip(&last_segment(d), 0),
            last_segment,
        ),
        (
            "file name that does not match its first record",
            |d| std::fs::rename(last_segment(d), segment_path(d, 1000)).expect("rename"),
            |d| segment_path(d, 1000),
        ),
        (
            "damaged snapshot",
            |d| flip(&the_snapshot(d), 34),
            the_snapshot,
        ),
    ];
    for (name, edit, culprit) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = config(dir.path(), Durability::Fsync, 100);
        let (journal, _) = open(&config);
        append_all(&journal, 1..=10).await;
        journal.write_snapshot(2, b"state").expect("snapshot");
        append_all(&journal, 11..=30).await;
        journal.close().await.expect("close");
        assert!(
            files(dir.path(), "seg").len() >= 3,
            "{name}: needs several segments"
        );

        edit(dir.path());
        let culprit = culprit(dir.path());
        match Journal::open(config.clone(), Box::new(|_| {})) {
            Err(JournalError::Corrupt { path, .. }) => assert_eq!(path, culprit, "{name}"),
            Err(other) => panic!("{name}: got {other}"),
            Ok(_) => panic!("{name}: opened a corrupt journal"),
        }
    }
}

#[tokio::test]
async fn segments_roll_over() {
    let dir = tempfile::tempdir().expect("tempdir");
    let segment_bytes = 100;
    let config = config(dir.path(), Durability::Fsync, segment_bytes);
    let (journal, _) = open(&config);
    // Batches of several entries, so that one flush spans segments.
    for batch in (1..=60u64).collect::<Vec<_>>().chunks(7) {
        append_all(&journal, batch.iter().copied()).await;
    }
    journal.close().await.expect("close");

    let segments = files(dir.path(), "seg");
    assert!(segments.len() >= 10, "got {} segments", segments.len());
    let largest_record = (RECORD_HEADER_LEN + payload(59).len()) as u64;
    for path in &segments {
        let len = std::fs::metadata(path).expect("stat").len();
        assert!(
            len < segment_bytes + largest_record,
            "{} is {len} bytes",
            path.display()
        );
    }
    let (_, replay) = open(&config);
    assert_eq!(replay.entries, expected(1..=60));
    // Each segment is named after its first entry.
    for path in &segments {
        let stem = path.file_stem().and_then(|s| s.to_str()).expect("name");
        let first: u64 = stem.parse().expect("numeric name");
        assert!(
            replay.entries.iter().any(|(index, _)| *index == first),
            "{stem}"
        );
    }
}

#[tokio::test]
async fn snapshot_replaces_older_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path(), Durability::Fsync, 100);
    let (journal, _) = open(&config);
    append_all(&journal, 1..=30).await;
    let segments_before = files(dir.path(), "seg").len();
    journal
        .write_snapshot(20, b"state at 20")
        .expect("snapshot");
    assert_eq!(journal.bytes_since_snapshot(), 0);
    assert!(files(dir.path(), "seg").len() < segments_before);
    append_all(&journal, 31..=35).await;
    assert!(journal.bytes_since_snapshot() > 0);
    journal.close().await.expect("close");

    let (journal, replay) = open(&config);
    assert_eq!(
        replay.snapshot,
        Some((20, Bytes::from_static(b"state at 20")))
    );
    assert_eq!(replay.entries, expected(21..=35));
    // Every segment left holds an entry after the snapshot, except possibly none at all.
    for path in files(dir.path(), "seg") {
        let stem = path.file_stem().and_then(|s| s.to_str()).expect("name");
        let first: u64 = stem.parse().expect("numeric name");
        let next_first = files(dir.path(), "seg")
            .iter()
            .filter_map(|p| p.file_stem()?.to_str()?.parse::<u64>().ok())
            .find(|&f| f > first);
        assert!(
            next_first.is_none_or(|next| next > 21),
            "{stem} holds only entries <= 20"
        );
    }

    // A second snapshot replaces the first; one beyond the log moves the next index on.
    journal
        .write_snapshot(50, b"state at 50")
        .expect("snapshot");
    assert_eq!(
        files(dir.path(), "snap"),
        vec![format::snapshot_path(dir.path(), 50)]
    );
    let refused = journal.append(40, payload(40));
    assert!(matches!(
        refused,
        Err(JournalError::OutOfOrder { last: 50, got: 40 })
    ));
    let older = journal.write_snapshot(45, b"older");
    assert!(matches!(
        older,
        Err(JournalError::OutOfOrder { last: 50, got: 45 })
    ));
    append_all(&journal, [51]).await;
    journal.close().await.expect("close");

    let (_, replay) = open(&config);
    assert_eq!(
        replay.snapshot,
        Some((50, Bytes::from_static(b"state at 50")))
    );
    assert_eq!(replay.entries, expected([51]));
}

/// What a crash in the middle of `write_snapshot` leaves is cleaned up on open.
#[tokio::test]
async fn interrupted_snapshot_is_cleaned_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path(), Durability::Fsync, 100);
    let (journal, _) = open(&config);
    append_all(&journal, 1..=30).await;
    journal.close().await.expect("close");
    let segments = files(dir.path(), "seg");
    // The new snapshot was renamed into place, but neither the old snapshot nor the segments
    // it covers were deleted yet; another snapshot was half written.
    std::fs::write(
        format::snapshot_path(dir.path(), 3),
        encode_snapshot(3, b"old"),
    )
    .expect("w");
    std::fs::write(
        format::snapshot_path(dir.path(), 25),
        encode_snapshot(25, b"new"),
    )
    .expect("w");
    std::fs::write(format::snapshot_temp_path(dir.path(), 28), b"half").expect("w");

    let (_, replay) = open(&config);
    assert_eq!(replay.snapshot, Some((25, Bytes::from_static(b"new"))));
    assert_eq!(replay.entries, expected(26..=30));
    let names: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "snap" || e == "tmp"))
        .collect();
    assert_eq!(names, vec![format::snapshot_path(dir.path(), 25)]);
    let left = files(dir.path(), "seg");
    assert!(left.len() < segments.len());
    assert_eq!(left.last(), segments.last(), "the last segment stays");
}

/// 64 writers append under one lock, as the store does, and each awaits its own entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn group_commit_shares_syncs() {
    const WRITERS: u64 = 64;
    const PER_WRITER: u64 = 20;
    let dir = tempfile::tempdir().expect("tempdir");
    let notified = Arc::new(Mutex::new(Vec::new()));
    let highest_notified = Arc::new(AtomicU64::new(0));
    let on_durable = {
        let notified = Arc::clone(&notified);
        let highest = Arc::clone(&highest_notified);
        Box::new(move |index| {
            notified.lock().push(index);
            highest.store(index, Ordering::SeqCst);
        })
    };
    let config = config(dir.path(), Durability::Fsync, DEFAULT_SEGMENT_BYTES);
    let (journal, _) = Journal::open(config, on_durable).expect("open");
    let journal = Arc::new(journal);
    let next_index = Arc::new(Mutex::new(0u64));
    let mut writers = Vec::new();
    for _ in 0..WRITERS {
        let journal = Arc::clone(&journal);
        let next_index = Arc::clone(&next_index);
        let highest_notified = Arc::clone(&highest_notified);
        writers.push(tokio::spawn(async move {
            for _ in 0..PER_WRITER {
                let index = {
                    let mut next = next_index.lock();
                    *next += 1;
                    journal.append(*next, payload(*next)).expect("append");
                    *next
                };
                journal.wait_durable(index).await.expect("durable");
                // `on_durable` runs before `wait_durable` resolves.
                assert!(highest_notified.load(Ordering::SeqCst) >= index);
            }
        }));
    }
    for writer in writers {
        writer.await.expect("writer task");
    }
    let entries = WRITERS * PER_WRITER;
    assert_eq!(journal.durable_index(), entries);
    let flushes = journal.flush_count();
    // How many entries share a sync depends on scheduling; on an ext4 disk about 30, on tmpfs
    // about 10. `held_flush_batches_everything_queued` checks the mechanism exactly.
    assert!(
        flushes * 2 <= entries,
        "{flushes} flushes for {entries} entries"
    );
    let notified = notified.lock().clone();
    assert!(
        notified.windows(2).all(|pair| pair[0] < pair[1]),
        "in index order"
    );
    assert_eq!(notified.last(), Some(&entries));
    journal.close().await.expect("close");
}

/// Everything queued while a flush is in progress goes out in the next single flush.
#[tokio::test]
async fn held_flush_batches_everything_queued() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (journal, _) = open(&config(
        dir.path(),
        Durability::Fsync,
        DEFAULT_SEGMENT_BYTES,
    ));
    let writer = journal
        .shared
        .writer
        .as_ref()
        .expect("an fsync journal has a writer");
    let held = writer.lock();
    for index in 1..=64 {
        journal.append(index, payload(index)).expect("append");
    }
    drop(held);
    journal.wait_durable(64).await.expect("durable");
    // The flusher may have taken entry 1 alone before it blocked on the held writer.
    assert!(
        journal.flush_count() <= 2,
        "{} flushes",
        journal.flush_count()
    );
}

/// Appends never wait for the disk; a flood of them is drained by the following flushes and
/// `close` writes whatever is still queued.
#[tokio::test]
async fn flood_without_awaiting_is_written_on_close() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path(), Durability::Buffered, 64 << 10);
    let (journal, _) = open(&config);
    for index in 1..=20_000 {
        journal.append(index, payload(index)).expect("append");
    }
    let pending = journal.wait_durable(20_001);
    journal.close().await.expect("close");
    assert!(
        matches!(pending.await, Err(JournalError::Closed)),
        "never appended"
    );
    assert_eq!(journal.durable_index(), 20_000);
    journal
        .wait_durable(20_000)
        .await
        .expect("durable before close");
    assert!(matches!(
        journal.append(20_001, payload(1)),
        Err(JournalError::Closed)
    ));
    journal.close().await.expect("second close");

    let (_, replay) = open(&config);
    assert_eq!(replay.entries, expected(1..=20_000));
}

#[tokio::test]
async fn durability_none_writes_nothing() {
    let parent = tempfile::tempdir().expect("tempdir");
    let dir = parent.path().join("journal");
    let config = config(&dir, Durability::None, DEFAULT_SEGMENT_BYTES);
    let notified = Arc::new(AtomicU64::new(0));
    let on_durable = {
        let notified = Arc::clone(&notified);
        Box::new(move |index| notified.store(index, Ordering::SeqCst))
    };
    let (journal, replay) = Journal::open(config.clone(), on_durable).expect("open");
    assert!(replay.entries.is_empty());
    append_all(&journal, 1..=100).await;
    assert_eq!(notified.load(Ordering::SeqCst), 100);
    journal.write_snapshot(100, b"state").expect("snapshot");
    assert_eq!(journal.bytes_since_snapshot(), 0);
    journal.close().await.expect("close");
    assert!(!dir.exists());

    let (_, replay) = open(&config);
    assert!(replay.snapshot.is_none() && replay.entries.is_empty());
}

/// A flush that fails fails the journal: its waiters, later appends, snapshots and `close`.
#[tokio::test]
async fn failed_flush_fails_the_journal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let notified = Arc::new(AtomicU64::new(0));
    let on_durable = {
        let notified = Arc::clone(&notified);
        Box::new(move |index| notified.store(index, Ordering::SeqCst))
    };
    let config = config(dir.path(), Durability::Fsync, DEFAULT_SEGMENT_BYTES);
    let (journal, _) = Journal::open(config, on_durable).expect("open");
    // The first segment cannot be created where a directory already has its name.
    std::fs::create_dir(segment_path(dir.path(), 1)).expect("mkdir");

    journal.append(1, payload(1)).expect("append is queued");
    assert!(matches!(
        journal.wait_durable(1).await,
        Err(JournalError::Failed(_))
    ));
    assert!(matches!(
        journal.append(2, payload(2)),
        Err(JournalError::Failed(_))
    ));
    assert!(matches!(
        journal.wait_durable(2).await,
        Err(JournalError::Failed(_))
    ));
    assert!(matches!(
        journal.write_snapshot(1, b"state"),
        Err(JournalError::Failed(_))
    ));
    assert!(matches!(
        journal.close().await,
        Err(JournalError::Failed(_))
    ));
    assert_eq!(journal.durable_index(), 0);
    assert_eq!(notified.load(Ordering::SeqCst), 0);
}

#[test]
fn durability_parses_and_prints() {
    for (text, durability) in [
        ("fsync", Durability::Fsync),
        ("buffered", Durability::Buffered),
        ("none", Durability::None),
    ] {
        assert_eq!(text.parse::<Durability>().expect("parses"), durability);
        assert_eq!(durability.to_string(), text);
    }
    assert!("Fsync".parse::<Durability>().is_err());
    assert!("".parse::<Durability>().is_err());
}

#[tokio::test]
async fn panicking_callback_fails_the_journal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path(), Durability::Buffered, DEFAULT_SEGMENT_BYTES);
    let on_durable = Box::new(|_| panic!("on_durable panics (expected by this test)"));
    let (journal, _) = Journal::open(config, on_durable).expect("open");
    journal.append(1, payload(1)).expect("append");
    assert!(matches!(
        journal.wait_durable(1).await,
        Err(JournalError::Failed(_))
    ));
    assert!(matches!(
        journal.append(2, payload(2)),
        Err(JournalError::Failed(_))
    ));
}

#[test]
fn journal_is_send_and_sync() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<Journal>();
    shareable::<JournalError>();
}
