//! The threat model as an OWASP Threat Dragon v2 model (`--threat-dragon FILE.json`): a data-flow
//! diagram of the clients, the gateway, the guard and its model, the audit ledger, the update
//! repository and the collector, with every catalog row attached to the element it threatens,
//! so security engineers keep editing it in the tool they know. The fields follow Threat
//! Dragon's schema `owasp-threat-dragon-v2.schema.json` (every required field is written).

use serde::Serialize;

use crate::deploy::Deployment;
use crate::threats::{Row, Status, Threat, ThreatModel};

/// The Threat Dragon version the model is written as.
pub const TD_VERSION: &str = "2.4.0";

/// A Threat Dragon v2 model.
#[derive(Debug, Clone, Serialize)]
pub struct TdModel {
    version: &'static str,
    summary: TdSummary,
    detail: TdDetail,
}

#[derive(Debug, Clone, Serialize)]
struct TdSummary {
    title: String,
    owner: String,
    description: String,
    id: u32,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct TdDetail {
    contributors: Vec<TdContributor>,
    diagrams: Vec<TdDiagram>,
    diagram_top: u32,
    reviewer: String,
    threat_top: u32,
}

#[derive(Debug, Clone, Serialize)]
struct TdContributor {
    name: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct TdDiagram {
    id: u32,
    title: String,
    diagram_type: &'static str,
    placeholder: String,
    thumbnail: &'static str,
    version: &'static str,
    description: String,
    cells: Vec<TdCell>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct TdCell {
    id: String,
    shape: &'static str,
    z_index: i32,
    visible: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    position: Option<TdPoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<TdSize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<TdEnd>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<TdEnd>,
    #[serde(skip_serializing_if = "Option::is_none")]
    connector: Option<&'static str>,
    attrs: serde_json::Value,
    data: TdData,
}

#[derive(Debug, Clone, Serialize)]
struct TdPoint {
    x: f64,
    y: f64,
}

#[derive(Debug, Clone, Serialize)]
struct TdSize {
    width: f64,
    height: f64,
}

#[derive(Debug, Clone, Serialize)]
struct TdEnd {
    cell: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct TdData {
    #[serde(rename = "type")]
    kind: &'static str,
    name: String,
    description: String,
    out_of_scope: bool,
    reason_out_of_scope: String,
    has_open_threats: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_encrypted: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_signed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_a_log: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    protocol: Option<String>,
    threats: Vec<TdThreat>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct TdThreat {
    threat_id: String,
    number: u32,
    title: String,
    status: &'static str,
    severity: &'static str,
    #[serde(rename = "type")]
    kind: String,
    model_type: &'static str,
    description: String,
    mitigation: String,
    score: String,
}

/// Where each row's threat sits in the diagram.
fn element_of(id: &str) -> &'static str {
    match id {
        "T01" | "T02" | "T03" | "T04" | "T05" | "T06" | "T07" | "T08" | "T20" => "model",
        "T09" | "T10" | "T11" | "T12" | "T16" => "guard",
        "T13" | "T15" => "gateway",
        "T14" => "flow-clients",
        "T17" | "T18" => "flow-update",
        "T19" => "ledger",
        _ => "guard",
    }
}

fn threat(t: &Threat, row: &Row, number: u32) -> TdThreat {
    let (status, severity) = match row.status {
        Status::Met => ("Mitigated", "Low"),
        Status::Partial => ("Open", "Medium"),
        Status::Missing => ("Open", "High"),
        Status::NotApplicable => ("NA", "Low"),
    };
    let checks: Vec<String> = row
        .checks
        .iter()
        .map(|c| {
            format!(
                "[{}] {}: {}",
                if c.ok { "ok" } else { "FAILED" },
                c.check,
                c.evidence
            )
        })
        .collect();
    TdThreat {
        threat_id: format!("vigil-{}", t.id),
        number,
        title: format!("{} {}", t.id, t.threat),
        status,
        severity,
        kind: t.fda_name.clone(),
        model_type: "Generic",
        description: format!(
            "{} (phase: {}; ATLAS {}; OWASP {}). Vigil's evaluation: {}.\n{}",
            t.threat,
            t.phase,
            t.atlas.join(", "),
            t.owasp.join(", "),
            row.reason.as_deref().unwrap_or("met"),
            checks.join("\n")
        ),
        mitigation: t.control.clone(),
        score: format!("{:?}", row.status).to_lowercase(),
    }
}

fn node(key: &str, shape: &'static str, kind: &'static str, name: &str, x: f64, y: f64) -> TdCell {
    let attrs = match shape {
        "store" => {
            serde_json::json!({"text": {"text": name}, "topLine": {"strokeWidth": 1.5, "strokeDasharray": null}, "bottomLine": {"strokeWidth": 1.5, "strokeDasharray": null}})
        }
        _ => {
            serde_json::json!({"text": {"text": name}, "body": {"stroke": "#333333", "strokeWidth": 1.5, "strokeDasharray": null}})
        }
    };
    TdCell {
        id: format!("vigil-{key}"),
        shape,
        z_index: 1,
        visible: true,
        position: Some(TdPoint { x, y }),
        size: Some(TdSize {
            width: 160.0,
            height: 80.0,
        }),
        source: None,
        target: None,
        connector: None,
        attrs,
        data: TdData {
            kind,
            name: name.to_string(),
            description: String::new(),
            out_of_scope: false,
            reason_out_of_scope: String::new(),
            has_open_threats: false,
            is_encrypted: None,
            is_signed: None,
            is_a_log: (shape == "store").then_some(true),
            protocol: None,
            threats: Vec::new(),
        },
    }
}

fn flow(
    key: &str,
    from: &str,
    to: &str,
    name: &str,
    protocol: &str,
    encrypted: bool,
    signed: bool,
) -> TdCell {
    TdCell {
        id: format!("vigil-{key}"),
        shape: "flow",
        z_index: 2,
        visible: true,
        position: None,
        size: None,
        source: Some(TdEnd {
            cell: format!("vigil-{from}"),
        }),
        target: Some(TdEnd {
            cell: format!("vigil-{to}"),
        }),
        connector: Some("smooth"),
        attrs: serde_json::json!({"line": {"stroke": "#333333", "strokeWidth": 1.5, "targetMarker": {"name": "classic"}, "sourceMarker": {"name": ""}, "strokeDasharray": null}}),
        data: TdData {
            kind: "tm.Flow",
            name: name.to_string(),
            description: String::new(),
            out_of_scope: false,
            reason_out_of_scope: String::new(),
            has_open_threats: false,
            is_encrypted: Some(encrypted),
            is_signed: Some(signed),
            is_a_log: None,
            protocol: Some(protocol.to_string()),
            threats: Vec::new(),
        },
    }
}

/// The Threat Dragon model of `model` (rows of `catalog`) for `deployment`.
pub fn threat_dragon(model: &ThreatModel, catalog: &[Threat], deployment: &Deployment) -> TdModel {
    let mtls = deployment.gateway.mtls;
    let mut cells = vec![
        node(
            "clients",
            "actor",
            "tm.Actor",
            "clinical clients",
            40.0,
            200.0,
        ),
        node(
            "gateway",
            "process",
            "tm.Process",
            &format!("gateway {}", deployment.gateway.address),
            300.0,
            200.0,
        ),
        node(
            "guard",
            "process",
            "tm.Process",
            "runtime guard",
            560.0,
            200.0,
        ),
        node(
            "model",
            "process",
            "tm.Process",
            "signed model bundle",
            560.0,
            400.0,
        ),
        node("ledger", "store", "tm.Store", "audit ledger", 820.0, 200.0),
        node(
            "repo",
            "actor",
            "tm.Actor",
            "update repository (TUF)",
            300.0,
            400.0,
        ),
        node(
            "collector",
            "actor",
            "tm.Actor",
            "fleet collector",
            820.0,
            400.0,
        ),
        flow(
            "flow-clients",
            "clients",
            "gateway",
            "inference requests and answers",
            if mtls { "HTTPS (mutual TLS)" } else { "HTTPS" },
            true,
            false,
        ),
        flow(
            "flow-guard",
            "gateway",
            "guard",
            "guarded inference",
            "in process",
            false,
            false,
        ),
        flow(
            "flow-model",
            "guard",
            "model",
            "model inputs and outputs",
            "in process",
            false,
            true,
        ),
        flow(
            "flow-audit",
            "guard",
            "ledger",
            "signed audit events",
            "in process",
            false,
            true,
        ),
        flow(
            "flow-update",
            "repo",
            "model",
            "model updates",
            "HTTPS or removable media (TUF)",
            false,
            true,
        ),
        flow(
            "flow-collector",
            "ledger",
            "collector",
            "checkpoints, alarms, drift",
            "HTTPS (mutual TLS)",
            true,
            true,
        ),
    ];
    let mut number = 0;
    for t in catalog {
        let Some(row) = model.threats.iter().find(|r| r.id == t.id) else {
            continue;
        };
        number += 1;
        let target = format!("vigil-{}", element_of(&t.id));
        if let Some(cell) = cells.iter_mut().find(|c| c.id == target) {
            let td = threat(t, row, number);
            cell.data.has_open_threats |= td.status == "Open";
            cell.data.threats.push(td);
        }
    }
    TdModel {
        version: TD_VERSION,
        summary: TdSummary {
            title: format!("{} (Vigil threat model)", deployment.device.name),
            owner: deployment.device.manufacturer.clone(),
            description: format!(
                "Generated by `vigil evidence threats` from live checks: {}. Intended use: {}",
                ["met", "partial", "missing"]
                    .iter()
                    .map(|k| format!("{} {k}", model.summary.get(*k).copied().unwrap_or(0)))
                    .collect::<Vec<_>>()
                    .join(", "),
                deployment.device.intended_use
            ),
            id: 0,
        },
        detail: TdDetail {
            contributors: vec![TdContributor {
                name: "vigil evidence threats".into(),
            }],
            diagrams: vec![TdDiagram {
                id: 0,
                title: "device data flow".into(),
                diagram_type: "Generic",
                placeholder: "Data flow of the device, its gateway, ledger, updates and collector"
                    .into(),
                thumbnail: "./public/content/images/thumbnail.jpg",
                version: TD_VERSION,
                description: "Data flow of the device, its gateway, ledger, updates and collector"
                    .into(),
                cells,
            }],
            diagram_top: 1,
            reviewer: String::new(),
            threat_top: number,
        },
    }
}
