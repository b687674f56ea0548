//! With a ledger: refused clients become events (once per connection), checkpoints are
//! signed, and auditors fetch the latest checkpoint and inclusion proofs that verify.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use vigil_ledger::{open_checkpoint, InclusionProof, Ledger, NoteSigner};
use vigil_server::{AuditLog, Clients, Gateway, GatewayOptions, ToyBackend};

async fn get(g: &Gateway, who: &str, path: &str) -> (u16, Vec<u8>) {
    let (status, _, _, body) = common::call(g, Some(who), "GET", path, Vec::new()).await;
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_recorded_and_auditors_get_proofs() {
    let dir = tempfile::tempdir().unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    let origin = "test.example/gateway";
    let ledger = Ledger::create(
        &dir.path().join("audit.db"),
        origin,
        &key.verifying_key(),
        None,
    )
    .unwrap();
    let signer = NoteSigner::new(origin, key.clone()).unwrap();
    let audit = AuditLog::new(ledger.clone(), Some(signer.clone()));
    let clients = Clients::parse(
        "[[client]]\nname = \"auditor\"\nrole = \"audit\"\n[[client]]\nname = \"gone\"\nrole = \"infer\"\nrevoked = true\n",
    )
    .unwrap();
    let g = Gateway::new(
        Arc::new(ToyBackend::new()),
        clients,
        GatewayOptions {
            audit: Some(audit.clone()),
            ..GatewayOptions::default()
        },
    );
    // No checkpoint yet.
    assert_eq!(get(&g, "auditor", "/vigil/ledger/checkpoint").await.0, 404);
    // Two refused clients: two events.
    assert_eq!(get(&g, "stranger", "/v2/health/live").await.0, 403);
    assert_eq!(get(&g, "gone", "/v2/health/live").await.0, 403);
    assert_eq!(ledger.size(), 2);
    let event: serde_json::Value = serde_json::from_slice(&ledger.entry(0).unwrap()).unwrap();
    assert_eq!(event["type"], "gateway.client_refused");
    assert!(event["time_ms"].as_u64().unwrap() > 0);
    assert!(matches!(
        vigil_ledger::Event::from_json(&ledger.entry(0).unwrap()).unwrap(),
        vigil_ledger::Event::ClientRefused(_)
    ));
    assert_eq!(event["reason"], "unknown_client");
    assert_eq!(event["client"], "stranger");
    let event: serde_json::Value = serde_json::from_slice(&ledger.entry(1).unwrap()).unwrap();
    assert_eq!(event["reason"], "revoked_client");

    assert!(audit.checkpoint_if_grown().await.unwrap().is_some());
    assert!(
        audit.checkpoint_if_grown().await.unwrap().is_none(),
        "no growth, no checkpoint"
    );
    let (s, note) = get(&g, "auditor", "/vigil/ledger/checkpoint").await;
    assert_eq!(s, 200);
    let opened = open_checkpoint(&note, &[signer.verifier()], None).unwrap();
    assert_eq!(opened.checkpoint.size, 2);
    let (s, body) = get(&g, "auditor", "/vigil/ledger/proof?index=1").await;
    assert_eq!(s, 200);
    let proof = InclusionProof::from_json(&body).unwrap();
    assert_eq!(proof.size, 2);
    assert_eq!(proof.root, opened.checkpoint.root);
    proof.verify().unwrap();
    // Out of range and malformed queries are refused with the protocol's error form.
    let (s, body) = get(&g, "auditor", "/vigil/ledger/proof?index=5").await;
    assert_eq!(s, 400, "{}", String::from_utf8_lossy(&body));
    let (s, _) = get(&g, "auditor", "/vigil/ledger/proof?index=x").await;
    assert_eq!(s, 400);
}
