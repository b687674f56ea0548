//! Verify what you load: open the example device's bundle under its 2-of-2 demo policy, then
//! hand the verified model bytes to a loader. The bytes returned are the bytes that were hashed.
//!
//!     cargo run -p vigil-bundle --example verified_load

use std::path::Path;

use vigil_bundle::{BundlePolicy, BundleVerifier, Trust};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let device = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/devices/breast-cancer");
    let policy = BundlePolicy::load(&device.join("policy.toml"))?;
    let bundle = BundleVerifier::new(device.join("bundle"), Trust::Policy(policy)).verify()?;

    let config = bundle
        .config()
        .ok_or("the bundle has no signed vigil.toml")?;
    let model = bundle
        .file(&config.model)
        .ok_or("the model file is not signed")?;
    println!(
        "verified {} {} ({} signers)",
        config.name,
        config.version,
        bundle.report().counted().count()
    );
    println!(
        "model {} : {} bytes, bundle digest sha256:{}",
        config.model,
        model.len(),
        hex(&bundle.digest())
    );
    // An inference engine would now parse `model` (these exact bytes), never re-read the file.
    assert!(model.len() > 16, "an ONNX model");
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
