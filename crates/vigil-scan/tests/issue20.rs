//! Regression tests for the scanner defects of issue 20 (items 2, 3, 4 and 15), one test per
//! defect, named `issue20_<item>_<what>`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers

mod wrap;

use vigil_scan::{FileReport, Limits, Policy, Rule, Scanner, Severity};

const EVIL: &[u8] = b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00idq\x00\x85q\x01R.";
const BENIGN: &[u8] = b"\x80\x02}q\x00X\x01\x00\x00\x00aK\x01s.";

fn scanner() -> Scanner {
    Scanner::new(Limits::default(), Policy::new())
}

fn small() -> Limits {
    let mut l = Limits::default();
    l.max_decompressed = 4 << 20;
    l
}

fn has(r: &FileReport, rule: Rule, sev: Severity) -> bool {
    r.findings
        .iter()
        .any(|f| f.rule == rule && f.severity == sev)
}

/// Deterministic bytes no format claims (xorshift).
fn noise(n: usize) -> Vec<u8> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8 | 0x80
        })
        .collect()
}

#[test]
fn issue20_2_every_wrapper_reports_a_bomb_as_a_resource_limit() {
    let s = Scanner::new(small(), Policy::new());
    for codec in wrap::CODECS {
        for content in [&[0u8; 1 << 16][..], &[b'a'; 1 << 16][..]] {
            // 16 MiB: over the 4 MiB cap of this test.
            let bomb = wrap::wrap_repeated(codec, content, 256);
            let r = s.scan_bytes("bomb", &bomb);
            assert!(
                has(&r, Rule::ResourceLimit, Severity::Medium),
                "{codec}: {:?}",
                r.findings
            );
            assert!(
                !r.findings.iter().any(|f| f.rule == Rule::ArchiveMalformed),
                "{codec}: {:?}",
                r.findings
            );
            assert!(r.format.starts_with(wrap_name(codec)), "{}", r.format);
        }
    }
}

fn wrap_name(codec: &str) -> &str {
    codec
}

#[test]
fn issue20_2_a_pickle_bomb_is_streamed_and_stopped() {
    // A pickle whose one byte string is 16 MiB of zeros: streamed, never held, stopped at 4 MiB.
    let mut p = b"\x80\x04\x8e".to_vec();
    p.extend_from_slice(&(16u64 << 20).to_le_bytes());
    let mut z = wrap::wrap("xz", &[p.as_slice(), &vec![0u8; 16 << 20], b"."].concat());
    let r = Scanner::new(small(), Policy::new()).scan_bytes("bomb.pkl.xz", &z);
    assert!(
        has(&r, Rule::ResourceLimit, Severity::Medium),
        "{:?}",
        r.findings
    );
    z.truncate(z.len() / 2);
    let r = scanner().scan_bytes("cut.pkl.xz", &z);
    assert!(
        r.max_severity() >= Some(Severity::Medium),
        "{:?}",
        r.findings
    );
}

#[test]
fn issue20_2_the_decompression_budget_is_shared_by_the_whole_walk() {
    let dir = tempfile::tempdir().unwrap();
    // Four files of 10 MiB each, under the per-stream cap, but over a 24 MiB scan budget.
    for i in 0..4 {
        let body = wrap::wrap_repeated("gzip", &[b'x'; 1 << 20], 10);
        std::fs::write(dir.path().join(format!("f{i}.gz")), body).unwrap();
    }
    let mut l = Limits::default();
    l.max_decompressed_total = 24 << 20;
    let out = Scanner::new(l, Policy::new()).scan_paths(&[dir.path()]);
    let limited = out
        .reports
        .iter()
        .filter(|r| {
            r.findings
                .iter()
                .any(|f| f.rule == Rule::ResourceLimit && f.message.contains("budget"))
        })
        .count();
    assert!(limited >= 1, "{:#?}", out.reports);
    // Per file, the same files pass the same limit.
    let one = Scanner::new(l, Policy::new())
        .scan_file(&dir.path().join("f0.gz"))
        .unwrap();
    assert!(
        !has(&one, Rule::ResourceLimit, Severity::Medium),
        "{:?}",
        one.findings
    );
}

#[test]
fn issue20_2_content_past_the_memory_budget_is_spooled_and_still_scanned() {
    // An uncompressed zip of 4 MiB (a big stored member plus a malicious pickle), gzipped: a zip
    // needs random access, and the 1 MiB memory budget cannot hold it.
    let zip = zip_of(&[("big.npy", &npy_zeros(4 << 20)), ("archive/data.pkl", EVIL)]);
    let gz = wrap::wrap("gzip", &zip);
    let mut l = Limits::default();
    l.max_in_memory = 1 << 20;
    let r = Scanner::new(l, Policy::new()).scan_bytes("model.zip.gz", &gz);
    assert_eq!(
        r.max_severity(),
        Some(Severity::Critical),
        "{:?}",
        r.findings
    );
    assert!(r.format.starts_with("gzip/"), "{}", r.format);
}

#[test]
fn issue20_3_compressed_unknown_bytes_are_judged_as_unwrapped() {
    let s = scanner();
    let raw = noise(4096);
    let plain = s.scan_bytes("blob.bin", &raw);
    assert!(
        has(&plain, Rule::UnknownFormat, Severity::Medium),
        "{:?}",
        plain.findings
    );
    for codec in wrap::CODECS {
        let r = s.scan_bytes("blob.bin", &wrap::wrap(codec, &raw));
        assert!(
            has(&r, Rule::UnknownFormat, Severity::Medium),
            "{codec}: {:?}",
            r.findings
        );
        assert_eq!(r.max_severity(), Some(Severity::Medium), "{codec}");
        assert_eq!(r.format, format!("{codec}/unknown"));
    }
}

#[test]
fn issue20_3_compressed_text_and_pickles_are_judged_as_unwrapped() {
    let s = scanner();
    for codec in wrap::CODECS {
        let r = s.scan_bytes("notes", &wrap::wrap(codec, b"just some notes\n"));
        assert!(
            has(&r, Rule::NotAModel, Severity::Low),
            "{codec}: {:?}",
            r.findings
        );
        assert_eq!(r.max_severity(), Some(Severity::Low), "{codec}");
        let r = s.scan_bytes("evil", &wrap::wrap(codec, EVIL));
        assert_eq!(
            r.max_severity(),
            Some(Severity::Critical),
            "{codec}: {:?}",
            r.findings
        );
        let r = s.scan_bytes("ok", &wrap::wrap(codec, BENIGN));
        assert!(r.findings.is_empty(), "{codec}: {:?}", r.findings);
        assert_eq!(r.format, format!("{codec}/pickle"));
    }
}

/// A zip of stored members.
fn zip_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    fn crc(d: &[u8]) -> u32 {
        let mut c = flate2::Crc::new();
        c.update(d);
        c.sum()
    }
    let mut out = Vec::new();
    let mut cd = Vec::new();
    for (name, data) in members {
        let off = out.len() as u32;
        let (n, l, c) = (name.len() as u16, data.len() as u32, crc(data));
        out.extend_from_slice(b"PK\x03\x04\x14\x00\x00\x00\x00\x00\x00\x00\x00\x00");
        out.extend_from_slice(&c.to_le_bytes());
        out.extend_from_slice(&l.to_le_bytes());
        out.extend_from_slice(&l.to_le_bytes());
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        cd.extend_from_slice(b"PK\x01\x02\x14\x00\x14\x00\x00\x00\x00\x00\x00\x00\x00\x00");
        cd.extend_from_slice(&c.to_le_bytes());
        cd.extend_from_slice(&l.to_le_bytes());
        cd.extend_from_slice(&l.to_le_bytes());
        cd.extend_from_slice(&n.to_le_bytes());
        cd.extend_from_slice(&[0u8; 12]);
        cd.extend_from_slice(&off.to_le_bytes());
        cd.extend_from_slice(name.as_bytes());
    }
    let cd_off = out.len() as u32;
    out.extend_from_slice(&cd);
    out.extend_from_slice(b"PK\x05\x06\x00\x00\x00\x00");
    out.extend_from_slice(&(members.len() as u16).to_le_bytes());
    out.extend_from_slice(&(members.len() as u16).to_le_bytes());
    out.extend_from_slice(&(cd.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_off.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// A float32 `.npy` of `n` zero bytes.
fn npy_zeros(n: usize) -> Vec<u8> {
    let mut h = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({},), }}",
        n / 4
    );
    while (h.len() + 11) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut v = b"\x93NUMPY\x01\x00".to_vec();
    v.extend_from_slice(&(h.len() as u16).to_le_bytes());
    v.extend_from_slice(h.as_bytes());
    v.resize(v.len() + n, 0);
    v
}
