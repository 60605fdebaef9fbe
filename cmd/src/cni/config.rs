//! The network configuration on stdin, and its `ipam` object:
//!
//! ```json
//! {"cniVersion": "1.0.0", "name": "pods", "type": "bridge", "isGateway": true,
//!  "ipam": {"type": "ultrak8s-cni", "prefixes": ["10.0.1.0/28", "10.0.1.16/28"],
//!           "dataDir": "/var/lib/cni/networks", "routes": [{"dst": "0.0.0.0/0"}],
//!           "gateway": "10.0.1.1", "routed": false}}
//! ```
//!
//! or, instead of (or beside) `prefixes`, `"kubeconfig": "/etc/cni/net.d/ultrak8s.kubeconfig"`
//! and `"nodeName"` (default: the host name) to read the node's prefixes from its Node.
//!
//! Addressing: by default a prefix is a link, as host-local's subnets are: a pod's address
//! carries the prefix's length ("10.0.1.5/28"), its network and (IPv4) broadcast address are
//! never handed out, nor its gateway (`gateway` if it lies in the prefix, else the prefix's
//! first host address, host-local's and the bridge plugin's default). With `"routed": true`
//! the prefixes are routed to the node as the VPC CNI's are: every address is a pod's, each
//! as a /32 (/128), and `gateway` (if any) is only reported.
//!
//! Malformed JSON is error 6 (decode); JSON of the wrong shape or with bad values is 7.

use std::net::IpAddr;
use std::path::PathBuf;

use ultrak8s_netalloc::cidr::{Cidr, Family};

use super::{CniError, Code, SUPPORTED_VERSIONS, Verb};

/// host-local's default state directory.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/cni/networks";

/// The parts of the network configuration this plugin reads.
#[derive(Clone, Debug, PartialEq)]
pub struct NetConf {
    pub cni_version: String,
    pub name: String,
    pub ipam: IpamConf,
    /// CHECK: the result of the ADD being checked.
    pub prev_result: Option<serde_json::Value>,
    /// GC: the attachments still in use, as "container-id/ifname" keys.
    pub valid_attachments: Vec<String>,
}

/// The `ipam` object, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct IpamConf {
    pub prefixes: Vec<Cidr>,
    pub data_dir: PathBuf,
    pub routes: Vec<Route>,
    pub gateway: Option<IpAddr>,
    pub routed: bool,
    pub kubeconfig: Option<PathBuf>,
    pub node_name: Option<String>,
}

/// A route for the pod, as the spec's result carries it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Route {
    pub dst: Cidr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gw: Option<IpAddr>,
}

#[derive(serde::Deserialize)]
struct RawConf {
    #[serde(rename = "cniVersion", default)]
    cni_version: String,
    #[serde(default)]
    name: String,
    ipam: Option<RawIpam>,
    #[serde(rename = "prevResult")]
    prev_result: Option<serde_json::Value>,
    #[serde(rename = "cni.dev/valid-attachments", default)]
    valid_attachments: Vec<RawAttachment>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawIpam {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    prefixes: Vec<String>,
    data_dir: Option<PathBuf>,
    #[serde(default)]
    routes: Vec<RawRoute>,
    gateway: Option<String>,
    #[serde(default)]
    routed: bool,
    kubeconfig: Option<PathBuf>,
    node_name: Option<String>,
}

#[derive(serde::Deserialize)]
struct RawRoute {
    dst: String,
    gw: Option<String>,
}

#[derive(serde::Deserialize)]
struct RawAttachment {
    #[serde(rename = "containerID")]
    container_id: String,
    ifname: String,
}

fn invalid(msg: impl Into<String>, details: impl Into<String>) -> CniError {
    CniError::new(Code::InvalidConfig, msg, details)
}

/// The `cniVersion` of stdin, if it is a JSON object that names one.
pub fn requested_version(stdin: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(stdin).ok()?;
    value.get("cniVersion")?.as_str().map(str::to_owned)
}

/// Refuses verbs the configuration's spec version does not have (CHECK came with 0.4.0, GC
/// and STATUS with 1.1.0), as libcni's `skel` does.
pub fn require_verb(version: &str, verb: Verb) -> Result<(), CniError> {
    let since = match verb {
        Verb::Check => "0.4.0",
        Verb::Gc | Verb::Status => "1.1.0",
        _ => return Ok(()),
    };
    let index = |v: &str| SUPPORTED_VERSIONS.iter().position(|s| *s == v);
    if index(version) < index(since) {
        return Err(CniError::new(
            Code::IncompatibleVersion,
            format!("config version {version} does not allow {verb:?}"),
            format!("{verb:?} needs cniVersion {since} or later"),
        ));
    }
    Ok(())
}

impl NetConf {
    /// Parses and validates stdin.
    pub fn parse(stdin: &[u8]) -> Result<NetConf, CniError> {
        let value: serde_json::Value = serde_json::from_slice(stdin).map_err(|e| {
            CniError::new(
                Code::Decode,
                "the network configuration is not JSON",
                e.to_string(),
            )
        })?;
        let raw: RawConf = serde_json::from_value(value)
            .map_err(|e| invalid("the network configuration is not valid", e.to_string()))?;
        if !SUPPORTED_VERSIONS.contains(&raw.cni_version.as_str()) {
            return Err(CniError::new(
                Code::IncompatibleVersion,
                format!("incompatible CNI version {:?}", raw.cni_version),
                format!("supported versions: {}", SUPPORTED_VERSIONS.join(", ")),
            ));
        }
        if !valid_network_name(&raw.name) {
            return Err(invalid(
                format!("invalid network name {:?}", raw.name),
                "a network name starts with a letter or digit, followed by letters, digits, '_', '.' or '-'",
            ));
        }
        let ipam = raw
            .ipam
            .ok_or_else(|| invalid("the network configuration has no \"ipam\" object", ""))?;
        let valid_attachments = raw
            .valid_attachments
            .into_iter()
            .map(|a| format!("{}/{}", a.container_id, a.ifname))
            .collect();
        Ok(NetConf {
            cni_version: raw.cni_version,
            name: raw.name,
            ipam: IpamConf::validate(ipam)?,
            prev_result: raw.prev_result,
            valid_attachments,
        })
    }
}

/// The spec's rule for network names; it also keeps `dataDir/<name>` inside `dataDir`.
fn valid_network_name(name: &str) -> bool {
    super::valid_container_id(name)
}

fn parse_ip(what: &str, text: &str) -> Result<IpAddr, CniError> {
    text.parse()
        .map_err(|_| invalid(format!("{what} {text:?} is not an IP address"), ""))
}

fn parse_cidr(what: &str, text: &str) -> Result<Cidr, CniError> {
    text.parse::<Cidr>()
        .map_err(|e| invalid(format!("{what} {text:?} is not valid"), e.to_string()))
}

impl IpamConf {
    fn validate(raw: RawIpam) -> Result<IpamConf, CniError> {
        if !raw.kind.is_empty() && raw.kind != super::PLUGIN_NAME {
            return Err(invalid(
                format!("ipam type {:?} is not {}", raw.kind, super::PLUGIN_NAME),
                "",
            ));
        }
        let prefixes = raw
            .prefixes
            .iter()
            .map(|p| parse_cidr("prefix", p))
            .collect::<Result<Vec<_>, _>>()?;
        if prefixes.is_empty() && raw.kubeconfig.is_none() {
            return Err(invalid(
                "the ipam object names no prefixes",
                "give \"prefixes\", or \"kubeconfig\" (and \"nodeName\") to read them from the Node",
            ));
        }
        let routes = raw
            .routes
            .iter()
            .map(|r| {
                Ok(Route {
                    dst: parse_cidr("route destination", &r.dst)?,
                    gw: r
                        .gw
                        .as_deref()
                        .map(|g| parse_ip("route gateway", g))
                        .transpose()?,
                })
            })
            .collect::<Result<Vec<_>, CniError>>()?;
        let gateway = raw
            .gateway
            .as_deref()
            .map(|g| parse_ip("gateway", g))
            .transpose()?;
        Ok(IpamConf {
            prefixes,
            data_dir: raw.data_dir.unwrap_or_else(|| DEFAULT_DATA_DIR.into()),
            routes,
            gateway,
            routed: raw.routed,
            kubeconfig: raw.kubeconfig,
            node_name: raw.node_name.filter(|n| !n.is_empty()),
        })
    }

    /// The gateway a pod with an address in `prefix` is told about.
    pub fn gateway_for(&self, prefix: &Cidr) -> Option<IpAddr> {
        let explicit = self.gateway.filter(|g| Family::of(g) == prefix.family());
        if self.routed {
            return explicit;
        }
        if let Some(g) = explicit.filter(|g| prefix.contains(*g)) {
            return Some(g);
        }
        // A /31 or /32 (/127, /128) has no first host address to spare.
        if prefix.host_bits() < 2 {
            return None;
        }
        prefix.address_at(1).ok()
    }

    /// The addresses of `prefix` that are never a pod's (see the module doc).
    pub fn reserved(&self, prefix: &Cidr) -> Vec<IpAddr> {
        let mut reserved = Vec::new();
        if !self.routed && prefix.host_bits() >= 2 {
            reserved.push(prefix.network());
            if prefix.family() == Family::V4 {
                reserved.push(prefix.last_address());
            }
        }
        if let Some(g) = self.gateway_for(prefix).filter(|g| prefix.contains(*g)) {
            reserved.push(g);
        }
        reserved.sort();
        reserved.dedup();
        reserved
    }

    /// The length a pod's address carries: the prefix's on a link, the whole address routed.
    pub fn address_len(&self, prefix: &Cidr) -> u8 {
        if self.routed {
            prefix.family().bits()
        } else {
            prefix.prefix_len()
        }
    }
}
