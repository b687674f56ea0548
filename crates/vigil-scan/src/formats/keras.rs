//! Keras v3 `config.json`: Lambda layers and objects from modules outside Keras.

use crate::context::Ctx;
use std::collections::HashSet;

use serde_json::Value;

use crate::globals::{judge, Verdict};
use crate::{Rule, Severity};

const KERAS_MODULES: &[&str] = &["keras", "tensorflow", "tf_keras", "tf"];

fn keras_walk(
    ctx: &mut Ctx<'_>,
    v: &Value,
    member: &str,
    depth: usize,
    seen: &mut HashSet<String>,
) {
    if depth > 256 {
        ctx.fail(
            Rule::ResourceLimit,
            "config nested too deeply".into(),
            Some(member),
        );
        return;
    }
    match v {
        Value::Object(m) => {
            let class = m.get("class_name").and_then(Value::as_str).unwrap_or("");
            if class == "__lambda__" {
                ctx.add(Severity::Critical, Rule::KerasLambda, "serialized lambda function: its marshalled Python bytecode runs when the model is loaded with safe_mode off".into(), None, Some(member));
            }
            if class == "Lambda" {
                let name = m
                    .get("config")
                    .and_then(|c| c.get("name"))
                    .and_then(Value::as_str)
                    .unwrap_or("?");
                ctx.add(Severity::Critical, Rule::KerasLambda, format!("Lambda layer {name:?}: its marshalled Python bytecode runs when the model is loaded with safe_mode off"), None, Some(member));
            }
            if let Some(module) = m.get("module").and_then(Value::as_str) {
                let top = module.split('.').next().unwrap_or("");
                if !KERAS_MODULES.contains(&top) {
                    let name = if class == "function" {
                        m.get("config")
                            .and_then(Value::as_str)
                            .unwrap_or(class)
                            .to_string()
                    } else {
                        class.to_string()
                    };
                    let global = format!("{module}.{name}");
                    if seen.insert(global.clone()) && judge(&global) != Verdict::Safe {
                        let (sev, why) = match judge(&global) {
                            Verdict::Deny(s, why) => (s, why.to_string()),
                            _ => (
                                Severity::Medium,
                                "a custom object from outside Keras runs its own code".to_string(),
                            ),
                        };
                        ctx.add(
                            sev,
                            Rule::KerasUnknownModule,
                            format!("config deserializes {global}: {why}"),
                            Some(&global),
                            Some(member),
                        );
                    }
                }
            }
            for val in m.values() {
                keras_walk(ctx, val, member, depth + 1, seen);
            }
        }
        Value::Array(a) => {
            for val in a {
                keras_walk(ctx, val, member, depth + 1, seen);
            }
        }
        _ => {}
    }
}

/// Check a Keras v3 `config.json` for Lambda layers and objects from outside Keras.
pub(crate) fn keras_config(ctx: &mut Ctx<'_>, bytes: &[u8], member: &str) {
    let v: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            ctx.fail(
                Rule::KerasMalformed,
                format!("config.json is not valid JSON: {e}"),
                Some(member),
            );
            return;
        }
    };
    keras_walk(ctx, &v, member, 0, &mut HashSet::new());
}
