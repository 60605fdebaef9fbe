//! The signing policy: durations, validity periods, usages, the failure condition.

use super::super::testing::*;
use super::*;

const YEAR: i64 = 24 * 365;

fn secs(s: i64) -> SignedDuration {
    SignedDuration::from_secs(s)
}

#[test]
fn expiration_seconds_within_bounds() {
    let max = Duration::from_secs(3 * 3600 * 24);
    let cases = [
        (None, max),
        (Some(3600), Duration::from_secs(3600)),
        (Some(600), Duration::from_secs(600)),
        (Some(599), MIN_DURATION),
        (Some(0), MIN_DURATION),
        (Some(-5), MIN_DURATION),
        (Some(i32::MAX), max),
        (Some(3 * 3600 * 24), max),
    ];
    for (asked, want) in cases {
        assert_eq!(duration(asked, max), want, "{asked:?}");
    }
    assert_eq!(duration(None, DEFAULT_MAX_DURATION).as_secs(), 8760 * 3600);
}

/// (name, ttl, CA end, expected period).
type ValidityCase = (
    &'static str,
    Duration,
    Timestamp,
    Result<(Timestamp, Timestamp), SignError>,
);

#[test]
fn validity_periods() {
    let n = now();
    let far = n + hours(YEAR * 10);
    let h = |x: u64| Duration::from_secs(x * 3600);
    let cases: Vec<ValidityCase> = vec![
        (
            "long: end backdated too",
            h(24),
            far,
            Ok((n - secs(300), n - secs(300) + hours(24))),
        ),
        (
            "exactly 8h counts as long",
            h(8),
            far,
            Ok((n - secs(300), n - secs(300) + hours(8))),
        ),
        (
            "short: end not backdated",
            Duration::from_secs(600),
            far,
            Ok((n - secs(300), n + secs(600))),
        ),
        (
            "capped at the CA",
            h(24),
            n + hours(2),
            Ok((n - secs(300), n + hours(2))),
        ),
        (
            "CA ends within the backdate",
            h(24),
            n - secs(100),
            Err(SignError::ExpiredInThePast(n - secs(100))),
        ),
        ("CA ends now", h(24), n, Err(SignError::ExpiredInThePast(n))),
        (
            "CA long expired",
            h(24),
            n - hours(1),
            Err(SignError::SignerExpired(n - hours(1))),
        ),
    ];
    for (name, ttl, ca_end, want) in cases {
        assert_eq!(validity(n, ttl, ca_end), want, "{name}");
    }
    // Sub-second clocks are cut to the second, as X.509 times are.
    let (nb, _) = validity(n + SignedDuration::from_millis(900), h(24), far).expect("test fixture");
    assert_eq!(nb, n - secs(300));
}

#[test]
fn usages_map_as_upstream() {
    use ExtendedKeyUsagePurpose as E;
    use KeyUsagePurpose as K;
    let strs = |u: &[&str]| u.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let (k, e) = key_usages(&strs(&[
        "netscape sgc",
        "s/mime",
        "signing",
        "digital signature",
        "client auth",
        "email protection",
        "any",
        "ipsec user",
        "cert sign",
        "timestamping",
    ]))
    .expect("test fixture");
    assert_eq!(k, [K::DigitalSignature, K::KeyCertSign]);
    assert_eq!(
        e,
        [
            E::Any,
            E::ClientAuth,
            E::EmailProtection,
            E::Other(vec![1, 3, 6, 1, 5, 5, 7, 3, 7]),
            E::TimeStamping,
            E::Other(vec![2, 16, 840, 1, 113730, 4, 1]),
        ]
    );
    assert_eq!(key_usages(&[]).expect("test fixture"), (vec![], vec![]));
    assert_eq!(
        key_usages(&strs(&["client auth", "bogus", "worse"])),
        Err(SignError::UnrecognizedUsages(strs(&["bogus", "worse"])))
    );
}

#[test]
fn failed_condition_fields() {
    let c = failed_condition(SIGNER_VALIDATION_FAILURE, "no", now());
    assert_eq!(c.type_, "Failed");
    assert_eq!(c.status, "True");
    assert_eq!(c.reason.as_deref(), Some("SignerValidationFailure"));
    assert_eq!(c.message.as_deref(), Some("no"));
    assert_eq!(c.last_update_time.map(|t| t.0), Some(now()));
}
