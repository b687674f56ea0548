//! HDF5 (legacy Keras `.h5`): the superblock's end-of-file address against the file's length
//! (a file cut short is malformed), and Lambda layers in the model config.

use crate::blob::Blob;
use crate::context::Ctx;
use crate::cursor::{CursorError, Reader};
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
    if let Err(why) = superblock(blob) {
        ctx.fail(Rule::KerasMalformed, format!("HDF5 file: {why}"), member);
    }
    Format::Hdf5
}

/// Check the superblock (versions 0 to 3, 8-byte addresses): the base address plus the
/// end-of-file address must not pass the file's end.
fn superblock(blob: &Blob) -> Result<(), String> {
    let mut r = Reader::new(blob);
    r.skip("HDF5 signature", 8)?;
    let version = r.u8("HDF5 superblock version")?;
    let (offsets_at, base_at) = match version {
        0 => (13, 24),
        1 => (13, 28),
        2 | 3 => (9, 12),
        v => return Err(format!("superblock version {v} is unknown")),
    };
    let at = |off: u64, what: &'static str| -> Result<Reader<'_>, CursorError> {
        Reader::window(blob, what, off, blob.len().saturating_sub(off))
    };
    let size_of_offsets = at(offsets_at, "HDF5 size of offsets")?.u8("HDF5 size of offsets")?;
    if size_of_offsets != 8 {
        return Ok(()); // other address sizes are legal but rare; not checked
    }
    let mut b = at(base_at, "HDF5 superblock addresses")?;
    let base = b.u64("HDF5 base address")?;
    // Past the free-space (versions 0, 1) or superblock-extension (2, 3) address.
    b.skip("HDF5 superblock addresses", 8)?;
    let eof = b.u64("HDF5 end-of-file address")?;
    let end = base.saturating_add(eof);
    if end > blob.len() {
        return Err(format!(
            "cut short: the superblock says the file ends at byte {end}, but it has {}",
            blob.len()
        ));
    }
    Ok(())
}
