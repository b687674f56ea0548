//! `manifest DATA OUT.json`: what `vigil data manifest DATA --out OUT.json` runs, signed with a
//! fixed demo key (for bench/data without the full CLI). Prints the Merkle root.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let (Some(data), Some(out)) = (args.next(), args.next()) else {
        return Err("usage: manifest DATA OUT.json".into());
    };
    let (data, out) = (PathBuf::from(data), PathBuf::from(out));
    let key = vigil_core::SigningKey::ed25519_from_seed(&[1; 32]);
    let samples = vigil_data::hash_path(&data, &vigil_data::Roles::default(), &|_| {})?;
    let identity = vigil_data::Identity {
        name: "bench".into(),
        version: "1".into(),
        ..vigil_data::Identity::default()
    };
    let m = vigil_data::write_signed(&samples, &identity, &out, &key)?;
    println!("{}", m.merkle_root);
    Ok(())
}
