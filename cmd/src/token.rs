//! `ultrak8s token create`: a bootstrap token (a Secret in kube-system, as kubeadm makes
//! them), printed with a bootstrap kubeconfig a kubelet joins with (`--bootstrap-kubeconfig`;
//! it then asks for its own client certificate through a CertificateSigningRequest).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use kube::api::{Api, PostParams};
use ultrak8s_apiserver::auth::authn::{bootstrap_token_secret, generate_bootstrap_token};

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create a bootstrap token and print how a node joins with it.
    Create(CreateArgs),
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// An admin kubeconfig of the cluster.
    #[arg(long, env = "KUBECONFIG", default_value = "data/admin.kubeconfig")]
    kubeconfig: PathBuf,
    /// How long the token is valid, e.g. `24h`, `90m`, `0` for never expiring.
    #[arg(long, default_value = "24h", value_parser = parse_duration)]
    ttl: Duration,
    /// Extra groups of the token's user (each `system:bootstrappers:...`).
    #[arg(
        long = "groups",
        value_delimiter = ',',
        default_value = "system:bootstrappers:ultrak8s:default-node-token"
    )]
    groups: Vec<String>,
    #[arg(long, default_value = "")]
    description: String,
    /// Also write a bootstrap kubeconfig for kubelets to this file.
    #[arg(long)]
    bootstrap_kubeconfig: Option<PathBuf>,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?}"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("invalid duration {text:?}: use s, m, h or d")),
    };
    Ok(Duration::from_secs(seconds))
}

pub async fn run(command: TokenCommand) -> anyhow::Result<()> {
    let TokenCommand::Create(args) = command;
    let kubeconfig = kube::config::Kubeconfig::read_from(&args.kubeconfig)
        .with_context(|| format!("reading {}", args.kubeconfig.display()))?;
    let options = kube::config::KubeConfigOptions::default();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig.clone(), &options)
        .await
        .context("kubeconfig")?;
    let server = config.cluster_url.to_string();
    let client = kube::Client::try_from(config).context("client")?;
    let token = generate_bootstrap_token().map_err(anyhow::Error::msg)?;
    let expiration = (!args.ttl.is_zero()).then(|| {
        let seconds = i64::try_from(args.ttl.as_secs()).unwrap_or(i64::MAX / 2);
        (jiff::Timestamp::now() + jiff::SignedDuration::from_secs(seconds))
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    });
    let secret = bootstrap_token_secret(
        &token,
        expiration.as_deref(),
        &args.groups,
        &args.description,
    )
    .map_err(anyhow::Error::msg)?;
    let secret: k8s_openapi::api::core::v1::Secret = serde_json::from_value(secret)?;
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client, "kube-system");
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .context("creating the token's Secret")?;
    println!("{token}");
    let Some(cluster) = kubeconfig.clusters.first().and_then(|c| c.cluster.clone()) else {
        bail!("the kubeconfig names no cluster");
    };
    let ca = cluster.certificate_authority_data.unwrap_or_default();
    let bootstrap = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: ultrak8s\n  cluster:\n    \
         certificate-authority-data: {ca}\n    server: {server:?}\ncontexts:\n- name: \
         tls-bootstrap\n  context:\n    cluster: ultrak8s\n    user: tls-bootstrap\n\
         current-context: tls-bootstrap\nusers:\n- name: tls-bootstrap\n  user:\n    token: \
         {token}\n"
    );
    match &args.bootstrap_kubeconfig {
        Some(path) => {
            write_private(path, bootstrap.as_bytes())?;
            eprintln!(
                "A node joins with: kubelet --bootstrap-kubeconfig={} --kubeconfig=<where the \
                 kubelet keeps its own> (the token is valid for {}).",
                path.display(),
                expiration
                    .as_deref()
                    .map_or("ever".to_owned(), |e| format!("until {e}"))
            );
        }
        None => eprintln!(
            "A node joins with a bootstrap kubeconfig holding this token (write one with \
             --bootstrap-kubeconfig <file>), passed as kubelet --bootstrap-kubeconfig."
        ),
    }
    Ok(())
}

fn write_private(path: &std::path::Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(contents)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_kubeadm_writes_them() {
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("90m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("1y").is_err());
        assert!(parse_duration("h").is_err());
    }
}
