use std::collections::BTreeMap;

use k8s_openapi::api::resource::v1::{Device, DeviceAttribute, DeviceCapacity};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::*;

fn gpu() -> CelDevice {
    let attr =
        |s: Option<&str>, i: Option<i64>, b: Option<bool>, v: Option<&str>| DeviceAttribute {
            string: s.map(str::to_owned),
            int: i,
            bool: b,
            version: v.map(str::to_owned),
        };
    let device = Device {
        name: "gpu-0".into(),
        attributes: Some(BTreeMap::from([
            (
                "productName".to_owned(),
                attr(Some("NVIDIA H100 80GB HBM3"), None, None, None),
            ),
            ("index".to_owned(), attr(None, Some(0), None, None)),
            ("mig".to_owned(), attr(None, None, Some(false), None)),
            (
                "driverVersion".to_owned(),
                attr(None, None, None, Some("550.54.15")),
            ),
            (
                "resource.kubernetes.io/pcieRoot".to_owned(),
                attr(Some("pci0000:00"), None, None, None),
            ),
        ])),
        capacity: Some(BTreeMap::from([(
            "memory".to_owned(),
            DeviceCapacity {
                value: Quantity("80Gi".into()),
                request_policy: None,
            },
        )])),
        ..Device::default()
    };
    CelDevice::new("gpu.nvidia.com", &device)
}

#[test]
fn selectors() {
    let cache = CelCache::default();
    let device = gpu();
    let cases: &[(&str, Result<bool, &str>)] = &[
        (r#"device.driver == "gpu.nvidia.com""#, Ok(true)),
        (r#"device.driver == "neuron.amazonaws.com""#, Ok(false)),
        (
            r#"device.attributes["gpu.nvidia.com"].productName.startsWith("NVIDIA H100")"#,
            Ok(true),
        ),
        (
            r#"device.attributes["gpu.nvidia.com"].productName == "NVIDIA A100""#,
            Ok(false),
        ),
        (
            r#"device.attributes["gpu.nvidia.com"].index == 0"#,
            Ok(true),
        ),
        (r#"!device.attributes["gpu.nvidia.com"].mig"#, Ok(true)),
        (
            r#"device.attributes["resource.kubernetes.io"].pcieRoot == "pci0000:00""#,
            Ok(true),
        ),
        (
            r#"has(device.attributes["gpu.nvidia.com"].productName)"#,
            Ok(true),
        ),
        (
            r#"has(device.attributes["gpu.nvidia.com"].nope)"#,
            Ok(false),
        ),
        (
            r#"has(device.attributes["other.example.com"].nope)"#,
            Ok(false),
        ),
        (
            r#""productName" in device.attributes["gpu.nvidia.com"]"#,
            Ok(true),
        ),
        (
            r#"device.capacity["gpu.nvidia.com"].memory.compareTo(quantity("40Gi")) >= 0"#,
            Ok(true),
        ),
        (
            r#"device.capacity["gpu.nvidia.com"].memory.compareTo(quantity("81Gi")) >= 0"#,
            Ok(false),
        ),
        (
            r#"device.capacity["gpu.nvidia.com"].memory.isGreaterThan(quantity("40Gi"))"#,
            Ok(true),
        ),
        (
            r#"device.capacity["gpu.nvidia.com"].memory.isLessThan(quantity("40Gi"))"#,
            Ok(false),
        ),
        (
            r#"device.capacity["gpu.nvidia.com"].memory == quantity("80Gi")"#,
            Ok(true),
        ),
        (
            r#"device.capacity["gpu.nvidia.com"].memory > quantity("79Gi")"#,
            Ok(true),
        ),
        (r#"quantity("1.5").isInteger()"#, Ok(false)),
        (r#"quantity("1k").asInteger() == 1000"#, Ok(true)),
        (
            r#"quantity("100m").add(quantity("900m")) == quantity("1")"#,
            Ok(true),
        ),
        (r#"quantity("2").sub(1) == quantity("1")"#, Ok(true)),
        (r#"quantity("-3").sign() == -1"#, Ok(true)),
        (
            r#"device.attributes["gpu.nvidia.com"].driverVersion.isGreaterThan(semver("550.0.0"))"#,
            Ok(true),
        ),
        (
            r#"device.attributes["gpu.nvidia.com"].driverVersion.compareTo(semver("560.1.0")) < 0"#,
            Ok(true),
        ),
        (
            r#"device.attributes["gpu.nvidia.com"].driverVersion.major() == 550"#,
            Ok(true),
        ),
        (
            r#"semver("1.0.0-alpha").isLessThan(semver("1.0.0"))"#,
            Ok(true),
        ),
        (r#"isSemver("1.2") "#, Ok(false)),
        (
            r#"device.attributes["gpu.nvidia.com"].exists(k, k == "index")"#,
            Ok(true),
        ),
        (
            r#"device.attributes["gpu.nvidia.com"].nope == 1"#,
            Err("CEL runtime error"),
        ),
        (
            r#"quantity("junk") == quantity("1")"#,
            Err("CEL runtime error"),
        ),
        (r#"device.driver"#, Err("CEL runtime error")),
        (
            r#"device.attributes["gpu.nvidia.com"].productName =="#,
            Err("CEL compile error"),
        ),
        (r#"device.("#, Err("CEL compile error")),
    ];
    for (expression, want) in cases {
        let got = cache.matches(expression, &device);
        match (want, &got) {
            (Ok(w), Ok(g)) => assert_eq!(w, g, "{expression}"),
            (Err(w), Err(e)) => assert!(e.to_string().starts_with(w), "{expression}: {e}"),
            _ => panic!("{expression}: want {want:?}, got {got:?}"),
        }
    }
    // Compiled once, served from the cache afterwards (failures too).
    let first = cache.compile("device.(");
    assert!(Arc::ptr_eq(&first, &cache.compile("device.(")));
}

#[test]
fn quantities_parse_exactly() {
    for (text, nanos) in [
        ("1", 1_000_000_000i128),
        ("100m", 100_000_000),
        ("1.5", 1_500_000_000),
        ("1Ki", 1_024_000_000_000),
        ("40Gi", 40 * (1i128 << 30) * 1_000_000_000),
        ("1e3", 1_000_000_000_000),
        ("1n", 1),
        ("-2", -2_000_000_000),
    ] {
        assert_eq!(CelQuantity::parse(text), Some(CelQuantity(nanos)), "{text}");
    }
    for bad in ["", "junk", "1.2.3", "5Zi", "."] {
        assert_eq!(CelQuantity::parse(bad), None, "{bad}");
    }
}

#[test]
fn semver_order() {
    let v = |s: &str| Semver::parse(s).expect("valid semver");
    assert!(v("1.2.3") < v("1.10.0"));
    assert!(v("1.0.0-alpha") < v("1.0.0-alpha.1"));
    assert!(v("1.0.0-alpha.1") < v("1.0.0-beta"));
    assert!(v("1.0.0-2") < v("1.0.0-11"));
    assert_eq!(v("1.0.0+build"), v("1.0.0"));
    for bad in ["1", "1.2", "01.2.3", "1.2.3.4", "a.b.c", "1.2.3-"] {
        assert!(Semver::parse(bad).is_none(), "{bad}");
    }
}

#[test]
fn one_compiled_selector_serves_many_devices() {
    let cache = CelCache::default();
    let device = gpu();
    let expression = r#"device.attributes["gpu.nvidia.com"].productName.startsWith("NVIDIA") && device.capacity["gpu.nvidia.com"].memory.compareTo(quantity("40Gi")) >= 0"#;
    for _ in 0..5000 {
        assert_eq!(cache.matches(expression, &device), Ok(true));
    }
}
