//! What a scan reports: severities, rules, findings and per-file reports.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::Serialize;

/// How bad a finding is. Ordered: `Low < Medium < High < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    /// A note: nothing that runs code, such as a text file that is not a model.
    Low,
    /// Cannot be shown safe: an unknown import, a file that cannot be parsed, a limit reached.
    Medium,
    /// A dangerous capability: network, file writes, import machinery, nested loaders.
    High,
    /// Code execution when the file is loaded.
    Critical,
}

impl Severity {
    /// The upper-case name used in every output (`CRITICAL`, `HIGH`, `MEDIUM`, `LOW`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "LOW" => Ok(Severity::Low),
            "MEDIUM" => Ok(Severity::Medium),
            "HIGH" => Ok(Severity::High),
            "CRITICAL" => Ok(Severity::Critical),
            _ => Err(crate::Error::BadSeverity(s.to_string())),
        }
    }
}

macro_rules! rules {
    ($($(#[$doc:meta])* $v:ident = $id:literal, $desc:literal;)*) => {
        /// The rule behind a finding; each has a stable id used in JSON and SARIF.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum Rule { $($(#[$doc])* $v,)* }
        impl Rule {
            /// Every rule, in a stable order (SARIF `rules` array).
            pub const ALL: &'static [Rule] = &[$(Rule::$v,)*];
            /// The stable id, such as `pickle-code-execution`.
            pub fn id(self) -> &'static str { match self { $(Rule::$v => $id,)* } }
            /// One sentence saying what the rule detects.
            pub fn description(self) -> &'static str { match self { $(Rule::$v => $desc,)* } }
        }
    };
}

rules! {
    /// A pickle imports a callable that runs code.
    PickleCodeExecution = "pickle-code-execution", "The pickle imports a callable that executes code or commands when the file is loaded.";
    /// A pickle imports a dangerous capability.
    PickleDangerousGlobal = "pickle-dangerous-global", "The pickle imports a dangerous capability: network, file-system writes, import machinery, attribute walking, installers, hub loaders or nested unpicklers.";
    /// A pickle imports a global on neither list.
    PickleUnknownGlobal = "pickle-unknown-global", "The pickle imports a global that is on neither the allow-list nor the deny-list.";
    /// A pickle builds an import name at load time.
    PickleDynamicImport = "pickle-dynamic-import", "STACK_GLOBAL takes a module or name built at load time that cannot be resolved statically; it may import any callable.";
    /// A pickle uses an extension-registry code.
    PickleExtensionCode = "pickle-extension-code", "The pickle imports through a copyreg extension code that is not registered in the file.";
    /// A pickle sets attributes on an imported module or class.
    PickleModuleMutation = "pickle-module-mutation", "BUILD sets attributes on an imported module or class rather than on a new object.";
    /// A pickle stream cannot be parsed to its end.
    PickleMalformed = "pickle-malformed", "The pickle stream breaks part-way; everything before the break was analysed.";
    /// Bytes follow the last pickle.
    PickleTrailingData = "pickle-trailing-data", "Data that is not a pickle follows the pickle stream.";
    /// A global was accepted by the user's policy.
    PolicyAllowed = "policy-allowed", "A global that would have been reported was accepted by --allow or the policy file.";
    /// A container cannot be read.
    ArchiveMalformed = "archive-malformed", "The archive or container cannot be read consistently.";
    /// A member is hidden from some readers.
    ArchiveHiddenMember = "archive-hidden-member", "An archive member is hidden or ambiguous: local headers disagree with the central directory, duplicate names, or data outside the directory.";
    /// A member's CRC does not match its data.
    ArchiveCrcMismatch = "archive-crc-mismatch", "A member's CRC-32 does not match its data.";
    /// A member is encrypted or uses an unsupported method.
    ArchiveUnreadableMember = "archive-unreadable-member", "A member is encrypted or compressed with a method the scanner does not read, so it was not scanned.";
    /// A member name escapes the extraction folder.
    ArchivePathTraversal = "archive-path-traversal", "A member name is absolute or climbs out of the extraction folder.";
    /// A resource limit stopped the scan.
    ResourceLimit = "resource-limit", "A size, ratio, nesting or count limit stopped the analysis, so the content cannot be shown safe.";
    /// A Keras Lambda layer.
    KerasLambda = "keras-lambda", "A Keras model contains a Lambda layer, whose Python bytecode runs on load.";
    /// A Keras object from a module outside Keras.
    KerasUnknownModule = "keras-unknown-module", "A Keras config deserializes an object from a module outside keras/tensorflow.";
    /// A Keras config that cannot be parsed.
    KerasMalformed = "keras-malformed", "The Keras archive or its config.json cannot be parsed.";
    /// ONNX external data outside the model's folder.
    OnnxExternalDataEscape = "onnx-external-data-escape", "An ONNX tensor's external-data location is absolute or leaves the model's folder.";
    /// ONNX operator from an unknown domain.
    OnnxUnknownDomain = "onnx-unknown-domain", "An ONNX node uses an operator domain outside the standard ones (custom code must be loaded to run it).";
    /// ONNX implausible tensor shape.
    OnnxImplausibleShape = "onnx-implausible-shape", "An ONNX tensor declares an implausible shape (negative or absurdly large).";
    /// ONNX protobuf cannot be parsed.
    OnnxMalformed = "onnx-malformed", "The ONNX protobuf cannot be parsed.";
    /// Safetensors header problems.
    SafetensorsMalformed = "safetensors-malformed", "The safetensors header is inconsistent: length, offsets out of bounds or overlapping, or unknown dtypes.";
    /// A TensorFlow graph op that runs Python code.
    TfPyFunc = "tf-py-func", "A TensorFlow SavedModel graph uses PyFunc, PyFuncStateless or EagerPyFunc, which run a Python function when the graph runs.";
    /// A TensorFlow graph op that reads or writes files.
    TfFileAccess = "tf-file-access", "A TensorFlow SavedModel graph uses an op that reads, writes or lists files by a path the graph chooses (ReadFile, WriteFile, MatchingFiles ...).";
    /// A SavedModel protobuf that cannot be parsed.
    TfMalformed = "tf-malformed", "The TensorFlow SavedModel protobuf cannot be parsed.";
    /// GGUF chat template reaching code.
    GgufTemplateInjection = "gguf-template-injection", "A GGUF chat template uses Jinja constructs that reach Python internals (template injection).";
    /// GGUF header problems.
    GgufMalformed = "gguf-malformed", "The GGUF header or metadata cannot be parsed.";
    /// NumPy file problems.
    NumpyMalformed = "numpy-malformed", "The NumPy .npy header cannot be parsed or does not match the data.";
    /// NumPy object array (needs allow_pickle).
    NumpyObjectArray = "numpy-object-array", "A NumPy array holds Python objects, stored as a pickle that numpy.load runs with allow_pickle=True.";
    /// A text file no model format claims.
    NotAModel = "not-a-model", "A text file that no model format claims (configuration, tokenizer, documentation).";
    /// An unrecognised binary file.
    UnknownFormat = "unknown-format", "A binary file in no format the scanner knows, so it cannot be shown safe.";
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

/// One thing the scanner found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// How bad it is.
    pub severity: Severity,
    /// Which rule found it.
    pub rule: Rule,
    /// What was found, in a sentence.
    pub message: String,
    /// The imported callable as `module.name`, when the finding is about one.
    pub global: Option<String>,
    /// Path inside the container (nested containers joined with `!`); `None` at top level.
    pub member: Option<String>,
}

/// The result of scanning one file.
///
/// # Wire format
/// `vigil scan --json` prints one object `{"files":[FileReport...]}`; each report serializes as
/// exactly these keys:
///
/// ```json
/// {"path":"models/model.pt","format":"pytorch-zip",
///  "findings":[{"severity":"CRITICAL","rule":"pickle-code-execution",
///               "message":"imports os.system (GLOBAL): runs a shell command",
///               "global":"os.system","member":"archive/data.pkl"}],
///  "error":null}
/// ```
///
/// `severity` is one of `CRITICAL`, `HIGH`, `MEDIUM`, `LOW`; `rule` is a [`Rule`] id; `global`
/// and `member` are `null` when not applicable; `error` is `null` unless the file could not be
/// fully analysed.
///
/// A path that is not valid UTF-8 (possible on Unix) gets one more key, right after `path`:
/// `"path_bytes"`, the path's exact bytes in standard base64 (RFC 4648 section 4, padded), while
/// `path` holds a readable form with each invalid byte replaced by U+FFFD. The key is absent for
/// every UTF-8 path, so the common case is unchanged.
#[derive(Debug, Clone)]
pub struct FileReport {
    /// The file scanned.
    pub path: PathBuf,
    /// The format detected from content, such as `pickle`, `pytorch-zip`, `gzip/pickle`, `onnx`.
    pub format: String,
    /// Every finding, most severe first.
    pub findings: Vec<Finding>,
    /// Why the file could not be fully analysed, if it could not.
    pub error: Option<String>,
    /// Files this one names as ONNX external data (not serialized).
    pub(crate) external_data: Vec<PathBuf>,
}

impl FileReport {
    /// The most severe finding, if any.
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

impl Serialize for FileReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let raw = crate::output::path_bytes(&self.path);
        let exact = std::str::from_utf8(&raw).is_ok();
        let mut m = s.serialize_map(Some(if exact { 4 } else { 5 }))?;
        m.serialize_entry("path", &String::from_utf8_lossy(&raw))?;
        if !exact {
            m.serialize_entry("path_bytes", &crate::output::base64(&raw))?;
        }
        m.serialize_entry("format", &self.format)?;
        m.serialize_entry("findings", &self.findings)?;
        m.serialize_entry("error", &self.error)?;
        m.end()
    }
}
