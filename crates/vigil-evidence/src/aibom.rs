//! The AIBOM of a verified bundle: CycloneDX 1.6 with the model as a `machine-learning-model`
//! component (every bundle file as a nested `file` component with its SHA-256, the model card
//! from `vigil.toml`), its data sets as `data` components, the signers' key ids, and the
//! dependencies between them.

use serde_cyclonedx::cyclonedx::v_1_6 as cdx;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use vigil_bundle::{SignatureStatus, VerifiedBundle};

use crate::bom::from_json;
use crate::error::EvidenceError;

fn text(table: Option<&toml::Table>, key: &str) -> Option<String> {
    table?.get(key).and_then(|v| match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    })
}

/// The AIBOM of `bundle` (verified: its files are the signed bytes); `timestamp` is RFC 3339.
pub fn aibom(bundle: &VerifiedBundle, timestamp: &str) -> Result<cdx::CycloneDx, EvidenceError> {
    let config = bundle.config().ok_or_else(|| EvidenceError::Limit {
        what:
            "the bundle has no signed vigil.toml: an AIBOM needs its name, version and model card"
                .into(),
    })?;
    let doc = &config.document;
    let table = |k: &str| doc.get(k).and_then(toml::Value::as_table);
    let card = table("model_card");
    let model_ref = format!("model:{}@{}", config.name, config.version);

    // Every signed file, with its SHA-256.
    let mut files: Vec<Value> = bundle
        .files()
        .map(|(name, bytes)| {
            json!({
                "type": "file",
                "name": name,
                "bom-ref": format!("file:{name}"),
                "hashes": [{"alg": "SHA-256", "content": hex::encode(Sha256::digest(bytes))}],
            })
        })
        .collect();
    files.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));

    // Data sets: `[data]` names each split with the SHA-256 of its file, or a table with the
    // signed manifest's Merkle root (`vigil data manifest`), checked by vigil-bundle.
    let sets = config.data_sets().map_err(|e| match e {
        vigil_bundle::BundleError::Manifest { path, reason } => {
            EvidenceError::Parse { path, reason }
        }
        other => EvidenceError::Parse {
            path: vigil_bundle::CONFIG_FILE.into(),
            reason: other.to_string(),
        },
    })?;
    let mut datasets = Vec::new();
    for set in sets {
        let split = &set.split;
        let mut c = json!({
            "type": "data",
            "name": split,
            "bom-ref": format!("data:{split}"),
            "data": [{"type": "dataset", "name": split}],
        });
        if let Some(d) = &set.sha256 {
            c["hashes"] = json!([{"alg": "SHA-256", "content": d}]);
        }
        if let Some(r) = &set.manifest_root {
            c["properties"] = json!([{"name": "vigil:manifest-root", "value": r}]);
        }
        datasets.push(c);
    }

    // The model card.
    let contract = table("contract");
    let inputs: Vec<Value> = contract
        .and_then(|c| c.get("inputs"))
        .and_then(toml::Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(toml::Value::as_table)
                .map(|t| {
                    let shape = t.get("shape").map(|s| s.to_string()).unwrap_or_default();
                    json!({"format": format!("{} {}{shape}", text(Some(t), "name").unwrap_or_default(), text(Some(t), "dtype").unwrap_or_default())})
                })
                .collect()
        })
        .unwrap_or_default();
    let output = contract
        .and_then(|c| c.get("output"))
        .and_then(toml::Value::as_table);
    let labels = output
        .and_then(|o| o.get("labels"))
        .and_then(toml::Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(toml::Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let outputs =
        json!([{"format": format!("{}: {labels}", text(output, "name").unwrap_or_default())}]);
    let metrics: Vec<Value> = card
        .map(|c| {
            c.iter()
                .filter_map(|(k, v)| {
                    let slice = k.strip_prefix("accuracy_")?;
                    Some(json!({"type": "accuracy", "value": v.to_string(), "slice": slice}))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut limitations: Vec<String> = Vec::new();
    if let Some(l) = card.and_then(|c| c.get("limitations")) {
        match l {
            toml::Value::String(s) => limitations.push(s.clone()),
            toml::Value::Array(a) => {
                limitations.extend(a.iter().filter_map(|x| x.as_str().map(String::from)))
            }
            _ => {}
        }
    }
    if let Some(s) = text(contract, "safe_state") {
        limitations.push(format!(
            "outside its input contract the device abstains: {s}"
        ));
    }
    let mut model_card = json!({
        "modelParameters": {
            "task": "classification",
            "inputs": inputs,
            "outputs": outputs,
            "datasets": datasets.iter().map(|d| json!({"ref": d["bom-ref"]})).collect::<Vec<_>>(),
        },
        "considerations": {
            "useCases": config.intended_use.iter().collect::<Vec<_>>(),
            "technicalLimitations": limitations,
        },
    });
    if let Some(a) = text(card, "architecture") {
        model_card["modelParameters"]["modelArchitecture"] = json!(a);
    }
    if !metrics.is_empty() {
        model_card["quantitativeAnalysis"] = json!({"performanceMetrics": metrics});
    }
    if let Some(t) = text(card, "training_data") {
        model_card["properties"] = json!([{"name": "vigil:training-data", "value": t}]);
    }

    // Who signed it.
    let signers: Vec<Value> = bundle
        .report()
        .signatures
        .iter()
        .filter_map(|s| match &s.status {
            SignatureStatus::Counted { signer, role, key_id } => Some(json!({
                "name": "vigil:signer",
                "value": format!("{signer} ({}) key {}", if role.is_empty() { "key" } else { role }, key_id.as_str()),
            })),
            _ => None,
        })
        .collect();

    let model = json!({
        "type": "machine-learning-model",
        "name": config.name,
        "version": config.version.to_string(),
        "bom-ref": model_ref,
        "description": config.intended_use,
        "hashes": [{"alg": "SHA-256", "content": hex::encode(bundle.digest())}],
        "modelCard": model_card,
        "components": files,
        "properties": signers,
    });
    let mut components = vec![model];
    components.extend(datasets.iter().cloned());
    let dependencies = json!([
        {"ref": model_ref, "dependsOn": datasets.iter().map(|d| d["bom-ref"].clone()).collect::<Vec<_>>()},
    ]);
    let digest = Sha256::digest(format!("{model_ref} {}", hex::encode(bundle.digest())));
    let value = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": crate::vex::urn_uuid(&digest),
        "version": 1,
        "metadata": {
            "timestamp": timestamp,
            "component": {"type": "machine-learning-model", "name": config.name, "version": config.version.to_string(), "bom-ref": format!("bundle:{}@{}", config.name, config.version)},
        },
        "components": components,
        "dependencies": dependencies,
    });
    from_json("the AIBOM", value)
}
