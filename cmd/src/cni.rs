//! `ultrak8s cni`: a CNI IPAM plugin that hands pods addresses out of their node's prefixes
//! (`ultrak8s_netalloc::prefix::NodeAddresses`), for the main plugin (bridge, ptp, ...) to put
//! on the pod's interface.
//!
//! It runs as the CNI spec's execution protocol says (containernetworking/cni `SPEC.md`,
//! versions 0.3.0 to 1.1.0): the verb and the container come in `CNI_*` environment variables,
//! the network configuration as JSON on stdin; the result, or an error object with a numeric
//! code, goes to stdout, and a failure exits non-zero. Logs go to stderr only (the runtime
//! parses stdout). Install it by linking the binary as `ultrak8s-cni` into the CNI bin
//! directory: invoked under that name it is the plugin, as `ultrak8s cni` is.
//!
//! Where things go:
//! - this file: the protocol (environment, verbs, error object, exit status);
//! - `config.rs`: the network configuration and its `ipam` object;
//! - `ipam.rs`: the verbs over the state (reserved addresses, prefix changes, dual stack);
//! - `store.rs`: the state files under `dataDir/<network>/` and their `flock`;
//! - `result.rs`: the result JSON in the shape each spec version wants;
//! - `node.rs`: the node's prefixes read from its Node object (the `kubeconfig` form).
//!
//! Departures from upstream's host-local plugin (containernetworking/plugins
//! `plugins/ipam/host-local`): one JSON snapshot per address family instead of one file per
//! address; `CNI_ARGS` `IP=` requests and `rangeStart`/`rangeEnd` are not supported; and
//! `CNI_PATH` is not required, as this plugin executes nothing.

mod config;
mod ipam;
mod node;
mod result;
mod store;

#[cfg(test)]
mod tests;

use std::io::{Read, Write};

use config::NetConf;

/// Where the node-IPAM controller records every prefix of a Node (comma-separated).
pub use ultrak8s_controllers::nodeipam::PREFIXES_ANNOTATION;

/// The plugin's name, as the `type` of an `ipam` object and as the installed binary.
pub const PLUGIN_NAME: &str = "ultrak8s-cni";

/// The spec versions whose configuration and result formats this plugin speaks.
pub const SUPPORTED_VERSIONS: &[&str] = &["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];

/// The version of error objects when the configuration names none we know.
const DEFAULT_VERSION: &str = "1.0.0";

/// The CNI spec's well-known error codes (`SPEC.md`, "Error"), plus this plugin's own (100+).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    IncompatibleVersion = 1,
    InvalidEnv = 4,
    Io = 5,
    Decode = 6,
    InvalidConfig = 7,
    TryAgainLater = 11,
    /// STATUS: no address is left to hand out.
    NotAvailable = 50,
    /// CHECK: the container has no recorded address, or not the one its result names.
    CheckFailed = 100,
    /// A state file that does not parse or contradicts itself; it is left for a person.
    CorruptState = 101,
}

/// A failed invocation: the CNI error object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CniError {
    pub code: Code,
    pub msg: String,
    pub details: String,
}

impl CniError {
    pub fn new(code: Code, msg: impl Into<String>, details: impl Into<String>) -> CniError {
        CniError {
            code,
            msg: msg.into(),
            details: details.into(),
        }
    }

    /// The error object of the spec (`details` omitted when empty, as libcni's `types.Error`).
    pub fn to_json(&self, cni_version: &str) -> serde_json::Value {
        let mut value = serde_json::json!({
            "cniVersion": cni_version,
            "code": self.code as u32,
            "msg": self.msg,
        });
        if !self.details.is_empty() {
            value["details"] = self.details.clone().into();
        }
        value
    }
}

/// `CNI_COMMAND`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Add,
    Del,
    Check,
    Version,
    Gc,
    Status,
}

/// What the runtime passed in the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    pub verb: Verb,
    /// `CNI_CONTAINERID` and `CNI_IFNAME`: required for ADD, DEL and CHECK.
    pub container_id: Option<String>,
    pub ifname: Option<String>,
    /// `CNI_NETNS`: required for ADD and CHECK (as libcni's `skel`), unused otherwise.
    pub netns: Option<String>,
    /// `CNI_ARGS` as `KEY=VALUE` pairs (`K8S_POD_NAMESPACE`, `K8S_POD_NAME`, ...), for logs.
    pub args: Vec<(String, String)>,
}

impl Invocation {
    /// Reads the `CNI_*` variables through `get` (the process environment, or a test's map).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Invocation, CniError> {
        let get = |name: &str| get(name).filter(|v| !v.is_empty());
        let missing = |name: &str| {
            CniError::new(
                Code::InvalidEnv,
                format!("{name} env variable missing"),
                String::new(),
            )
        };
        let command = get("CNI_COMMAND").ok_or_else(|| missing("CNI_COMMAND"))?;
        let verb = match command.as_str() {
            "ADD" => Verb::Add,
            "DEL" => Verb::Del,
            "CHECK" => Verb::Check,
            "VERSION" => Verb::Version,
            "GC" => Verb::Gc,
            "STATUS" => Verb::Status,
            other => {
                return Err(CniError::new(
                    Code::InvalidEnv,
                    format!("unknown CNI_COMMAND: {other}"),
                    "expected ADD, DEL, CHECK, VERSION, GC or STATUS",
                ));
            }
        };
        let attachment = matches!(verb, Verb::Add | Verb::Del | Verb::Check);
        let container_id = get("CNI_CONTAINERID");
        let ifname = get("CNI_IFNAME");
        let netns = get("CNI_NETNS");
        if attachment {
            let id = container_id
                .as_deref()
                .ok_or_else(|| missing("CNI_CONTAINERID"))?;
            if !valid_container_id(id) {
                return Err(CniError::new(
                    Code::InvalidEnv,
                    format!("invalid CNI_CONTAINERID {id:?}"),
                    "it must start with a letter or digit, followed by letters, digits, '_', '.' or '-'",
                ));
            }
            let name = ifname.as_deref().ok_or_else(|| missing("CNI_IFNAME"))?;
            if !valid_ifname(name) {
                return Err(CniError::new(
                    Code::InvalidEnv,
                    format!("invalid CNI_IFNAME {name:?}"),
                    "an interface name has 1 to 15 characters, none of them '/', ':' or a space, and is not '.' or '..'",
                ));
            }
        }
        if matches!(verb, Verb::Add | Verb::Check) && netns.is_none() {
            return Err(missing("CNI_NETNS"));
        }
        let args = parse_args(get("CNI_ARGS").as_deref().unwrap_or(""))?;
        Ok(Invocation {
            verb,
            container_id,
            ifname,
            netns,
            args,
        })
    }

    /// The key of this attachment in the state: "container-id/ifname", as the VPC CNI's
    /// `IPAMKey` (a pod with two interfaces on one network gets two addresses).
    pub fn key(&self) -> Option<String> {
        Some(format!(
            "{}/{}",
            self.container_id.as_deref()?,
            self.ifname.as_deref()?
        ))
    }

    fn arg(&self, name: &str) -> &str {
        self.args
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

/// The spec's rule for container ids: `^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$`.
fn valid_container_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Linux's rule for interface names (`dev_valid_name`), as the spec asks.
fn valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace())
}

/// `CNI_ARGS`: "K=V;K2=V2"; a pair without '=' is an error, as libcni's `LoadArgs` says.
fn parse_args(text: &str) -> Result<Vec<(String, String)>, CniError> {
    text.split(';')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            pair.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| {
                    CniError::new(
                        Code::InvalidEnv,
                        format!("invalid CNI_ARGS pair {pair:?}"),
                        "CNI_ARGS is a ';'-separated list of KEY=VALUE pairs",
                    )
                })
        })
        .collect()
}

/// What an invocation writes to stdout on success (DEL, CHECK, GC and STATUS write nothing).
pub type Output = Option<serde_json::Value>;

/// Runs one invocation: `stdin` is the network configuration. On failure, the error and the
/// version to write it in.
pub fn invoke(
    get_env: impl Fn(&str) -> Option<String>,
    stdin: &[u8],
) -> Result<Output, (CniError, String)> {
    // The version first, so that even an environment error is written in the caller's version.
    let version = config::requested_version(stdin)
        .filter(|v| SUPPORTED_VERSIONS.contains(&v.as_str()))
        .unwrap_or_else(|| DEFAULT_VERSION.to_owned());
    let fail = |e: CniError| (e, version.clone());
    let invocation = Invocation::from_env(get_env).map_err(fail)?;
    if invocation.verb == Verb::Version {
        return Ok(Some(serde_json::json!({
            "cniVersion": version,
            "supportedVersions": SUPPORTED_VERSIONS,
        })));
    }
    let conf = NetConf::parse(stdin).map_err(fail)?;
    config::require_verb(&conf.cni_version, invocation.verb).map_err(fail)?;
    tracing::debug!(
        verb = ?invocation.verb,
        network = %conf.name,
        container = invocation.container_id.as_deref().unwrap_or(""),
        pod = %format!("{}/{}", invocation.arg("K8S_POD_NAMESPACE"), invocation.arg("K8S_POD_NAME")),
        "ultrak8s-cni"
    );
    let store = store::Store::new(&conf.ipam.data_dir, &conf.name);
    let key = invocation.key();
    let key = key.as_deref().unwrap_or("");
    match invocation.verb {
        Verb::Add => {
            let prefixes = node::prefixes(&conf.ipam).map_err(fail)?;
            let assigned = ipam::add(&store, &conf.ipam, &prefixes, key).map_err(fail)?;
            Ok(Some(result::render(
                &conf.cni_version,
                &conf.ipam,
                &assigned,
            )))
        }
        Verb::Del => ipam::del(&store, key).map(|()| None).map_err(fail),
        Verb::Check => ipam::check(&store, key, conf.prev_result.as_ref())
            .map(|()| None)
            .map_err(fail),
        Verb::Gc => ipam::gc(&store, &conf.valid_attachments)
            .map(|()| None)
            .map_err(fail),
        Verb::Status => {
            let prefixes = node::prefixes(&conf.ipam).map_err(fail)?;
            ipam::status(&store, &conf.ipam, &prefixes)
                .map(|()| None)
                .map_err(fail)
        }
        Verb::Version => Ok(None),
    }
}

/// True when the binary was started as `ultrak8s-cni` (a link in the CNI bin directory).
pub fn invoked_as_plugin() -> bool {
    std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n == PLUGIN_NAME))
        .unwrap_or(false)
}

/// The plugin's `main`: reads stdin and the environment, writes stdout, returns the exit status.
pub fn run() -> i32 {
    let mut stdin = Vec::new();
    let outcome = match std::io::stdin().read_to_end(&mut stdin) {
        Ok(_) => invoke(|name| std::env::var(name).ok(), &stdin),
        Err(e) => Err((
            CniError::new(
                Code::Io,
                "reading the network configuration from stdin",
                e.to_string(),
            ),
            DEFAULT_VERSION.to_owned(),
        )),
    };
    let (text, status) = match outcome {
        Ok(None) => (None, 0),
        Ok(Some(value)) => (Some(value), 0),
        Err((error, version)) => {
            tracing::warn!(code = error.code as u32, msg = %error.msg, details = %error.details, "ultrak8s-cni failed");
            (Some(error.to_json(&version)), 1)
        }
    };
    if let Some(value) = text {
        let mut out = std::io::stdout().lock();
        // Nothing to do if the runtime closed our stdout: the exit status still tells it.
        let _ = serde_json::to_writer_pretty(&mut out, &value);
        let _ = out.write_all(b"\n");
        let _ = out.flush();
    }
    status
}
