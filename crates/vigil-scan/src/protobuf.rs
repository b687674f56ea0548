//! Protocol buffers, field by field (ONNX models, SentencePiece tokenizers, TensorFlow
//! SavedModels): length-delimited fields are skipped by length, never read unless asked for.

use crate::blob::Blob;
use crate::cursor::Reader;

/// Protobuf fields over a blob, read with the crate's bounded cursor; counts fields against
/// `max_entries`.
pub(crate) struct Pb<'b> {
    blob: &'b Blob,
    steps: u64,
    max_steps: u64,
}

pub(crate) type R<T> = Result<T, String>;

/// Called per field: (reader, field number, wire type, varint value or length, data offset).
pub(crate) type FieldFn<'f, 'b> = dyn FnMut(&mut Pb<'b>, u64, u8, u64, u64) -> R<()> + 'f;

impl<'b> Pb<'b> {
    pub(crate) fn new(blob: &'b Blob, max_steps: u64) -> Pb<'b> {
        Pb {
            blob,
            steps: 0,
            max_steps,
        }
    }

    /// Decode the packed varints in `[at, at + len)`.
    pub(crate) fn packed(&mut self, at: u64, len: u64, out: &mut Vec<i64>) -> R<()> {
        let mut r = Reader::window(self.blob, "packed field", at, len)?;
        while r.any_left() {
            out.push(r.varint("packed varint")? as i64);
        }
        Ok(())
    }

    /// Iterate fields of the message in [start, end): calls `f(field, wire, value_or_len, data_start)`.
    pub(crate) fn fields(&mut self, start: u64, end: u64, f: &mut FieldFn<'_, 'b>) -> R<()> {
        let mut r = Reader::window(
            self.blob,
            "protobuf message",
            start,
            end.saturating_sub(start),
        )?;
        while r.any_left() {
            self.steps += 1;
            if self.steps > self.max_steps {
                return Err("too many protobuf fields".into());
            }
            let key = r.varint("field key")?;
            let field = key >> 3;
            let wire = (key & 7) as u8;
            if field == 0 {
                return Err(format!("field number 0 at offset {}", r.pos()));
            }
            match wire {
                0 => {
                    let v = r.varint("varint field")?;
                    f(self, field, 0, v, r.pos())?;
                }
                1 => r.skip("fixed64 field", 8)?,
                5 => r.skip("fixed32 field", 4)?,
                2 => {
                    let len = r.varint("field length")?;
                    let data = r.pos();
                    r.skip("length-delimited field", len).map_err(|e| {
                        format!(
                            "field {field} of {len} bytes at offset {data} passes its message: {e}"
                        )
                    })?;
                    f(self, field, 2, len, data)?;
                }
                w => return Err(format!("wire type {w} at offset {} is not valid", r.pos())),
            }
        }
        Ok(())
    }

    pub(crate) fn string(&mut self, at: u64, len: u64) -> R<String> {
        if len > 1 << 20 {
            return Err(format!("string of {len} bytes at offset {at} is too long"));
        }
        let b = Reader::window(self.blob, "string", at, len)?.take("string", len)?;
        Ok(String::from_utf8_lossy(&b).into_owned())
    }
}
