//! Static scanner for model files that would run code or escape their folder when loaded.
//!
//! `vigil-scan` reads model files the way their loaders would (PyTorch, NumPy, joblib, Keras,
//! ONNX Runtime, safetensors, llama.cpp) and reports what loading them could do, **without ever
//! unpickling, importing or executing anything**. It answers threats T04 and T05 of Vigil's
//! threat catalog: a model file from a third party that carries code.
//!
//! # Formats (detected from content, never from the file name)
//! - **Pickle**, protocols 0 to 5: a disassembler plus a simulation of the pickle machine's stack
//!   and memo, so every import is resolved to `module.name` however its names were built
//!   (GLOBAL, INST, STACK_GLOBAL from memoized strings, EXT codes registered with
//!   `copyreg.add_extension`, `getattr`/`attrgetter`/`methodcaller`/`import_module` chains).
//!   Several pickles in one stream are all read, and a pickle hidden in the data after the
//!   last STOP is found wherever it starts. Byte strings inside a pickle that are a pickle or
//!   an archive (`pickle.loads(b"...")`, `torch.storage._load_from_bytes`, or no call at all)
//!   are scanned.
//! - **Containers:** zip (PyTorch, `.npz`, Keras v3) read by our own reader that compares local
//!   headers with the central directory; tar (legacy PyTorch); gzip, bzip2, xz, lzma, zlib,
//!   lz4 and zstd wrappers (joblib's compressors), streamed with size, ratio and dictionary
//!   caps and budgets shared by a whole scan, their content judged as the same bytes unwrapped.
//!   7z is recognised but not unpacked (reported MEDIUM).
//! - **joblib** (raw NumPy array blocks after each `NumpyArrayWrapper` are skipped by size, object
//!   arrays scanned as the nested pickles they are), **NumPy** `.npy` (object arrays),
//!   **Keras** v3 `config.json` (Lambda layers, objects from outside Keras) and legacy HDF5,
//!   **ONNX** (external-data paths, operator domains, shapes), **TensorFlow SavedModel**
//!   (`PyFunc` and file-access graph ops), **safetensors** (header bounds,
//!   dtypes, overlap), **GGUF** (header, metadata, chat-template injection).
//!
//! Tensor payloads are skipped, never read in full, where the format allows (safetensors, ONNX,
//! stored zip members such as PyTorch storages, `.npy` data, GGUF tensors).
//!
//! # Severities
//! CRITICAL code execution; HIGH dangerous capability; MEDIUM cannot be shown safe (unknown
//! import, unparseable file, limit reached, unknown binary); LOW notes. See [`Rule`] for every
//! rule and the allow/deny lists in the `globals` module source for every entry and its reason.
//!
//! # Crates relied on
//! `flate2` (deflate, gzip, zlib), `bzip2`, `lzma-rust2` (xz, lzma: streaming, with a memory
//! limit), `lz4_flex` (lz4 frames), `ruzstd` (zstd, with a window limit), `tempfile` (spooling
//! decompressed content past the memory budget), `serde_json` (headers and configs), `toml`
//! (policy files), `rayon` and `walkdir` (parallel directory scans), `base64` (file names that
//! are not UTF-8).
//!
//! # Example
//! ```
//! use vigil_scan::{Limits, Policy, Scanner, Severity};
//!
//! // A protocol-2 pickle that calls os.system("id") when loaded.
//! let evil = b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.";
//! let scanner = Scanner::new(Limits::default(), Policy::new());
//! let report = scanner.scan_bytes("evil.pkl", evil);
//! assert_eq!(report.format, "pickle");
//! assert_eq!(report.max_severity(), Some(Severity::Critical));
//! assert_eq!(report.findings[0].global.as_deref(), Some("os.system"));
//! ```

#![deny(missing_docs)]

// Modules, lowest first; each uses only those above it (no circles):
mod blob; //           random-access byte sources and sequential readers
mod budget; //         what one scan may spend, shared by its threads
mod context; //        findings sink and the door every format recurses through
mod cursor; //         the one bounded cursor binary headers are read with
mod decompress; //     every codec as one bounded stream
mod error; //          the crate's error type
mod formats; //        one module per format, and the door's dispatcher
mod globals; //        allow- and deny-lists of pickle globals
mod kind; //           format, text, binary, wrapped: what a blob is
mod limits; //         every bound on hostile input
mod output; //         table and JSON
mod policy; //         reviewed exceptions
mod protobuf; //       protobuf fields over the cursor
mod report; //         severities, rules, findings, reports
mod sarif;
mod scan; //           the Scanner API
mod sniff; //          content sniffing //          SARIF 2.1.0

// The public interface:
pub use crate::error::Error; // what can stop a scan from starting
pub use crate::limits::Limits; // every bound on hostile input
pub use crate::output::{escape_bytes, write_json, write_table}; // output for people and programs
pub use crate::policy::{AllowRule, Policy}; // a team's reviewed exceptions
pub use crate::report::{FileReport, Finding, Rule, Severity}; // what a scan reports
pub use crate::sarif::to_sarif; // SARIF 2.1.0 output
pub use crate::scan::{ScanOutcome, Scanner}; // the scanner

/// Fuzzing and test entry points; not part of the API.
#[doc(hidden)]
pub mod internal {
    use crate::{Limits, Policy, Scanner};

    fn small() -> Scanner {
        let l = Limits {
            max_in_memory: 16 << 20,
            max_decompressed: 64 << 20,
            max_pickle_ops: 1_000_000,
            max_pickle_values: 1_000_000,
            ..Limits::default()
        };
        Scanner::new(l, Policy::new())
    }

    /// Scan arbitrary bytes as a file (pickle, zip, ONNX, safetensors and every other format).
    pub fn fuzz_scan(data: &[u8]) {
        let _ = small().scan_bytes("fuzz", data);
    }

    /// Scan bytes as a pickle stream.
    pub fn fuzz_pickle(data: &[u8]) {
        let mut v = vec![0x80, 0x04];
        v.extend_from_slice(data);
        let _ = small().scan_bytes("fuzz.pkl", &v);
    }

    /// Scan bytes as a zip archive.
    pub fn fuzz_zip(data: &[u8]) {
        let mut v = b"PK\x03\x04".to_vec();
        v.extend_from_slice(data);
        let _ = small().scan_bytes("fuzz.zip", &v);
    }

    /// Scan bytes as an ONNX model.
    pub fn fuzz_onnx(data: &[u8]) {
        let mut v = vec![0x08, 0x07];
        v.extend_from_slice(data);
        let _ = small().scan_bytes("fuzz.onnx", &v);
    }

    /// Scan bytes as a TensorFlow SavedModel (`saved_model.pb`).
    pub fn fuzz_savedmodel(data: &[u8]) {
        let mut v = vec![0x08, 0x01];
        v.extend_from_slice(data);
        let _ = small().scan_bytes("saved_model.pb", &v);
    }

    /// Scan bytes as a safetensors file.
    pub fn fuzz_safetensors(data: &[u8]) {
        let n = data.len().min(4096) as u64;
        let mut v = n.to_le_bytes().to_vec();
        v.push(b'{');
        v.extend_from_slice(data);
        let _ = small().scan_bytes("fuzz.safetensors", &v);
    }
}
