//! The certificate controllers' I/O half (upstream `pkg/controller/certificates`): the
//! approver puts kubelet client CSRs to SubjectAccessReviews and approves them through the
//! `approval` subresource; the signer issues the certificate of approved CSRs of its three
//! signers (or marks them Failed) through the `status` subresource; the cleaner deletes CSRs
//! past their deadline once an hour. All three follow one CSR informer.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::ByteString;
use k8s_openapi::api::authorization::v1::SubjectAccessReview;
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, PostParams, Preconditions};
use tokio::sync::watch;

use super::approve::{Approval, decide_approval, not_approved_message};
use super::authority::CaKeyPair;
use super::cleaner::{POLLING_INTERVAL, expired};
use super::sign::{SignOutcome, SignerConfig, decide_signing, failed_condition};
use crate::runtime::controller::{Action, ReconcileError, Reconciler, enqueue, ignore_gone};
use crate::runtime::informer::{Informer, ObjectKey};
use crate::runtime::queue::WorkQueue;

const QUEUE_CAPACITY: usize = 100_000;
/// How long a CSR no recognizer's review allowed waits before it is looked at again (upstream
/// returns an ignorable error, retried only with the rate limiter's slow backoff).
const NOT_APPROVED_RETRY: Duration = Duration::from_secs(60);

/// The CA the signer issues with, read by the binary (`ca.crt`/`ca.key` of the data
/// directory, or kube-controller-manager's `--cluster-signing-{cert,key}-file`).
#[derive(Clone)]
pub struct SigningCa {
    pub cert_pem: String,
    pub key_pem: String,
    /// The longest certificate issued (`--cluster-signing-duration`).
    pub max_duration: Duration,
}

/// Approves kubelet client certificate requests that a SubjectAccessReview allows.
pub struct CsrApprover {
    client: kube::Client,
    requests: Arc<Informer<CertificateSigningRequest>>,
    pub queue: Arc<WorkQueue<ObjectKey>>,
}

impl CsrApprover {
    pub fn new(
        client: kube::Client,
        requests: Arc<Informer<CertificateSigningRequest>>,
    ) -> Arc<CsrApprover> {
        let approver = Arc::new(CsrApprover {
            client,
            requests: Arc::clone(&requests),
            queue: Arc::new(WorkQueue::new(QUEUE_CAPACITY)),
        });
        enqueue(&requests, &approver.queue, |c| Some(ObjectKey::of(c.object().as_ref())));
        approver
    }

    async fn sync(&self, key: ObjectKey) -> Result<Action, ReconcileError> {
        let Some(csr) = self.requests.get(&key) else {
            return Ok(Action::Done);
        };
        let reviews = match decide_approval(&csr) {
            Ok(Approval::Skip) => return Ok(Action::Done),
            Ok(Approval::NeedsSubjectAccessReview { reviews }) => reviews,
            Err(error) => {
                // A request that does not parse stays pending for a human to deny.
                tracing::info!(csr = %key, %error, "unable to parse csr");
                return Ok(Action::Done);
            }
        };
        let api: Api<SubjectAccessReview> = Api::all(self.client.clone());
        for review in &reviews {
            let request = SubjectAccessReview {
                spec: review.spec.clone(),
                ..SubjectAccessReview::default()
            };
            let answer = api.create(&PostParams::default(), &request).await?;
            if !answer.status.is_some_and(|s| s.allowed) {
                continue;
            }
            let mut approved = csr.as_ref().clone();
            approved
                .status
                .get_or_insert_with(Default::default)
                .conditions
                .get_or_insert_with(Vec::new)
                .push(review.approved_condition(Timestamp::now()));
            let csrs: Api<CertificateSigningRequest> = Api::all(self.client.clone());
            let result = csrs
                .replace_subresource("approval", &key.name, &PostParams::default(), &approved)
                .await;
            ignore_gone(result)?;
            return Ok(Action::Done);
        }
        tracing::debug!("{}", not_approved_message(&key.name, &reviews));
        Ok(Action::RequeueAfter(NOT_APPROVED_RETRY))
    }
}

impl Reconciler for CsrApprover {
    fn name(&self) -> &'static str {
        "csrapproving"
    }

    fn reconcile(&self, key: ObjectKey) -> BoxFuture<'_, Result<Action, ReconcileError>> {
        Box::pin(self.sync(key))
    }
}

/// Issues the certificates of approved requests for the kube-apiserver client, kubelet client
/// and kubelet serving signers.
pub struct CsrSigner {
    client: kube::Client,
    requests: Arc<Informer<CertificateSigningRequest>>,
    ca: CaKeyPair,
    config: SignerConfig,
    pub queue: Arc<WorkQueue<ObjectKey>>,
}

impl CsrSigner {
    /// Fails when the CA's certificate or key cannot be used.
    pub fn new(
        client: kube::Client,
        requests: Arc<Informer<CertificateSigningRequest>>,
        ca: &SigningCa,
    ) -> Result<Arc<CsrSigner>, super::authority::CaError> {
        let key_pair = CaKeyPair::from_pem(ca.cert_pem.as_bytes(), ca.key_pem.as_bytes())?;
        let signer = Arc::new(CsrSigner {
            client,
            requests: Arc::clone(&requests),
            ca: key_pair,
            config: SignerConfig {
                max_duration: ca.max_duration,
            },
            queue: Arc::new(WorkQueue::new(QUEUE_CAPACITY)),
        });
        enqueue(&requests, &signer.queue, |c| Some(ObjectKey::of(c.object().as_ref())));
        Ok(signer)
    }

    async fn sync(&self, key: ObjectKey) -> Result<Action, ReconcileError> {
        let Some(csr) = self.requests.get(&key) else {
            return Ok(Action::Done);
        };
        let now = Timestamp::now();
        let outcome = decide_signing(&csr, &self.ca, self.config, now)
            .map_err(|e| ReconcileError::Other(e.to_string()))?;
        let mut updated = csr.as_ref().clone();
        let status = updated.status.get_or_insert_with(Default::default);
        match outcome {
            SignOutcome::Skip => return Ok(Action::Done),
            SignOutcome::Failed { reason, message } => {
                status
                    .conditions
                    .get_or_insert_with(Vec::new)
                    .push(failed_condition(&reason, &message, now));
            }
            SignOutcome::Issued { certificate_pem } => {
                status.certificate = Some(ByteString(certificate_pem.into_bytes()));
            }
        }
        let api: Api<CertificateSigningRequest> = Api::all(self.client.clone());
        ignore_gone(api.replace_status(&key.name, &PostParams::default(), &updated).await)?;
        Ok(Action::Done)
    }
}

impl Reconciler for CsrSigner {
    fn name(&self) -> &'static str {
        "csrsigning"
    }

    fn reconcile(&self, key: ObjectKey) -> BoxFuture<'_, Result<Action, ReconcileError>> {
        Box::pin(self.sync(key))
    }
}

/// Deletes requests past their deadline (upstream's `CSRCleanerController`), once an hour
/// until `stopped` turns true.
pub fn start_cleaner(
    client: kube::Client,
    requests: Arc<Informer<CertificateSigningRequest>>,
    mut stopped: watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        requests.wait_synced().await;
        loop {
            let now = Timestamp::now();
            let api: Api<CertificateSigningRequest> = Api::all(client.clone());
            for csr in requests.list(None) {
                let Some(reason) = expired(&csr, now) else { continue };
                let name = csr.metadata.name.clone().unwrap_or_default();
                let params = DeleteParams {
                    preconditions: csr.metadata.uid.clone().map(|uid| Preconditions {
                        uid: Some(uid),
                        resource_version: None,
                    }),
                    ..DeleteParams::default()
                };
                match api.delete(&name, &params).await {
                    Ok(_) => tracing::info!(csr = %name, ?reason, "deleted an expired csr"),
                    Err(error) => tracing::debug!(csr = %name, %error, "deleting an expired csr"),
                }
            }
            tokio::select! {
                () = tokio::time::sleep(POLLING_INTERVAL) => {}
                _ = stopped.wait_for(|s| *s) => return,
            }
        }
    });
}
