//! The result of a plugin call: one of the six upstream codes (plus `Pending`, which only
//! PreEnqueue returns), the reasons a user reads in the pod's events and conditions, and the
//! plugin that answered (upstream `pkg/scheduler/framework/interface.go`, `Code`).

/// What a plugin's answer means for the pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    Success,
    /// Something went wrong inside the plugin or with the API: retried with backoff.
    Error,
    /// This node does not fit now; preemption may make it fit.
    Unschedulable,
    /// This node does not fit, and preempting pods cannot change that (a taint, a node
    /// selector): preemption skips the node.
    UnschedulableAndUnresolvable,
    /// Permit only: the pod waits (gang scheduling) until allowed, rejected or timed out.
    Wait,
    /// PreFilter/PreScore only: the plugin has nothing to do for this pod, so its Filter or
    /// Score is not called.
    Skip,
    /// PreEnqueue and Permit: the pod waits for something outside the scheduler (a gang
    /// that is not complete yet); it is retried when a registered event arrives.
    Pending,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub code: Code,
    pub reasons: Vec<String>,
    /// The plugin that returned this status (empty for the framework's own).
    pub plugin: &'static str,
}

impl Status {
    pub const fn success() -> Status {
        Status {
            code: Code::Success,
            reasons: Vec::new(),
            plugin: "",
        }
    }

    pub fn new(code: Code, reason: impl Into<String>) -> Status {
        Status {
            code,
            reasons: vec![reason.into()],
            plugin: "",
        }
    }

    pub fn error(reason: impl Into<String>) -> Status {
        Status::new(Code::Error, reason)
    }

    pub fn unschedulable(reason: impl Into<String>) -> Status {
        Status::new(Code::Unschedulable, reason)
    }

    pub fn unresolvable(reason: impl Into<String>) -> Status {
        Status::new(Code::UnschedulableAndUnresolvable, reason)
    }

    pub const fn skip() -> Status {
        Status {
            code: Code::Skip,
            reasons: Vec::new(),
            plugin: "",
        }
    }

    pub fn with_plugin(mut self, plugin: &'static str) -> Status {
        self.plugin = plugin;
        self
    }

    pub fn is_success(&self) -> bool {
        self.code == Code::Success
    }

    pub fn is_skip(&self) -> bool {
        self.code == Code::Skip
    }

    /// Unschedulable or unresolvable: the pod does not fit, nothing broke.
    pub fn is_rejected(&self) -> bool {
        matches!(
            self.code,
            Code::Unschedulable | Code::UnschedulableAndUnresolvable | Code::Pending
        )
    }

    /// The reasons joined, as upstream's `Status.Message`.
    pub fn message(&self) -> String {
        self.reasons.join(", ")
    }
}
