//! Manifests end to end: any single changed, added or removed sample is named by verify and
//! diff (property test); hostile CSVs and folders are refused naming the row or path; the root
//! is the RFC 9162 root recomputed independently; a tampered sidecar or manifest is refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use proptest::prelude::*;
use sha2::{Digest, Sha256};
use vigil_core::{KeyAlgorithm, SigningKey};
use vigil_data::{Identity, Roles, SampleRef};

fn key() -> SigningKey {
    SigningKey::ed25519_from_seed(&[7; 32])
}

fn sign(dir: &Path, data: &Path, roles: &Roles, out: &str) -> std::path::PathBuf {
    let samples = vigil_data::hash_path(data, roles, &|_| {}).unwrap();
    let identity = Identity {
        name: "d".into(),
        version: "1".into(),
        id_column: roles.id.clone(),
        label_column: roles.label.clone(),
        ..Identity::default()
    };
    let path = dir.join(out);
    vigil_data::write_signed(&samples, &identity, &path, &key()).unwrap();
    path
}

fn csv(rows: &[String]) -> String {
    let mut s = String::from("id,x,label\n");
    for r in rows {
        s.push_str(r);
        s.push('\n');
    }
    s
}

fn rows(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("s{i},{},{}", i * 7 % 13, i % 3))
        .collect()
}

#[derive(Debug, Clone)]
enum Edit {
    Change(usize),
    Add(usize),
    Remove(usize),
}

fn edit() -> impl Strategy<Value = (usize, Edit)> {
    (2usize..60).prop_flat_map(|n| {
        (
            Just(n),
            prop_oneof![
                (0..n).prop_map(Edit::Change),
                (0..=n).prop_map(Edit::Add),
                (0..n).prop_map(Edit::Remove),
            ],
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_single_edit_is_named((n, e) in edit(), with_id in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("d.csv");
        let old = rows(n);
        std::fs::write(&data, csv(&old)).unwrap();
        let roles = Roles { id: with_id.then(|| "id".into()), ..Roles::default() };
        let m = sign(dir.path(), &data, &roles, "old.json");
        let mut new = old.clone();
        let (expect_changed, expect_added, expect_removed): (Vec<SampleRef>, Vec<SampleRef>, Vec<SampleRef>) = match e {
            Edit::Change(i) => {
                new[i] = format!("s{i},999,{}", i % 3);
                let r = if with_id { SampleRef::Name(format!("s{i}")) } else { SampleRef::Row(i as u64) };
                (vec![r], vec![], vec![])
            }
            Edit::Add(i) => {
                new.insert(i, "new,1,1".into());
                let r = if with_id { SampleRef::Name("new".into()) } else { SampleRef::Row(i as u64) };
                (vec![], vec![r], vec![])
            }
            Edit::Remove(i) => {
                new.remove(i);
                let r = if with_id { SampleRef::Name(format!("s{i}")) } else { SampleRef::Row(i as u64) };
                (vec![], vec![], vec![r])
            }
        };
        std::fs::write(&data, csv(&new)).unwrap();
        let opened = vigil_data::open(&m, Some(&key().public_key())).unwrap();
        let v = vigil_data::verify(&opened, &data, &|_| {}).unwrap();
        prop_assert!(!v.verified);
        prop_assert_eq!(&v.changed, &expect_changed);
        prop_assert_eq!(&v.added, &expect_added);
        prop_assert_eq!(&v.removed, &expect_removed);
        prop_assert_eq!(v.samples, new.len() as u64);
        // diff of the two manifests names the same samples.
        let m2 = sign(dir.path(), &data, &roles, "new.json");
        let d = vigil_data::diff(&opened, &vigil_data::open(&m2, None).unwrap());
        prop_assert_eq!(d.changed, expect_changed);
        prop_assert_eq!(d.added, expect_added);
        prop_assert_eq!(d.removed, expect_removed);
    }
}

fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = 1 << (usize::BITS - 1 - (n - 1).leading_zeros());
            let mut h = Sha256::new();
            h.update([1u8]);
            h.update(mth(&leaves[..k]));
            h.update(mth(&leaves[k..]));
            h.finalize().into()
        }
    }
}

#[test]
fn root_is_recomputable_from_the_documented_encoding() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.csv");
    let text = b"\xef\xbb\xbfa,b\r\n1,\"x,\"\"y\"\"\nz\"\r\n\r\n2, 3 \r\n4,5";
    std::fs::write(&data, text).unwrap();
    let s = vigil_data::hash_path(&data, &Roles::default(), &|_| {}).unwrap();
    let records: [&[u8]; 3] = [b"1,\"x,\"\"y\"\"\nz\"", b"2, 3 ", b"4,5"];
    let leaves: Vec<[u8; 32]> = records
        .iter()
        .map(|r| {
            let d: [u8; 32] = Sha256::digest(r).into();
            let mut h = Sha256::new();
            h.update([0u8]);
            h.update(d);
            h.finalize().into()
        })
        .collect();
    assert_eq!(s.len(), 3);
    assert_eq!(s.merkle_root(), mth(&leaves));
    assert_eq!(s.header_sha256, Some(Sha256::digest(b"a,b").into()));
    // A large data set takes the parallel paths (records in stretches, subtrees in parallel).
    let mut big = String::from("a,b\n");
    for i in 0..70_000 {
        big.push_str(&format!("{i},{}\n", i * 31 % 1000));
    }
    std::fs::write(&data, &big).unwrap();
    let s = vigil_data::hash_path(&data, &Roles::default(), &|_| {}).unwrap();
    let leaves: Vec<[u8; 32]> = big
        .lines()
        .skip(1)
        .map(|r| {
            let d: [u8; 32] = Sha256::digest(r.as_bytes()).into();
            let mut h = Sha256::new();
            h.update([0u8]);
            h.update(d);
            h.finalize().into()
        })
        .collect();
    assert_eq!(s.merkle_root(), mth(&leaves));
}

#[test]
fn folders_are_named_by_path_and_hostile_entries_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("b/c")).unwrap();
    std::fs::write(data.join("a.bin"), b"one").unwrap();
    std::fs::write(data.join("b/c/x.ecg"), b"two").unwrap();
    let m = sign(dir.path(), &data, &Roles::default(), "m.json");
    let opened = vigil_data::open(&m, Some(&key().public_key())).unwrap();
    assert_eq!(opened.names.as_deref().unwrap(), ["a.bin", "b/c/x.ecg"]);
    assert!(
        vigil_data::verify(&opened, &data, &|_| {})
            .unwrap()
            .verified
    );
    std::fs::write(data.join("b/c/x.ecg"), b"TWO").unwrap();
    std::fs::rename(data.join("a.bin"), data.join("a2.bin")).unwrap();
    let v = vigil_data::verify(&opened, &data, &|_| {}).unwrap();
    assert_eq!(v.changed, [SampleRef::Name("b/c/x.ecg".into())]);
    assert_eq!(v.added, [SampleRef::Name("a2.bin".into())]);
    assert_eq!(v.removed, [SampleRef::Name("a.bin".into())]);

    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("/etc/passwd", data.join("b/link")).unwrap();
        let err = vigil_data::hash_path(&data, &Roles::default(), &|_| {}).unwrap_err();
        assert!(err.to_string().contains("b/link: a symbolic link"), "{err}");
        std::fs::remove_file(data.join("b/link")).unwrap();
        let fifo = data.join("pipe");
        let ok = std::process::Command::new("mkfifo").arg(&fifo).status();
        if ok.is_ok_and(|s| s.success()) {
            let err = vigil_data::hash_path(&data, &Roles::default(), &|_| {}).unwrap_err();
            assert!(
                err.to_string().contains("pipe: not a regular file"),
                "{err}"
            );
        }
    }
}

#[test]
fn hostile_csvs_name_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.csv");
    let roles = Roles {
        id: Some("id".into()),
        ..Roles::default()
    };
    let cases: [(&[u8], &str); 6] = [
        (b"id,x\n1,2\n3\n", "line 3: 1 fields, the header has 2"),
        (b"id,x\n1,\"2\n", "line 2: unterminated quoted field"),
        (b"id,x\n1,2\"x\n", "line 2: quote inside an unquoted field"),
        (b"id,x\n1,2\n1,3\n", "row 1: id \"1\" repeats row 0"),
        (b"id,x\n1,2\n,3\n", "row 1: empty id"),
        (b"\xef\xbb\xbfid,y\n1,2\n", "missing column \"x\""),
    ];
    for (text, expect) in cases {
        std::fs::write(&data, text).unwrap();
        let mut r = roles.clone();
        if expect.contains("missing") {
            r.label = Some("x".into());
        }
        let err = vigil_data::hash_path(&data, &r, &|_| {}).unwrap_err();
        assert!(err.to_string().contains(expect), "{err} / {expect}");
    }
    let huge = format!("id,x\n1,{}\n", "9".repeat(5000));
    std::fs::write(&data, huge).unwrap();
    let err = vigil_data::hash_path(&data, &roles, &|_| {}).unwrap_err();
    assert!(
        err.to_string().contains("line 2: cell longer than"),
        "{err}"
    );
}

#[test]
fn tampering_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.csv");
    std::fs::write(&data, csv(&rows(5))).unwrap();
    let m = sign(dir.path(), &data, &Roles::default(), "m.json");
    let other = SigningKey::generate(KeyAlgorithm::EcdsaP256).public_key();
    let err = vigil_data::open(&m, Some(&other)).unwrap_err();
    assert!(err.to_string().contains("signature check failed"), "{err}");
    let side = vigil_data::sidecar_path(&m);
    let mut bytes = std::fs::read(&side).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&side, &bytes).unwrap();
    let err = vigil_data::open(&m, Some(&key().public_key())).unwrap_err();
    assert!(
        err.to_string().contains("does not match the SHA-256"),
        "{err}"
    );
    // Decoding is bounded: an absurd count is refused, not allocated.
    let mut fake = b"vigil-data-samples/v1\n\x00".to_vec();
    fake.extend_from_slice(&u64::MAX.to_le_bytes());
    assert!(vigil_data::decode_sidecar(&fake).is_err());
    vigil_data::internal::fuzz_manifest(&fake);
}

#[test]
fn fuzz_entry_points_survive_their_seeds() {
    for (target, f) in [
        ("data_csv", vigil_data::internal::fuzz_csv as fn(&[u8])),
        ("data_manifest", vigil_data::internal::fuzz_manifest),
    ] {
        let dir = format!("{}/../../fuzz/seeds/{target}", env!("CARGO_MANIFEST_DIR"));
        for entry in std::fs::read_dir(dir).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            f(&bytes);
            // Truncations of every seed too.
            for cut in (0..bytes.len()).step_by(7) {
                f(&bytes[..cut]);
            }
        }
    }
    // A seed manifest parses (unverified) to its predicate.
    let m = std::fs::read(format!(
        "{}/../../fuzz/seeds/data_manifest/manifest.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let parsed = vigil_data::parse_manifest(&m, None).unwrap();
    assert_eq!(
        (parsed.samples, parsed.id_column.as_deref()),
        (2, Some("id"))
    );
}

/// The sidecar written (streamed through a buffer, hashed on the way) is byte for byte
/// `encode_sidecar`, its digest and length are the manifest's, and no temporary file is left.
#[test]
fn written_sidecar_is_the_documented_encoding() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.csv");
    std::fs::write(&data, csv(&rows(5000))).unwrap();
    for (roles, out) in [
        (Roles::default(), "plain.json"),
        (
            Roles {
                id: Some("id".into()),
                ..Roles::default()
            },
            "named.json",
        ),
    ] {
        let samples = vigil_data::hash_path(&data, &roles, &|_| {}).unwrap();
        let m = sign(dir.path(), &data, &roles, out);
        let written = std::fs::read(vigil_data::sidecar_path(&m)).unwrap();
        assert_eq!(
            written,
            vigil_data::encode_sidecar(&samples.digests, samples.names.as_deref())
        );
        let opened = vigil_data::open(&m, Some(&key().public_key())).unwrap();
        assert_eq!(opened.manifest.sidecar.bytes, written.len() as u64);
        assert_eq!(
            opened.manifest.sidecar.sha256,
            hex::encode(Sha256::digest(&written))
        );
        assert_eq!(
            opened.manifest.merkle_root,
            hex::encode(samples.merkle_root())
        );
    }
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "d.csv",
            "named.json",
            "named.samples",
            "plain.json",
            "plain.samples"
        ]
    );
}
