//! What a blob turned out to be: a format, text, unknown binary data, or a wrapper around one
//! of these. Names are produced here only, for the report's `format` field.

/// A compression wrapper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Codec {
    Gzip,
    Bzip2,
    Xz,
    Lzma,
    Zlib,
    /// Raw deflate (zip members).
    Deflate,
    Lz4,
    Zstd,
}

impl Codec {
    /// The name used in format strings (`gzip/pickle`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Codec::Gzip => "gzip",
            Codec::Bzip2 => "bz2",
            Codec::Xz => "xz",
            Codec::Lzma => "lzma",
            Codec::Zlib => "zlib",
            Codec::Deflate => "deflate",
            Codec::Lz4 => "lz4",
            Codec::Zstd => "zstd",
        }
    }
}

/// Something that holds another blob whole: a compression codec or old joblib's zfile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wrapper {
    Codec(Codec),
    JoblibZfile,
}

impl Wrapper {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Wrapper::Codec(c) => c.name(),
            Wrapper::JoblibZfile => "joblib-zfile",
        }
    }
}

/// A format recognised from content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Pickle,
    Joblib,
    PytorchLegacy,
    PytorchLegacyTar,
    PytorchZip,
    Zip,
    Npz,
    Npy,
    Keras,
    Hdf5,
    Onnx,
    OnnxExternalData,
    SavedModel,
    Safetensors,
    Gguf,
    Tar,
    SevenZip,
    Png,
    Jpeg,
    Gif,
    Webp,
    SentencePiece,
    /// A wrapper whose content could not be read at all.
    Unopened(Wrapper),
    /// Containers nested past `max_depth`.
    Nested,
    /// A blob that could not be read.
    Unreadable,
}

impl Format {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Format::Pickle => "pickle",
            Format::Joblib => "joblib",
            Format::PytorchLegacy => "pytorch-legacy",
            Format::PytorchLegacyTar => "pytorch-legacy-tar",
            Format::PytorchZip => "pytorch-zip",
            Format::Zip => "zip",
            Format::Npz => "npz",
            Format::Npy => "npy",
            Format::Keras => "keras",
            Format::Hdf5 => "hdf5",
            Format::Onnx => "onnx",
            Format::OnnxExternalData => "onnx-external-data",
            Format::SavedModel => "tensorflow-savedmodel",
            Format::Safetensors => "safetensors",
            Format::Gguf => "gguf",
            Format::Tar => "tar",
            Format::SevenZip => "7z",
            Format::Png => "png",
            Format::Jpeg => "jpeg",
            Format::Gif => "gif",
            Format::Webp => "webp",
            Format::SentencePiece => "sentencepiece",
            Format::Unopened(w) => w.name(),
            Format::Nested => "nested",
            Format::Unreadable => "unreadable",
        }
    }
}

/// What a blob turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    Format(Format),
    Text,
    Binary,
    /// What a wrapper holds.
    Wrapped(Wrapper, Box<Kind>),
}

impl Kind {
    /// The report's `format` string: wrappers first, such as `gzip/pickle`.
    pub(crate) fn name(&self) -> String {
        match self {
            Kind::Format(f) => f.name().into(),
            Kind::Text => "text".into(),
            Kind::Binary => "unknown".into(),
            Kind::Wrapped(w, k) => format!("{}/{}", w.name(), k.name()),
        }
    }

    /// What is inside every wrapper.
    pub(crate) fn innermost(&self) -> &Kind {
        match self {
            Kind::Wrapped(_, k) => k.innermost(),
            k => k,
        }
    }
}
