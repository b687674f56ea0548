//! C2SP tlog-checkpoint (<https://c2sp.org/tlog-checkpoint>): the signed body of a tree head.
//!
//! ```text
//! <origin>
//! <tree size, decimal>
//! <root hash, standard base64>
//! [extension lines]
//! ```

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use crate::error::NoteError;
use crate::merkle::Hash;
use crate::note::{Note, NoteLimits, NoteSigner, NoteVerifier, Verification};

/// A checkpoint body: the origin, size and root hash of a log, plus optional extension lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line (its unique name).
    pub origin: String,
    /// Tree size.
    pub size: u64,
    /// Tree head.
    pub root: Hash,
    /// Extension lines (without newlines), usually none.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note text of this checkpoint.
    pub fn to_text(&self) -> String {
        let mut t = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        );
        for e in &self.extensions {
            t.push_str(e);
            t.push('\n');
        }
        t
    }

    /// Parse a checkpoint body (the text of a signed note).
    pub fn parse_text(text: &str) -> Result<Checkpoint, NoteError> {
        let bad = |why: String| NoteError::MalformedCheckpoint(why);
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| bad("text does not end in a newline".into()))?;
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() {
            return Err(bad("empty origin line".into()));
        }
        let size_line = lines
            .next()
            .ok_or_else(|| bad("no tree size line".into()))?;
        if size_line.is_empty()
            || !size_line.bytes().all(|b| b.is_ascii_digit())
            || (size_line.len() > 1 && size_line.starts_with('0'))
        {
            return Err(bad(format!(
                "tree size {size_line:?} is not a decimal number"
            )));
        }
        let size: u64 = size_line
            .parse()
            .map_err(|_| bad(format!("tree size {size_line:?} does not fit 64 bits")))?;
        let root_line = lines
            .next()
            .ok_or_else(|| bad("no root hash line".into()))?;
        let root: Hash = B64
            .decode(root_line)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or_else(|| bad(format!("root hash {root_line:?} is not 32 bytes of base64")))?;
        let mut extensions = Vec::new();
        for e in lines {
            if e.is_empty() {
                return Err(bad("empty extension line".into()));
            }
            extensions.push(e.to_string());
        }
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root,
            extensions,
        })
    }

    /// Sign this checkpoint with one or more keys; returns the signed note.
    pub fn sign(&self, signers: &[&NoteSigner]) -> Result<String, NoteError> {
        Note::sign(&self.to_text(), signers)
    }
}

/// A checkpoint read from a signed note whose signatures have been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    /// The checkpoint body.
    pub checkpoint: Checkpoint,
    /// Which keys signed it.
    pub verification: Verification,
    /// The parsed note, for adding co-signatures.
    pub note: Note,
}

/// Parse a signed checkpoint and verify it: every key in `trusted` must have signed it. If
/// `origin` is given, the checkpoint's origin must equal it.
pub fn open_checkpoint(
    msg: &[u8],
    trusted: &[NoteVerifier],
    origin: Option<&str>,
) -> Result<VerifiedCheckpoint, NoteError> {
    let note = Note::parse(msg, &NoteLimits::default())?;
    let checkpoint = Checkpoint::parse_text(note.text())?;
    if let Some(expected) = origin {
        if checkpoint.origin != expected {
            return Err(NoteError::WrongOrigin {
                found: checkpoint.origin,
                expected: expected.to_string(),
            });
        }
    }
    let verification = note.verify(trusted)?;
    Ok(VerifiedCheckpoint {
        checkpoint,
        verification,
        note,
    })
}
