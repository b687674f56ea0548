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
    zip_with(members, false)
}

/// A zip of stored or deflated members.
fn zip_with(members: &[(&str, &[u8])], deflate: bool) -> Vec<u8> {
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
        let body = if deflate {
            use std::io::Write;
            let mut w = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
            w.write_all(data).unwrap();
            w.finish().unwrap()
        } else {
            data.to_vec()
        };
        let method: &[u8] = if deflate { b"\x08\x00" } else { b"\x00\x00" };
        let cl = body.len() as u32;
        out.extend_from_slice(b"PK\x03\x04\x14\x00\x00\x00");
        out.extend_from_slice(method);
        out.extend_from_slice(b"\x00\x00\x00\x00");
        out.extend_from_slice(&c.to_le_bytes());
        out.extend_from_slice(&cl.to_le_bytes());
        out.extend_from_slice(&l.to_le_bytes());
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&body);
        cd.extend_from_slice(b"PK\x01\x02\x14\x00\x14\x00\x00\x00");
        cd.extend_from_slice(method);
        cd.extend_from_slice(b"\x00\x00\x00\x00");
        cd.extend_from_slice(&c.to_le_bytes());
        cd.extend_from_slice(&cl.to_le_bytes());
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

/// `os.system("id")` as protocol 0 text.
const EVIL_P0: &[u8] = b"cos\nsystem\n(S'id'\ntR.";

fn critical(r: &FileReport) -> bool {
    r.findings
        .iter()
        .any(|f| f.severity == Severity::Critical && f.global.as_deref() == Some("os.system"))
}

#[test]
fn issue20_4_a_pickle_after_a_separator_of_any_length_is_scanned() {
    let s = scanner();
    let seps: Vec<Vec<u8>> = vec![
        b"\n".to_vec(),
        b"\x00".to_vec(),
        b"X".to_vec(),
        b"\n\n\r\n".to_vec(),
        noise(7),
        noise(1000),
        b"padding padding padding\n".repeat(50),
        vec![0u8; 100_000],
    ];
    for sep in &seps {
        for evil in [EVIL, EVIL_P0] {
            let data = [BENIGN, sep.as_slice(), evil].concat();
            let r = s.scan_bytes("model.pkl", &data);
            assert!(
                critical(&r),
                "sep {:?}: {:?}",
                &sep[..sep.len().min(8)],
                r.findings
            );
            // The same inside a compression wrapper.
            let r = s.scan_bytes("model.pkl.gz", &wrap::wrap("gzip", &data));
            assert!(
                critical(&r),
                "gzip, sep {:?}: {:?}",
                &sep[..sep.len().min(8)],
                r.findings
            );
        }
    }
    // Several hidden pickles, the second one after another benign one.
    let data = [BENIGN, b"\n", BENIGN, b"zz", EVIL].concat();
    assert!(critical(&s.scan_bytes("m.pkl", &data)));
    // Plain trailing junk stays a LOW note.
    let r = s.scan_bytes("m.pkl", &[BENIGN, b"\n\x00\x01 trailing"].concat());
    assert_eq!(r.max_severity(), Some(Severity::Low), "{:?}", r.findings);
}

#[test]
fn issue20_4_pickles_inside_byte_strings_are_scanned() {
    let s = scanner();
    let short = |op: u8, body: &[u8]| [&[op, body.len() as u8][..], body].concat();
    let long = |op: u8, body: &[u8]| [&[op][..], &(body.len() as u32).to_le_bytes(), body].concat();
    let latin1: Vec<u8> = EVIL
        .iter()
        .map(|b| *b as char)
        .collect::<String>()
        .into_bytes();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("SHORT_BINBYTES", short(b'C', EVIL)),
        ("BINBYTES", long(b'B', EVIL)),
        ("BINBYTES protocol 0 text", long(b'B', EVIL_P0)),
        ("SHORT_BINSTRING (Python 2)", short(b'U', EVIL)),
        ("BINSTRING (Python 2)", long(b'T', EVIL)),
        ("BINUNICODE latin-1", long(b'X', &latin1)),
    ];
    for (what, value) in cases {
        // {"payload": value}: never passed to a call, still a pickle someone may load.
        let data = [
            b"\x80\x03}q\x00X\x07\x00\x00\x00payloadq\x01",
            value.as_slice(),
            b"s.",
        ]
        .concat();
        let r = s.scan_bytes("m.pkl", &data);
        assert!(critical(&r), "{what}: {:?}", r.findings);
        let f = r
            .findings
            .iter()
            .find(|f| f.global.as_deref() == Some("os.system"))
            .unwrap();
        assert!(
            f.member.as_deref().is_some_and(|m| m.starts_with("bytes@")),
            "{what}: {f:?}"
        );
    }
    // A gzipped pickle, and a zip holding one, in a byte string no call takes.
    for wrapped in [
        wrap::wrap("gzip", EVIL),
        wrap::wrap("xz", EVIL),
        zip_of(&[("archive/data.pkl", EVIL)]),
    ] {
        let data = [
            b"\x80\x03}q\x00X\x01\x00\x00\x00aq\x01".as_slice(),
            &long(b'B', &wrapped),
            b"s.",
        ]
        .concat();
        let r = s.scan_bytes("m.pkl", &data);
        assert!(critical(&r), "{:?}", r.findings);
    }
    // A pickle in bytes in a pickle in bytes in a pickle.
    let inner = [b"\x80\x03C", &[EVIL.len() as u8][..], EVIL, b"."].concat();
    let outer = [b"\x80\x03C", &[inner.len() as u8][..], &inner, b"."].concat();
    assert!(critical(&s.scan_bytes("m.pkl", &outer)));
    // Bytes that only look like a pickle's start are not reported.
    let data = [b"\x80\x03C\x06\x80\x02\xff\xfe\xfd\xfc.".as_slice()].concat();
    let r = s.scan_bytes("m.pkl", &data);
    assert!(r.findings.is_empty(), "{:?}", r.findings);
}

#[test]
fn issue20_4_a_resource_limit_is_never_a_clean_pass() {
    let mut l = Limits::default();
    l.max_pickle_stack = 1000;
    l.max_pickle_values = 10_000;
    let s = Scanner::new(l, Policy::new());
    // Protocol 0 (text) nesting: before, the trial parse gave up and the file passed as text.
    for data in [
        b"(".repeat(5000),
        b"(l".repeat(3000),
        [b"(lp0\n".as_slice(), &b"I1\naI1\na".repeat(20_000), b"."].concat(),
        [b"\x80\x02]".as_slice(), &b"K\x01".repeat(2000), b"."].concat(),
        [
            b"\x80\x02]q\x00(".as_slice(),
            &b"h\x00".repeat(20_000),
            b"e.",
        ]
        .concat(),
    ] {
        let r = s.scan_bytes("deep.pkl", &data);
        assert!(
            has(&r, Rule::ResourceLimit, Severity::Medium),
            "{:?}: {:?}",
            &data[..8],
            r.findings
        );
    }
}

#[test]
fn issue20_4_an_empty_or_truncated_model_file_is_malformed() {
    let s = scanner();
    for (name, body) in [
        ("model.pkl", &b""[..]),
        ("model.pt", b""),
        ("model.onnx", b""),
        ("model.safetensors", b""),
        ("model.joblib", b""),
        ("model.pkl", b"(dp0\nS'a'\n"),
        ("model.pkl", b"\x80"),
        ("model.npy", b"\x93NUMPY"),
        ("model.gguf", b"GGUF"),
        ("model.pkl.gz", b""),
        ("saved_model.pb", b""),
        ("model.h5", b"\x89HDF\r\n\x1a\n"),
        (
            "model.h5",
            b"\x89HDF\r\n\x1a\n\x02\x08\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff\x00\x10\x00\x00\x00\x00\x00\x00",
        ),
    ] {
        let r = s.scan_bytes(name, body);
        assert!(
            r.max_severity() >= Some(Severity::Medium),
            "{name} {body:?}: {:?}",
            r.findings
        );
    }
    // Files that claim no model format keep their notes.
    let r = s.scan_bytes("README.md", b"");
    assert_eq!(r.max_severity(), Some(Severity::Low), "{:?}", r.findings);
    let r = s.scan_bytes("notes.txt", b"(some text)\n");
    assert_eq!(r.max_severity(), Some(Severity::Low), "{:?}", r.findings);
}

/// A protobuf length-delimited field.
fn pb(field: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![(field << 3) | 2];
    let mut n = body.len();
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            v.push(b);
            break;
        }
        v.push(b | 0x80);
    }
    v.extend_from_slice(body);
    v
}

/// A `saved_model.pb` with one meta graph whose graph has nodes of these ops, and one function
/// in its library with a node of `fn_op`.
fn saved_model(ops: &[&str], fn_op: &str) -> Vec<u8> {
    let mut graph = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let node = [pb(1, format!("n{i}").as_bytes()), pb(2, op.as_bytes())].concat();
        graph.extend(pb(1, &node));
    }
    let fn_node = [pb(1, b"f0"), pb(2, fn_op.as_bytes())].concat();
    graph.extend(pb(2, &pb(1, &pb(3, &fn_node))));
    let meta = [pb(1, b"\x12\x05serve"), pb(2, &graph)].concat();
    [b"\x08\x01".as_slice(), &pb(2, &meta)].concat()
}

#[test]
fn issue20_15_savedmodel_py_func_and_file_ops_are_reported() {
    let s = scanner();
    let benign = saved_model(
        &["Placeholder", "MatMul", "SaveV2", "RestoreV2"],
        "Identity",
    );
    let r = s.scan_bytes("saved_model.pb", &benign);
    assert_eq!(r.format, "tensorflow-savedmodel");
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    for op in ["PyFunc", "PyFuncStateless", "EagerPyFunc"] {
        let r = s.scan_bytes(
            "saved_model.pb",
            &saved_model(&["Placeholder", op], "Identity"),
        );
        assert!(
            has(&r, Rule::TfPyFunc, Severity::Critical),
            "{op}: {:?}",
            r.findings
        );
        // Hidden in a function of the graph's library.
        let r = s.scan_bytes("saved_model.pb", &saved_model(&["Placeholder"], op));
        assert!(
            has(&r, Rule::TfPyFunc, Severity::Critical),
            "{op} in a function: {:?}",
            r.findings
        );
    }
    for op in ["ReadFile", "WriteFile", "MatchingFiles"] {
        let r = s.scan_bytes("saved_model.pb", &saved_model(&[op], "Identity"));
        assert!(
            has(&r, Rule::TfFileAccess, Severity::High),
            "{op}: {:?}",
            r.findings
        );
    }
    // Cut short: what was read is reported, and the break too.
    let mut cut = saved_model(&["PyFunc", "MatMul"], "Identity");
    cut.truncate(cut.len() - 3);
    let r = s.scan_bytes("saved_model.pb", &cut);
    assert!(
        r.max_severity() >= Some(Severity::Medium),
        "{:?}",
        r.findings
    );
    // Compressed, the same.
    let r = s.scan_bytes(
        "m.zst",
        &wrap::wrap("zstd", &saved_model(&["PyFunc"], "Identity")),
    );
    assert!(
        has(&r, Rule::TfPyFunc, Severity::Critical),
        "{:?}",
        r.findings
    );
}

#[test]
fn issue20_15_lz4_and_zstd_wrappers_are_read() {
    let s = scanner();
    for codec in ["lz4", "zstd"] {
        let r = s.scan_bytes("m.pkl", &wrap::wrap(codec, EVIL));
        assert!(critical(&r), "{codec}: {:?}", r.findings);
        assert_eq!(r.format, format!("{codec}/pickle"));
        let r = s.scan_bytes("m.pkl", &wrap::wrap(codec, BENIGN));
        assert!(r.findings.is_empty(), "{codec}: {:?}", r.findings);
    }
    // Two zstd frames (and a skippable one): the payload in the second is found.
    let two = [
        wrap::wrap("zstd", BENIGN),
        b"\x50\x2a\x4d\x18\x03\x00\x00\x00abc".to_vec(),
        wrap::wrap("zstd", EVIL),
    ]
    .concat();
    let r = s.scan_bytes("m.pkl.zst", &two);
    assert!(critical(&r), "{:?}", r.findings);
    // A zstd frame that declares a window over the limit is a resource limit.
    let mut l = Limits::default();
    l.max_dictionary = 1 << 10;
    let r = Scanner::new(l, Policy::new())
        .scan_bytes("m.zst", &wrap::wrap_repeated("zstd", b"abcdefgh", 1 << 16));
    assert!(
        has(&r, Rule::ResourceLimit, Severity::Medium),
        "{:?}",
        r.findings
    );
    // 7z stays MEDIUM: it is recognised, not unpacked.
    let r = s.scan_bytes("m.7z", b"7z\xbc\xaf\x27\x1c\x00\x04rest");
    assert!(
        has(&r, Rule::ArchiveUnreadableMember, Severity::Medium),
        "{:?}",
        r.findings
    );
}

#[test]
fn issue20_4_a_hidden_pickle_in_a_zip_member_is_found_small_or_streamed() {
    // After 200 KiB of separator: the member is streamed when over an eighth of max_in_memory.
    let data = [BENIGN, &vec![b'\n'; 200 << 10], EVIL].concat();
    for deflate in [false, true] {
        let zip = zip_with(&[("archive/data.pkl", &data)], deflate);
        for mem in [Limits::default().max_in_memory, 1 << 20] {
            let mut l = Limits::default();
            l.max_in_memory = mem;
            let r = Scanner::new(l, Policy::new()).scan_bytes("m.pt", &zip);
            assert!(
                critical(&r),
                "deflate {deflate}, memory {mem}: {:?}",
                r.findings
            );
        }
    }
}
