//! The guard as the gateway's backend: every request runs through [`Guard::infer`] with the
//! certificate's client id and the clients file's overrides. The guard's audit events go where
//! the guard was opened to send them ([`GuardBackend::open`]: the gateway's ledger). The guard
//! can be replaced while serving ([`GuardBackend::swap`]), as an update activates.

use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use vigil_bundle::Trust;
use vigil_guard::{
    ClientOverrides, DriftSettings, Guard, GuardOptions, Input, LedgerAudit, Reason,
    RequestOptions, Values, Verdict,
};

use crate::backend::{
    Answer, DataType, InferenceBackend, ModelInfo, Tensor, TensorData, TensorSpec,
};
use crate::clients::{Caller, ClientPolicy};
use crate::error::ServerError;
use crate::ledger::AuditLog;
use crate::refusal::{Abstain, Abstention};

/// The clients file's settings as the guard's per-client overrides. `unlimited` lifts the rate
/// limit and the budget and, unless the file says otherwise, the extraction monitor.
pub fn overrides(policy: &ClientPolicy) -> ClientOverrides {
    ClientOverrides {
        rate_per_second: policy.rate_per_second,
        burst: policy.burst,
        query_budget: policy.query_budget,
        extraction_monitor: policy
            .extraction_monitor
            .or((policy.unlimited).then_some(false)),
        unlimited: policy.unlimited,
        extraction_response: policy.extraction_response,
        volume_response: policy.volume_response,
    }
}

/// The identity the guard counts a caller under: its site when the clients file gives one,
/// else its own name.
pub fn guard_client(caller: &Caller) -> &str {
    caller.policy.site.as_deref().unwrap_or(&caller.id)
}

/// Every request through [`vigil_guard::Guard::infer`], with the certificate's client id.
pub struct GuardBackend {
    served: RwLock<Arc<Served>>,
}

/// One guard and the model description derived from its bundle, swapped together.
struct Served {
    guard: Arc<Guard>,
    info: Arc<ModelInfo>,
}

impl std::fmt::Debug for GuardBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardBackend")
            .field("model", &self.served().info.name)
            .finish()
    }
}

impl GuardBackend {
    /// Serve `guard` under its bundle's name and version (from the verified `vigil.toml`).
    pub fn new(guard: Guard) -> GuardBackend {
        GuardBackend {
            served: RwLock::new(Arc::new(Served::new(Arc::new(guard)))),
        }
    }

    /// Verifies the bundle in `dir` under `trust` and serves it behind a guard whose audit
    /// events go into `audit`'s ledger; with `drift_reference` (`vigil drift reference`'s
    /// `drift.json`), accepted requests also feed a drift monitor (window 200, a KS test every
    /// 50, level 0.01) whose alarms are ledger events and metrics.
    pub fn open(
        dir: &Path,
        trust: &Trust,
        audit: &AuditLog,
        drift_reference: Option<&Path>,
    ) -> Result<GuardBackend, ServerError> {
        let refused = |source| ServerError::Guard {
            bundle: dir.to_path_buf(),
            source: Box::new(source),
        };
        let mut options = GuardOptions::new(Arc::new(LedgerAudit::new(audit.ledger().clone())));
        if let Some(path) = drift_reference {
            options = options.drift(DriftSettings::load(path).map_err(refused)?);
        }
        let guard = Guard::open(dir, trust, options).map_err(refused)?;
        Ok(GuardBackend::new(guard))
    }

    /// Serve `guard` from now on; requests already running finish on the guard they started
    /// with, which is returned. Per-client state (rate limits, budgets, the extraction
    /// monitor) belongs to each guard and starts afresh with the new one.
    pub fn swap(&self, guard: Guard) -> Arc<Guard> {
        let next = Arc::new(Served::new(Arc::new(guard)));
        // The lock only ever guards this one replacement, which cannot panic half-way: a
        // poisoned lock still holds a whole `Served`.
        let mut served = self.served.write().unwrap_or_else(PoisonError::into_inner);
        let old = std::mem::replace(&mut *served, next);
        old.guard.clone()
    }

    /// The guard serving now.
    pub fn guard(&self) -> Arc<Guard> {
        self.served().guard.clone()
    }

    fn served(&self) -> Arc<Served> {
        Arc::clone(&self.served.read().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Served {
    fn new(guard: Arc<Guard>) -> Served {
        let c = guard.contract();
        let width = i64::try_from(c.width()).unwrap_or(-1);
        let info = ModelInfo {
            name: guard.bundle_name().to_string(),
            version: guard.bundle_version().to_string(),
            platform: "onnx_onnxv1".into(),
            inputs: vec![TensorSpec {
                name: c.input.clone(),
                datatype: DataType::Fp32,
                shape: vec![1, width],
            }],
            outputs: vec![TensorSpec {
                name: c.output.clone(),
                datatype: DataType::Fp32,
                shape: vec![1, i64::try_from(c.labels.len()).unwrap_or(-1)],
            }],
            labels: c.labels.clone(),
        };
        Served {
            guard,
            info: Arc::new(info),
        }
    }
}

fn refusal(reason: &vigil_guard::Reason, alarms: Vec<String>) -> Abstention {
    Abstention::guarded(reason.clone(), alarms)
}

impl InferenceBackend for GuardBackend {
    fn model(&self) -> Arc<ModelInfo> {
        self.served().info.clone()
    }

    fn reinstate(&self, client: &str, by: &str) -> Result<bool, String> {
        self.guard()
            .reinstate(client, by)
            .map_err(|e| e.to_string())
    }

    fn infer(&self, caller: &Caller, inputs: &[Tensor]) -> Result<Answer, Abstention> {
        self.served().infer(caller, inputs)
    }

    fn infer_async<'a>(
        &'a self,
        caller: &'a Caller,
        inputs: &'a [Tensor],
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Answer, Abstention>> + Send + 'a>>
    {
        // The audit append waits for the ledger's durable commit: run it where blocking is
        // allowed, so the async workers keep serving and the ledger groups the commits.
        let served = self.served();
        let caller = caller.clone();
        let inputs = inputs.to_vec();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || served.infer(&caller, &inputs))
                .await
                .unwrap_or_else(|_| Err(Abstention::early(Abstain::Guard(Reason::Internal))))
        })
    }
}

impl Served {
    fn infer(&self, caller: &Caller, inputs: &[Tensor]) -> Result<Answer, Abstention> {
        // Early exits: the gateway records them in the ledger (`recorded` is false).
        let [t] = inputs else {
            return Err(Abstention::early(Abstain::Guard(Reason::WrongInput {
                name: inputs
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            })));
        };
        let values = match &t.data {
            TensorData::F32(v) => Values::F32(v),
            TensorData::F64(v) => Values::F64(v),
            TensorData::Int(v) => Values::I64(v),
            _ => {
                return Err(Abstention::early(Abstain::Guard(Reason::WrongDtype {
                    found: t.datatype.name(),
                })))
            }
        };
        let input = Input {
            name: &t.name,
            shape: &t.shape,
            values,
        };
        let request = RequestOptions::new().overrides(overrides(&caller.policy));
        let d = self.guard.infer(guard_client(caller), &input, &request);
        let alarms: Vec<String> = d.alarms.iter().map(|a| a.code().to_string()).collect();
        // Detector names and scores help an attacker adapt: only the audit role sees them.
        let auditor = caller.role.may_audit();
        match d.verdict {
            Verdict::Abstain {
                reason: reason @ Reason::Detector { .. },
            } if !auditor => Err(Abstention {
                reason: Abstain::Withheld(reason),
                alarms,
                recorded: true,
            }),
            Verdict::Abstain { reason } => Err(refusal(&reason, alarms)),
            Verdict::Accept { output } => {
                // The output policy decides what is revealed: the output tensor holds the
                // probabilities it lets through, in label order (all of them in `full` mode;
                // none in label-only mode), and `parameters.labels` names them.
                let revealed: Vec<(&String, f32)> = self
                    .info
                    .labels
                    .iter()
                    .filter_map(|l| {
                        output
                            .probabilities
                            .iter()
                            .find(|(n, _)| n == l)
                            .map(|(_, p)| (l, *p as f32))
                    })
                    .collect();
                let probs: Vec<f32> = revealed.iter().map(|(_, p)| *p).collect();
                let mut parameters = serde_json::Map::new();
                parameters.insert("label".into(), output.label.clone().into());
                parameters.insert(
                    "labels".into(),
                    revealed
                        .iter()
                        .map(|(l, _)| (*l).clone())
                        .collect::<Vec<_>>()
                        .into(),
                );
                parameters.insert("event_id".into(), d.event_id.into());
                if auditor {
                    let scores: serde_json::Map<String, serde_json::Value> = d
                        .scores
                        .iter()
                        .map(|(k, v)| ((*k).to_string(), serde_json::json!(v)))
                        .collect();
                    parameters.insert("scores".into(), serde_json::Value::Object(scores));
                }
                Ok(Answer {
                    outputs: vec![Tensor {
                        name: self
                            .info
                            .outputs
                            .first()
                            .map(|o| o.name.clone())
                            .unwrap_or_default(),
                        datatype: DataType::Fp32,
                        shape: vec![1, probs.len()],
                        data: TensorData::F32(probs),
                    }],
                    parameters,
                    alarms,
                })
            }
        }
    }
}
