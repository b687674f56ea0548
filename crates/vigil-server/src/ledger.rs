//! The gateway's use of the audit ledger: refusal events, periodic signed checkpoints, and
//! the checkpoints and proofs served to auditors.

use std::sync::Arc;

use std::path::Path;
use vigil_ledger::{
    now_ms, ClientRefused, Event, GatewayRefusal, InclusionProof, Ledger, NoteSigner, OpenCheck,
    Verdict,
};

use vigil_net::PeerIdentity;

use crate::clients::Denial;
use crate::error::ServerError;
use crate::refusal::Refusal;

/// A ledger the gateway records into, with the key that signs its checkpoints (if the
/// gateway is to sign them). Cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    ledger: Ledger,
    signer: Option<Arc<NoteSigner>>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("ledger", &self.ledger)
            .field("signs", &self.signer.is_some())
            .finish()
    }
}

impl AuditLog {
    /// Open the ledger at `path`, or create it with `origin` when it does not exist (then
    /// `key` is required: its public half is the ledger's checkpoint key). With `key`, the
    /// gateway signs checkpoints while it serves and at shutdown.
    pub fn open_or_create(
        path: &Path,
        key: Option<&Path>,
        origin: &str,
    ) -> Result<AuditLog, ServerError> {
        let key: Option<std::sync::Arc<dyn vigil_core::Signer>> = match key {
            None => None,
            Some(k) => Some(std::sync::Arc::new(vigil_core::SigningKey::load(k, None)?)),
        };
        let ledger_err = |source| ServerError::Ledger {
            path: path.to_path_buf(),
            source,
        };
        // The start checks what the newest signed checkpoint does not cover; the full audit is
        // `vigil log verify`'s job (issue 20 item 16).
        let check = OpenCheck::TailSinceCheckpoint;
        match key {
            Some(key) => {
                let (ledger, signer) =
                    vigil_ledger::open_or_create_signed(path, origin, key, check)
                        .map_err(ledger_err)?;
                Ok(AuditLog::new(ledger, Some(signer)))
            }
            None if path.exists() => Ok(AuditLog::new(
                Ledger::open_with(path, check).map_err(ledger_err)?,
                None,
            )),
            None => Err(ServerError::NoLedgerKey {
                path: path.to_path_buf(),
            }),
        }
    }

    /// The ledger kept in a state directory (see [`crate::state_dir`]): `DIR/audit.db`, whose
    /// checkpoints are signed with `DIR/ledger-key.pem`; the directory (mode 0700), the key
    /// (Ed25519, mode 0600) and the ledger are made on first use.
    pub fn open_in(dir: &Path, origin: &str) -> Result<AuditLog, ServerError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ServerError::File(vigil_core::ReadError::Io { path, source })
        };
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(io(dir))?;
        let key = dir.join("ledger-key.pem");
        vigil_ledger::ensure_checkpoint_key(&key, &dir.join("ledger-key.pub.pem")).map_err(
            |source| ServerError::Ledger {
                path: key.clone(),
                source,
            },
        )?;
        AuditLog::open_or_create(&dir.join("audit.db"), Some(&key), origin)
    }

    /// Record into `ledger`; sign checkpoints with `signer` (the ledger's own key).
    pub fn new(ledger: Ledger, signer: Option<NoteSigner>) -> AuditLog {
        AuditLog {
            ledger,
            signer: signer.map(Arc::new),
        }
    }

    /// Whether the gateway signs this ledger's checkpoints (a key was given).
    pub fn signs(&self) -> bool {
        self.signer.is_some()
    }

    /// The ledger.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Record that a client whose certificate chains to the client CA was refused (once per
    /// connection): a `gateway.client_refused` event
    /// `{"type", "time_ms", "reason", "client", "cert_sha256", "remote"}`.
    pub async fn record_denial(&self, peer: &PeerIdentity, denial: &Denial, remote: &str) {
        self.record(Event::ClientRefused(ClientRefused {
            time_ms: now_ms(),
            reason: denial.code().to_string(),
            client: peer.common_name.clone().unwrap_or_default(),
            cert_sha256: peer.sha256.clone(),
            remote: remote.to_string(),
        }))
        .await;
    }

    /// Record an inference request of an authorised client that the gateway refused before
    /// the guard saw it, or that the backend refused without recording it (issue 20 item 6:
    /// every guarded request has one durable entry, accepted or not):
    /// `{"type": "gateway.refusal", "time_ms", "model", "client", "verdict": "refused",
    /// "reason", "status"}`. `reason` is the abstention's wire form (`wrong_input`,
    /// `out_of_range:<feature>`) or the refusal's code (`malformed_request`,
    /// `body_too_large`...), never the request's content.
    pub async fn record_refusal(&self, client: &str, model: &str, refusal: &Refusal) {
        let reason = match refusal {
            Refusal::Abstained(a) => a.wire(),
            other => other.code().to_string(),
        };
        self.record(Event::GatewayRefusal(GatewayRefusal {
            time_ms: now_ms(),
            model: model.to_string(),
            client: client.chars().take(256).collect(),
            verdict: Verdict::Refused,
            reason,
            status: refusal.status().as_u16(),
        }))
        .await;
    }

    /// Append one event durably (on a blocking thread). A failure is logged: the event is a
    /// refusal whose answer does not depend on it.
    async fn record(&self, event: Event) {
        let ledger = self.ledger.clone();
        let done = tokio::task::spawn_blocking(move || ledger.record(&event)).await;
        match done {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "ledger append failed"),
            Err(e) => tracing::error!(error = %e, "ledger append task failed"),
        }
    }

    /// Sign a checkpoint if the tree grew since the last one; returns the note if one was
    /// signed.
    pub async fn checkpoint_if_grown(&self) -> Result<Option<String>, vigil_ledger::Error> {
        let Some(signer) = self.signer.clone() else {
            return Ok(None);
        };
        let ledger = self.ledger.clone();
        tokio::task::spawn_blocking(move || {
            let last = ledger.checkpoints()?.last().map(|c| c.size);
            let size = ledger.size();
            if last == Some(size) {
                return Ok(None);
            }
            ledger.checkpoint(&[signer.as_ref()]).map(Some)
        })
        .await
        .map_err(|e| vigil_ledger::Error::Closed(e.to_string()))?
    }

    /// The latest stored checkpoint note.
    pub async fn latest_checkpoint(&self) -> Result<Option<String>, vigil_ledger::Error> {
        let ledger = self.ledger.clone();
        tokio::task::spawn_blocking(move || Ok(ledger.checkpoints()?.pop().map(|c| c.note)))
            .await
            .map_err(|e| vigil_ledger::Error::Closed(e.to_string()))?
    }

    /// Inclusion proof of entry `index` in the tree of `size` entries (default: the latest
    /// checkpoint's size, or the current size when there is none).
    pub async fn prove(
        &self,
        index: u64,
        size: Option<u64>,
    ) -> Result<InclusionProof, vigil_ledger::Error> {
        let ledger = self.ledger.clone();
        tokio::task::spawn_blocking(move || {
            let size = match size {
                Some(s) => s,
                None => match ledger.checkpoints()?.last() {
                    Some(c) if index < c.size => c.size,
                    _ => ledger.size(),
                },
            };
            ledger.prove(index, size)
        })
        .await
        .map_err(|e| vigil_ledger::Error::Closed(e.to_string()))?
    }
}
