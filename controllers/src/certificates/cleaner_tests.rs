use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::super::testing::*;
use super::*;

/// A certificate (signed by a throwaway CA) valid until `not_after`.
fn certificate_until(not_after: Timestamp) -> String {
    let ca = test_ca(now() + hours(24 * 365));
    let key = rcgen::KeyPair::generate().expect("test fixture");
    let mut params = rcgen::CertificateParams::default();
    params.not_before = to_time(now() - hours(48));
    params.not_after = to_time(not_after);
    let issuer = rcgen::Issuer::new(rcgen::CertificateParams::default(), &ca.key);
    params.signed_by(&key, &issuer).expect("test fixture").pem()
}

fn base(created_hours_ago: i64) -> CertificateSigningRequest {
    let mut c = csr(
        "kubernetes.io/kube-apiserver-client",
        "u",
        &["client auth"],
        "",
    );
    c.metadata.creation_timestamp = Some(Time(now() - hours(created_hours_ago)));
    c
}

#[test]
fn deadlines() {
    let ago = |h: i64| Some(now() - hours(h));
    let just_over_an_hour = Some(now() - hours(1) - SignedDuration::from_secs(1));
    let valid = certificate_until(now() + hours(24));
    let expired_cert = certificate_until(now() - hours(1));
    let approved_at = |c, t| with_condition(c, "Approved", "True", t);
    let cases: Vec<(&str, CertificateSigningRequest, Option<CleanReason>)> = vec![
        ("fresh pending", base(1), None),
        ("pending exactly 24h", base(24), None),
        (
            "pending over 24h",
            base(25),
            Some(CleanReason::PendingPastDeadline),
        ),
        (
            "no creation time",
            {
                let mut c = base(48);
                c.metadata.creation_timestamp = None;
                c
            },
            None,
        ),
        (
            "approved long ago, not issued",
            approved_at(base(48), ago(5)),
            None,
        ),
        (
            "issued, approved 30m ago",
            with_certificate(
                approved_at(base(2), Some(now() - SignedDuration::from_mins(30))),
                &valid,
            ),
            None,
        ),
        (
            "issued, approved exactly 1h ago",
            with_certificate(approved_at(base(2), ago(1)), &valid),
            None,
        ),
        (
            "issued, approved over 1h ago",
            with_certificate(approved_at(base(2), just_over_an_hour), &valid),
            Some(CleanReason::IssuedPastDeadline),
        ),
        (
            "issued, approval without time",
            with_certificate(approved_at(base(2), None), &valid),
            None,
        ),
        (
            "denied 30m ago",
            with_condition(
                base(2),
                "Denied",
                "True",
                Some(now() - SignedDuration::from_mins(30)),
            ),
            None,
        ),
        (
            "denied over 1h ago",
            with_condition(base(2), "Denied", "True", just_over_an_hour),
            Some(CleanReason::DeniedPastDeadline),
        ),
        (
            "denied without time, created long ago",
            with_condition(base(48), "Denied", "True", None),
            None,
        ),
        (
            "failed over 1h ago",
            with_condition(approved_at(base(2), ago(0)), "Failed", "True", ago(2)),
            Some(CleanReason::FailedPastDeadline),
        ),
        (
            "failed 10m ago",
            with_condition(
                base(2),
                "Failed",
                "True",
                Some(now() - SignedDuration::from_mins(10)),
            ),
            None,
        ),
        (
            "issued, expired certificate",
            with_certificate(approved_at(base(2), ago(0)), &expired_cert),
            Some(CleanReason::IssuedExpired),
        ),
        (
            "expired certificate but not approved",
            with_certificate(base(2), &expired_cert),
            None,
        ),
        (
            "unreadable certificate",
            with_certificate(approved_at(base(2), ago(0)), "garbage"),
            None,
        ),
        (
            "empty certificate counts as not issued",
            with_certificate(approved_at(base(2), ago(3)), ""),
            None,
        ),
        (
            "the issued deadline is checked first",
            with_certificate(
                with_condition(approved_at(base(48), ago(3)), "Denied", "True", ago(3)),
                &valid,
            ),
            Some(CleanReason::IssuedPastDeadline),
        ),
    ];
    for (name, csr, want) in cases {
        assert_eq!(expired(&csr, now()), want, "{name}");
    }
}

#[test]
fn expiry_is_measured_to_the_second() {
    let not_after = now() + hours(1);
    let csr = with_certificate(
        with_condition(
            base(0),
            "Approved",
            "True",
            Some(now() + SignedDuration::from_mins(30)),
        ),
        &certificate_until(not_after),
    );
    assert_eq!(expired(&csr, not_after), None);
    assert_eq!(
        expired(&csr, not_after + SignedDuration::from_millis(1)),
        Some(CleanReason::IssuedExpired)
    );
}
