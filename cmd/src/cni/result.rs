//! The IPAM result of ADD, in the shape of the configuration's spec version: from 0.3.0 to
//! 0.4.0 each entry of `ips` names its IP `version` ("4" or "6"); 1.0.0 dropped that field.
//! An IPAM plugin sets no `interface` index (the main plugin does), and `dns` stays empty.

use serde_json::{Value, json};
use ultrak8s_netalloc::cidr::Family;

use super::config::IpamConf;
use super::ipam::Assigned;

/// The result object for `assigned`, in `cni_version`'s format.
pub fn render(cni_version: &str, conf: &IpamConf, assigned: &[Assigned]) -> Value {
    let legacy = cni_version.starts_with("0.");
    let ips: Vec<Value> = assigned
        .iter()
        .map(|a| {
            let mut ip = json!({
                "address": format!("{}/{}", a.address, conf.address_len(&a.prefix)),
            });
            if let Some(gw) = conf.gateway_for(&a.prefix) {
                ip["gateway"] = gw.to_string().into();
            }
            if legacy {
                ip["version"] = match a.prefix.family() {
                    Family::V4 => "4",
                    Family::V6 => "6",
                }
                .into();
            }
            ip
        })
        .collect();
    let mut result = json!({
        "cniVersion": cni_version,
        "ips": ips,
        "dns": {},
    });
    if !conf.routes.is_empty() {
        result["routes"] = json!(conf.routes);
    }
    result
}
