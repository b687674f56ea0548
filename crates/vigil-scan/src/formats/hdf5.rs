//! HDF5 (legacy Keras `.h5`): Lambda layers in the model config.

use crate::blob::Blob;
use crate::context::Ctx;
use crate::kind::Format;
use crate::{Rule, Severity};

/// Look for Lambda layers in the model config of a legacy Keras HDF5 file.
pub(crate) fn scan(ctx: &mut Ctx<'_>, blob: &Blob, member: Option<&str>) -> Format {
    let window = blob.head(0, 16 << 20).unwrap_or_default();
    for pat in [
        &b"\"class_name\": \"Lambda\""[..],
        b"\"class_name\":\"Lambda\"",
    ] {
        if window.windows(pat.len()).any(|w| w == pat) {
            ctx.add(
                Severity::Critical,
                Rule::KerasLambda,
                "legacy Keras HDF5 model config has a Lambda layer, whose bytecode runs on load"
                    .into(),
                None,
                member,
            );
            break;
        }
    }
    Format::Hdf5
}
