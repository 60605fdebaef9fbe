use super::super::request::parse;
use super::super::testing::*;
use super::*;

const CLIENT_USAGES: &[&str] = &["digital signature", "key encipherment", "client auth"];
const SERVING_USAGES: &[&str] = &["digital signature", "key encipherment", "server auth"];

type Check = fn(&ParsedRequest, &[String]) -> Result<(), ValidationError>;

/// (name, check, usages, request, expected result).
type Case = (
    &'static str,
    Check,
    &'static [&'static str],
    Ask<'static>,
    Result<(), ValidationError>,
);

fn usages(u: &[&str]) -> Vec<String> {
    u.iter().map(|s| s.to_string()).collect()
}

#[test]
fn kubelet_shapes() {
    use ValidationError as E;
    let client: Check = validate_kubelet_client;
    let serving: Check = validate_kubelet_serving;
    let node = || node_client("system:node:a");
    let served = || Ask {
        dns: &["a.example"],
        ..node()
    };
    let cases: Vec<Case> = vec![
        ("client", client, CLIENT_USAGES, node(), Ok(())),
        (
            "client, no key encipherment",
            client,
            &["client auth", "digital signature"],
            node(),
            Ok(()),
        ),
        (
            "client, other group",
            client,
            CLIENT_USAGES,
            Ask {
                orgs: &["x"],
                ..node()
            },
            Err(E::OrganizationNotSystemNodes),
        ),
        (
            "client, DNS SAN",
            client,
            CLIENT_USAGES,
            Ask {
                dns: &["a"],
                ..node()
            },
            Err(E::DnsSanNotAllowed),
        ),
        (
            "client, email SAN",
            client,
            CLIENT_USAGES,
            Ask {
                emails: &["a@b.c"],
                ..node()
            },
            Err(E::EmailSanNotAllowed),
        ),
        (
            "client, IP SAN",
            client,
            CLIENT_USAGES,
            Ask {
                ips: &["10.0.0.1"],
                ..node()
            },
            Err(E::IpSanNotAllowed),
        ),
        (
            "client, URI SAN",
            client,
            CLIENT_USAGES,
            Ask {
                uris: &["spiffe://a"],
                ..node()
            },
            Err(E::UriSanNotAllowed),
        ),
        // The SAN rules come before the CN rule, as upstream orders them.
        (
            "client, SAN and bad CN",
            client,
            CLIENT_USAGES,
            Ask {
                dns: &["a"],
                cn: Some("a"),
                ..node()
            },
            Err(E::DnsSanNotAllowed),
        ),
        (
            "client, user CN",
            client,
            CLIENT_USAGES,
            Ask {
                cn: Some("jane"),
                ..node()
            },
            Err(E::CommonNameNotSystemNode),
        ),
        (
            "client, serving usages",
            client,
            SERVING_USAGES,
            node(),
            Err(E::UsagesDidNotMatch(&[
                "client auth",
                "digital signature",
                "key encipherment",
            ])),
        ),
        (
            "serving with DNS",
            serving,
            SERVING_USAGES,
            served(),
            Ok(()),
        ),
        (
            "serving with IP only",
            serving,
            &["server auth", "digital signature"],
            Ask {
                ips: &["10.0.0.1"],
                ..node()
            },
            Ok(()),
        ),
        (
            "serving without SANs",
            serving,
            SERVING_USAGES,
            node(),
            Err(E::DnsOrIpSanRequired),
        ),
        (
            "serving, URI SAN",
            serving,
            SERVING_USAGES,
            Ask {
                uris: &["spiffe://a"],
                ..served()
            },
            Err(E::UriSanNotAllowed),
        ),
        (
            "serving, email SAN",
            serving,
            SERVING_USAGES,
            Ask {
                emails: &["a@b.c"],
                ..served()
            },
            Err(E::EmailSanNotAllowed),
        ),
        (
            "serving, two groups",
            serving,
            SERVING_USAGES,
            Ask {
                orgs: &["system:nodes", "x"],
                ..served()
            },
            Err(E::OrganizationNotSystemNodes),
        ),
        // The usage rule comes before the CN rule for serving requests.
        (
            "serving, client usages and bad CN",
            serving,
            CLIENT_USAGES,
            Ask {
                cn: Some("a"),
                ..served()
            },
            Err(E::UsagesDidNotMatch(&[
                "digital signature",
                "key encipherment",
                "server auth",
            ])),
        ),
        (
            "serving, bad CN",
            serving,
            SERVING_USAGES,
            Ask {
                cn: Some("a"),
                ..served()
            },
            Err(E::CommonNameNotSystemNode),
        ),
    ];
    for (name, check, u, ask, want) in cases {
        let req = parse(request_pem(ask).as_bytes()).expect("test fixture");
        assert_eq!(check(&req, &usages(u)), want, "{name}");
    }
}

#[test]
fn apiserver_client_usages() {
    use ValidationError as E;
    let cases: Vec<(&[&str], Result<(), E>)> = vec![
        (&["client auth"], Ok(())),
        (CLIENT_USAGES, Ok(())),
        (&[], Err(E::MissingClientAuth)),
        (
            &["digital signature", "key encipherment"],
            Err(E::MissingClientAuth),
        ),
        (
            &["client auth", "server auth"],
            Err(E::InvalidClientUsage("server auth".into())),
        ),
        (
            &["cert sign", "client auth"],
            Err(E::InvalidClientUsage("cert sign".into())),
        ),
    ];
    for (u, want) in cases {
        assert_eq!(validate_apiserver_client_usages(&usages(u)), want, "{u:?}");
    }
}

#[test]
fn error_texts_are_upstreams() {
    use ValidationError as E;
    let cases = [
        (
            E::OrganizationNotSystemNodes,
            "subject organization is not system:nodes",
        ),
        (
            E::CommonNameNotSystemNode,
            "subject common name does not begin with system:node:",
        ),
        (
            E::DnsOrIpSanRequired,
            "DNS or IP subjectAltName is required",
        ),
        (E::UriSanNotAllowed, "URI subjectAltNames are not allowed"),
        (
            E::UsagesDidNotMatch(&["client auth", "digital signature", "key encipherment"]),
            "usages did not match [client auth digital signature key encipherment]",
        ),
        (
            E::MissingClientAuth,
            "missing required usage for client certificate: client auth",
        ),
    ];
    for (e, text) in cases {
        assert_eq!(e.to_string(), text);
    }
}
