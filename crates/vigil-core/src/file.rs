//! Reading a whole file from outside the process, with a size bound.

use std::io::Read as _;
use std::path::Path;

/// Why [`read_bounded`] failed; callers wrap it in their own error with the file's name.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// Opening or reading the file failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The file holds more than the bound.
    #[error("larger than {max} bytes")]
    TooLarge {
        /// The bound, in bytes.
        max: u64,
    },
}

/// Reads the whole file at `path`, refusing one larger than `max` bytes: at most `max + 1`
/// bytes are ever read, so memory stays bounded whatever the file's size.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("vigil-core-doc-{}", std::process::id()));
/// std::fs::write(&dir, b"0123456789")?;
/// assert_eq!(vigil_core::read_bounded(&dir, 10)?, b"0123456789");
/// assert!(matches!(
///     vigil_core::read_bounded(&dir, 9),
///     Err(vigil_core::ReadError::TooLarge { max: 9 })
/// ));
/// # std::fs::remove_file(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, ReadError> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(ReadError::TooLarge { max });
    }
    Ok(bytes)
}
