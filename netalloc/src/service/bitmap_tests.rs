use super::*;

#[test]
fn allocate_has_release_count() {
    let mut b = AllocationBitmap::new(100, 10, 1);
    assert_eq!(b.free(), 100);
    assert_eq!(b.allocate(5), Some(true));
    assert_eq!(b.allocate(5), Some(false));
    assert_eq!(b.allocate(100), None);
    assert!(b.has(5) && !b.has(6) && !b.has(1000));
    assert_eq!((b.count(), b.free()), (1, 99));
    b.release(5);
    b.release(5);
    b.release(1000);
    assert_eq!((b.count(), b.free()), (0, 100));
}

#[test]
fn dynamic_allocation_fills_the_upper_band_first() {
    for seed in 0..20 {
        let mut b = AllocationBitmap::new(130, 16, seed);
        let mut got: Vec<usize> = (0..114)
            .map(|_| b.allocate_next().unwrap_or(usize::MAX))
            .collect();
        assert!(
            got.iter().all(|&o| (16..130).contains(&o)),
            "seed {seed}: {got:?}"
        );
        // Then the lower band, then nothing.
        for _ in 0..16 {
            let o = b.allocate_next().unwrap_or(usize::MAX);
            assert!(o < 16);
            got.push(o);
        }
        assert_eq!(b.allocate_next(), None);
        got.sort_unstable();
        assert_eq!(got, (0..130).collect::<Vec<_>>());
    }
}

#[test]
fn equal_seeds_give_equal_sequences_and_different_seeds_spread() {
    let run = |seed| {
        let mut b = AllocationBitmap::new(4096, 0, seed);
        (0..8).filter_map(|_| b.allocate_next()).collect::<Vec<_>>()
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8));
}

#[test]
fn zero_sized_and_offset_clamped() {
    let mut b = AllocationBitmap::new(0, 16, 1);
    assert_eq!(b.allocate_next(), None);
    assert_eq!(b.allocate(0), None);
    assert_eq!(b.snapshot(), Vec::<u8>::new());
    let mut b = AllocationBitmap::new(3, 16, 1);
    assert_eq!(b.offset(), 3);
    let mut all: Vec<usize> = (0..3).filter_map(|_| b.allocate_next()).collect();
    all.sort_unstable();
    assert_eq!(all, vec![0, 1, 2]);
}

#[test]
fn snapshot_is_big_endian_integer_like_go_big_int_bytes() {
    let mut b = AllocationBitmap::new(200, 0, 1);
    assert_eq!(b.snapshot(), Vec::<u8>::new());
    b.allocate(0);
    assert_eq!(b.snapshot(), vec![0x01]);
    b.allocate(9);
    assert_eq!(b.snapshot(), vec![0x02, 0x01]);
    b.allocate(199);
    let snap = b.snapshot();
    assert_eq!(snap.len(), 25);
    assert_eq!(snap[0], 0x80);
}

#[test]
fn restore_accepts_leading_zeros_and_refuses_bits_past_the_end() {
    let mut b = AllocationBitmap::new(10, 0, 1);
    b.restore(&[0, 0, 0x02, 0x01])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(b.iter().collect::<Vec<_>>(), vec![0, 9]);
    assert_eq!(b.count(), 2);
    let err = b.restore(&[0x04, 0x00]);
    assert_eq!(
        err,
        Err(ServiceAllocError::CorruptSnapshot {
            offset: 10,
            max: 10
        })
    );
    // Unchanged after a refusal.
    assert_eq!(b.iter().collect::<Vec<_>>(), vec![0, 9]);
    // Huge garbage does not panic.
    assert!(b.restore(&vec![0xff; 100_000]).is_err());
}

#[test]
fn scan_crosses_words_and_summary_words() {
    // 5000 offsets: more than one summary word (4096 offsets each).
    let mut b = AllocationBitmap::new(5000, 0, 3);
    for o in 0..5000 {
        if o != 4321 {
            b.allocate(o);
        }
    }
    assert_eq!(b.allocate_next(), Some(4321));
    assert_eq!(b.allocate_next(), None);
    b.release(17);
    assert_eq!(b.allocate_next(), Some(17));
}
