//! Levels, versions and the per-namespace policy read from the `pod-security.kubernetes.io/*`
//! labels, as upstream's `pod-security-admission/api/helpers.go`.

use std::collections::BTreeMap;
use std::fmt;

use super::text::{aggregate_messages, go_quote};

pub const ENFORCE_LEVEL_LABEL: &str = "pod-security.kubernetes.io/enforce";
pub const ENFORCE_VERSION_LABEL: &str = "pod-security.kubernetes.io/enforce-version";
pub const AUDIT_LEVEL_LABEL: &str = "pod-security.kubernetes.io/audit";
pub const AUDIT_VERSION_LABEL: &str = "pod-security.kubernetes.io/audit-version";
pub const WARN_LEVEL_LABEL: &str = "pod-security.kubernetes.io/warn";
pub const WARN_VERSION_LABEL: &str = "pod-security.kubernetes.io/warn-version";

/// Audit annotation keys carry the same prefix as the labels (upstream's in-tree plugin adds
/// it to every key the admission library returns).
pub const EXEMPT_ANNOTATION: &str = "pod-security.kubernetes.io/exempt";
pub const AUDIT_VIOLATIONS_ANNOTATION: &str = "pod-security.kubernetes.io/audit-violations";
pub const ENFORCE_POLICY_ANNOTATION: &str = "pod-security.kubernetes.io/enforce-policy";
pub const ERROR_ANNOTATION: &str = "pod-security.kubernetes.io/error";

const LEVEL_ERROR: &str = "must be one of privileged, baseline, restricted";
const VERSION_ERROR: &str = "must be \"latest\" or \"v1.x\"";

/// A Pod Security Standard. The order is strictness, as upstream's `CompareLevels`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    Privileged,
    Baseline,
    Restricted,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Privileged => "privileged",
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }

    /// Parses a label value; an unknown one is an error message as upstream's `ParseLevel`.
    pub fn parse(s: &str) -> Result<Level, &'static str> {
        match s {
            "privileged" => Ok(Level::Privileged),
            "baseline" => Ok(Level::Baseline),
            "restricted" => Ok(Level::Restricted),
            _ => Err(LEVEL_ERROR),
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A policy version: `v1.N` or `latest`. Only major version 1 exists, so a version is its
/// minor number. `Latest` sorts after every `v1.N`, future ones included, as upstream's
/// `Version.Older`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    V1(u64),
    Latest,
}

impl Version {
    /// Parses a label value as upstream's `ParseVersion`: `latest`, or `v1.` followed by a
    /// decimal number without leading zeros.
    pub fn parse(s: &str) -> Result<Version, &'static str> {
        if s == "latest" {
            return Ok(Version::Latest);
        }
        let minor = s.strip_prefix("v1.").ok_or(VERSION_ERROR)?;
        let digits_only = !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit());
        if !digits_only || (minor.len() > 1 && minor.starts_with('0')) {
            return Err(VERSION_ERROR);
        }
        // Go's strconv.Atoi fails past i64::MAX; such a label is invalid there too.
        let minor = minor.parse::<i64>().map_err(|_| VERSION_ERROR)?;
        u64::try_from(minor)
            .map(Version::V1)
            .map_err(|_| VERSION_ERROR)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Version::Latest => f.write_str("latest"),
            Version::V1(minor) => write!(f, "v1.{minor}"),
        }
    }
}

/// The standard a pod is evaluated against, printed `restricted:latest`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LevelVersion {
    pub level: Level,
    pub version: Version,
}

impl LevelVersion {
    pub const fn new(level: Level, version: Version) -> LevelVersion {
        LevelVersion { level, version }
    }

    /// Both privileged (whatever the versions), or the same level and version.
    pub fn equivalent(&self, other: &LevelVersion) -> bool {
        (self.level == Level::Privileged && other.level == Level::Privileged) || self == other
    }
}

impl fmt::Display for LevelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.level, self.version)
    }
}

/// The three modes of a namespace's policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub enforce: LevelVersion,
    pub audit: LevelVersion,
    pub warn: LevelVersion,
}

impl Default for Policy {
    /// Upstream's default configuration: every mode `privileged:latest`.
    fn default() -> Policy {
        let privileged = LevelVersion::new(Level::Privileged, Version::Latest);
        Policy {
            enforce: privileged,
            audit: privileged,
            warn: privileged,
        }
    }
}

impl Policy {
    pub fn fully_privileged(&self) -> bool {
        self.enforce.level == Level::Privileged
            && self.audit.level == Level::Privileged
            && self.warn.level == Level::Privileged
    }

    pub fn equivalent(&self, other: &Policy) -> bool {
        self.enforce.equivalent(&other.enforce)
            && self.audit.equivalent(&other.audit)
            && self.warn.equivalent(&other.warn)
    }
}

/// An invalid policy label: `metadata.labels[<label>]: Invalid value: "<value>": <detail>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelError {
    pub label: &'static str,
    pub value: String,
    pub detail: &'static str,
}

impl LabelError {
    /// The field path of the status cause, `metadata.labels[pod-security.kubernetes.io/enforce]`.
    pub fn field(&self) -> String {
        format!("metadata.labels[{}]", self.label)
    }
}

impl fmt::Display for LabelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: Invalid value: {}: {}",
            self.field(),
            go_quote(&self.value),
            self.detail
        )
    }
}

impl std::error::Error for LabelError {}

/// The errors as one message, as `field.ErrorList.ToAggregate().Error()`.
pub fn label_errors_message(errors: &[LabelError]) -> String {
    aggregate_messages(&errors.iter().map(ToString::to_string).collect::<Vec<_>>())
}

/// Resolves a namespace's labels to its policy, as upstream's `api.PolicyToEvaluate`.
///
/// A policy is always returned, errors or not: an invalid enforce level is `restricted`
/// (fail closed), an invalid audit or warn level is `privileged` (fail open) and an invalid
/// version is `latest`. When the enforce level is set explicitly and warn is not, warn is
/// raised to the enforce level (and version, unless the warn version is set).
pub fn policy_to_evaluate(
    labels: Option<&BTreeMap<String, String>>,
    defaults: &Policy,
) -> (Policy, Vec<LabelError>) {
    let mut policy = *defaults;
    let mut errors = Vec::new();
    let Some(labels) = labels.filter(|l| !l.is_empty()) else {
        return (policy, errors);
    };
    let mut error = |label: &'static str, value: &str, detail: &'static str| {
        errors.push(LabelError {
            label,
            value: value.to_string(),
            detail,
        });
    };

    let mut has_enforce_level = false;
    if let Some(value) = labels.get(ENFORCE_LEVEL_LABEL) {
        policy.enforce.level = Level::parse(value).unwrap_or_else(|detail| {
            error(ENFORCE_LEVEL_LABEL, value, detail);
            Level::Restricted
        });
        has_enforce_level = Level::parse(value).is_ok();
    }
    if let Some(value) = labels.get(ENFORCE_VERSION_LABEL) {
        policy.enforce.version = parse_version_or_latest(value, ENFORCE_VERSION_LABEL, &mut error);
    }
    if let Some(value) = labels.get(AUDIT_LEVEL_LABEL) {
        policy.audit.level = Level::parse(value).unwrap_or_else(|detail| {
            error(AUDIT_LEVEL_LABEL, value, detail);
            Level::Privileged
        });
    }
    if let Some(value) = labels.get(AUDIT_VERSION_LABEL) {
        policy.audit.version = parse_version_or_latest(value, AUDIT_VERSION_LABEL, &mut error);
    }
    let has_warn_level = labels.contains_key(WARN_LEVEL_LABEL);
    if let Some(value) = labels.get(WARN_LEVEL_LABEL) {
        policy.warn.level = Level::parse(value).unwrap_or_else(|detail| {
            error(WARN_LEVEL_LABEL, value, detail);
            Level::Privileged
        });
    }
    let has_warn_version = labels.contains_key(WARN_VERSION_LABEL);
    if let Some(value) = labels.get(WARN_VERSION_LABEL) {
        policy.warn.version = parse_version_or_latest(value, WARN_VERSION_LABEL, &mut error);
    }

    if !has_warn_level && has_enforce_level && policy.enforce.level > policy.warn.level {
        policy.warn.level = policy.enforce.level;
        if !has_warn_version {
            policy.warn.version = policy.enforce.version;
        }
    }
    (policy, errors)
}

fn parse_version_or_latest(
    value: &str,
    label: &'static str,
    error: &mut impl FnMut(&'static str, &str, &'static str),
) -> Version {
    Version::parse(value).unwrap_or_else(|detail| {
        error(label, value, detail);
        Version::Latest
    })
}
