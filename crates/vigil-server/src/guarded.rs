//! The guard as the gateway's backend: every request runs through [`Guard::infer_with`]
//! with the certificate's client id and the clients file's overrides. The guard's audit
//! events go where the guard was opened to send them (`vigil_guard::LedgerAudit` for the
//! ledger).

use std::sync::Arc;

use vigil_guard::{ClientOverrides, DriftMonitorFeed, Guard, Input, Reason, Values, Verdict};

use crate::backend::{
    Answer, DataType, InferenceBackend, ModelInfo, Tensor, TensorData, TensorSpec,
};
use crate::clients::{Caller, ClientPolicy};
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
    }
}

/// Every request through [`vigil_guard::Guard::infer`], with the certificate's client id.
pub struct GuardBackend {
    guard: Arc<Guard>,
    /// Shared with the per-request copies `infer_async` moves to a blocking thread.
    info: Arc<ModelInfo>,
    drift: Option<Arc<DriftMonitorFeed>>,
}

impl std::fmt::Debug for GuardBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardBackend")
            .field("model", &self.info.name)
            .finish()
    }
}

impl GuardBackend {
    /// Serve `guard` under its bundle's name and version (from the verified `vigil.toml`).
    pub fn new(guard: Guard) -> GuardBackend {
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
        GuardBackend {
            guard: Arc::new(guard),
            info: Arc::new(info),
            drift: None,
        }
    }

    /// Report the alarms of `feed` (the drift monitor the guard was opened with): a request
    /// after which the monitor raised alarms carries one `drift` alarm per alarm raised, for
    /// the metrics.
    pub fn with_drift(mut self, feed: Arc<DriftMonitorFeed>) -> GuardBackend {
        self.drift = Some(feed);
        self
    }

    /// The guard.
    pub fn guard(&self) -> &Guard {
        &self.guard
    }
}

fn refusal(reason: &vigil_guard::Reason, alarms: Vec<String>) -> Abstention {
    Abstention::guarded(reason.clone(), alarms)
}

impl InferenceBackend for GuardBackend {
    fn model(&self) -> &ModelInfo {
        &self.info
    }

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
        let d = self
            .guard
            .infer_with(&caller.id, &overrides(&caller.policy), &input);
        let mut alarms: Vec<String> = d.alarms.iter().map(|a| a.code().to_string()).collect();
        if let Some(feed) = &self.drift {
            alarms.extend(feed.take_alarms().iter().map(|_| "drift".to_string()));
        }
        match d.verdict {
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
                let scores: serde_json::Map<String, serde_json::Value> = d
                    .scores
                    .iter()
                    .map(|(k, v)| ((*k).to_string(), serde_json::json!(v)))
                    .collect();
                parameters.insert("scores".into(), serde_json::Value::Object(scores));
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

    fn infer_async<'a>(
        &'a self,
        caller: &'a Caller,
        inputs: &'a [Tensor],
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Answer, Abstention>> + Send + 'a>>
    {
        // The audit append waits for the ledger's durable commit: run it where blocking is
        // allowed, so the async workers keep serving and the ledger groups the commits.
        let this = GuardBackend {
            guard: self.guard.clone(),
            info: self.info.clone(),
            drift: self.drift.clone(),
        };
        let caller = caller.clone();
        let inputs = inputs.to_vec();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || this.infer(&caller, &inputs))
                .await
                .unwrap_or_else(|_| Err(Abstention::early(Abstain::Guard(Reason::InferenceFailed))))
        })
    }
}
