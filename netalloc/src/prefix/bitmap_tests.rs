use super::bitmap::Bitmap;
use proptest::prelude::*;
use std::collections::BTreeSet;

#[test]
fn allocates_every_slot_once_then_reports_full() {
    for len in [0u32, 1, 5, 63, 64, 65, 128, 200, 4096 + 3] {
        let mut map = Bitmap::new(len);
        let mut seen = BTreeSet::new();
        while let Some(slot) = map.allocate() {
            assert!(slot < len);
            assert!(
                seen.insert(slot),
                "slot {slot} handed out twice (len {len})"
            );
        }
        assert_eq!(seen.len() as u32, len);
        assert_eq!(map.free(), 0);
        assert_eq!(map.used(), len);
    }
}

#[test]
fn next_fit_does_not_reuse_a_fresh_release_first() {
    let mut map = Bitmap::new(8);
    let a = map.allocate().expect("must succeed");
    let b = map.allocate().expect("must succeed");
    assert_eq!((a, b), (0, 1));
    assert!(map.clear(a));
    assert_eq!(map.allocate(), Some(2), "continues after the last grant");
    for _ in 3..8 {
        map.allocate().expect("must succeed");
    }
    assert_eq!(map.allocate(), Some(0), "wraps around to the freed slot");
    assert_eq!(map.allocate(), None);
}

#[test]
fn set_and_clear_report_changes_and_bounds() {
    let mut map = Bitmap::new(70);
    assert!(map.set(69));
    assert!(!map.set(69));
    assert!(!map.set(70), "past the end");
    assert!(map.is_set(69));
    assert!(!map.is_set(1000));
    assert!(map.clear(69));
    assert!(!map.clear(69));
    assert!(!map.clear(5000));
    assert_eq!(map.free(), 70);
}

#[test]
fn hex_round_trips_and_drops_trailing_zero_words() {
    let mut map = Bitmap::new(200);
    assert_eq!(map.to_hex(), "");
    map.set(0);
    map.set(65);
    assert_eq!(map.to_hex(), "00000000000000010000000000000002");
    let back = Bitmap::from_hex(200, &map.to_hex()).expect("must succeed");
    assert_eq!(back, map);
}

#[test]
fn hex_garbage_is_refused() {
    for (len, hex) in [
        (64, "0"),
        (64, "zzzzzzzzzzzzzzzz"),
        (64, "00000000000000010000000000000000"),
        (3, "0000000000000008"),
        (64, "+000000000000001"),
        (64, "ééééééééé"),
    ] {
        assert!(
            Bitmap::from_hex(len, hex).is_err(),
            "{hex:?} for {len} slots"
        );
    }
}

proptest! {
    #[test]
    fn never_hands_out_an_allocated_slot(len in 0u32..300, ops in prop::collection::vec(any::<(bool, u16)>(), 0..400)) {
        let mut map = Bitmap::new(len);
        let mut model = BTreeSet::new();
        for (alloc, pick) in ops {
            if alloc || model.is_empty() {
                match map.allocate() {
                    Some(slot) => prop_assert!(model.insert(slot), "slot {} twice", slot),
                    None => prop_assert_eq!(model.len() as u32, len),
                }
            } else {
                let slot = *model.iter().nth(pick as usize % model.len()).expect("must succeed");
                model.remove(&slot);
                prop_assert!(map.clear(slot));
            }
            prop_assert_eq!(map.used() as usize, model.len());
            let set: BTreeSet<u32> = map.iter_set().collect();
            prop_assert_eq!(&set, &model);
        }
        prop_assert_eq!(Bitmap::from_hex(len, &map.to_hex()).map(|m| m.iter_set().collect::<BTreeSet<_>>()), Ok(model));
    }
}
