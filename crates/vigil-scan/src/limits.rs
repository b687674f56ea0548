//! Every bound the scanner keeps on hostile input.

/// Bounds on memory, time and recursion. `Limits::default()` suits real checkpoints of many GiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Most pickle opcodes executed per stream (time bound).
    pub max_pickle_ops: u64,
    /// Deepest pickle stack (items, marks included).
    pub max_pickle_stack: usize,
    /// Most memo entries.
    pub max_pickle_memo: usize,
    /// Most simulated values alive (stack, memo and container contents together).
    pub max_pickle_values: usize,
    /// Longest string kept from a pickle (longer strings are truncated for analysis).
    pub max_pickle_string: usize,
    /// Largest byte string kept to look for a pickle or archive hidden inside a pickle.
    pub max_inline_blob: u64,
    /// Most concatenated pickles read from one stream.
    pub max_pickles_per_stream: usize,
    /// Deepest nesting of containers (zip in gzip in pickle bytes ...).
    pub max_depth: usize,
    /// Most members read from one archive.
    pub max_members: usize,
    /// Most decompressed bytes from one stream or member.
    pub max_decompressed: u64,
    /// Most decompressed bytes in one whole scan, shared by every file and thread of a
    /// directory walk (every wrapper and zip member counts).
    pub max_decompressed_total: u64,
    /// Largest LZMA/xz dictionary or zstd window a decoder may use (its memory grows with the
    /// data up to this size); a stream that declares more is a `resource-limit` finding.
    pub max_dictionary: u64,
    /// Highest decompression ratio allowed once more than 16 MiB came out.
    pub max_ratio: u64,
    /// Most decompressed bytes held in memory at once by one whole scan, shared by every file
    /// and thread of a directory walk. Decompressed content that must be parsed with random
    /// access (a zip in a gzip, a compressed ONNX) is held in memory while this budget lasts,
    /// and is spooled to an unnamed temporary file past it; pickles are always streamed.
    pub max_in_memory: u64,
    /// Largest header or metadata block read (safetensors JSON, GGUF metadata, ONNX graph).
    pub max_header: u64,
    /// Most ONNX nodes, tensors or GGUF metadata entries examined.
    pub max_entries: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pickle_ops: 200_000_000,
            max_pickle_stack: 1_000_000,
            max_pickle_memo: 4_000_000,
            max_pickle_values: 8_000_000,
            max_pickle_string: 64 * 1024,
            max_inline_blob: 64 << 20,
            max_pickles_per_stream: 64,
            max_depth: 8,
            max_members: 100_000,
            max_decompressed: 8 << 30,
            max_decompressed_total: 32 << 30,
            max_dictionary: 64 << 20,
            max_ratio: 1100,
            max_in_memory: 512 << 20,
            max_header: 100 << 20,
            max_entries: 10_000_000,
        }
    }
}
