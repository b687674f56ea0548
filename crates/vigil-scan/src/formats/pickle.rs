//! Pickle disassembler and a simulation of the pickle machine's stack and memo (protocols 0-5).
//!
//! Nothing is ever unpickled: each opcode is decoded and its effect on a model of the stack and
//! memo is simulated, so every import is resolved to `module.name` however its names were built
//! (GLOBAL, INST, STACK_GLOBAL from the memo, EXT codes registered in the stream, `getattr`,
//! `attrgetter`, `methodcaller`, `importlib.import_module` and friends). Values that matter for
//! that (strings, numbers, tuples, dicts, imported names, call results) are kept; large byte
//! strings are skipped unless they look like a nested pickle or archive, which is scanned.

use std::collections::HashMap;
use std::io::{self, Read};

use crate::blob::{Blob, ReadSkip};
use crate::context::Ctx;
use crate::kind::Format;
use crate::{Rule, Severity};

type Id = u32;

#[derive(Debug, Clone)]
#[allow(dead_code)] // payloads kept for debugging output
enum V {
    None,
    Bool(bool),
    Int(i64),
    Big(Vec<u8>),
    Float,
    Str(String),
    Bytes {
        len: u64,
        data: Option<Vec<u8>>,
        at: u64,
    },
    Tuple(Vec<Id>),
    List(Vec<Id>),
    Dict(Vec<(Id, Id)>),
    Set(Vec<Id>),
    /// An imported callable, class or module, as written (`module.name`).
    Global(String),
    /// The result of calling `func` with `args`; `state` is what BUILD gave it.
    Obj {
        func: Id,
        args: Id,
        state: Option<Id>,
    },
    /// `operator.attrgetter(names...)`.
    Getter(Vec<String>),
    /// `operator.methodcaller(name, ...)`.
    Caller(String),
    PersId,
    Unknown,
}

#[derive(Debug, Clone, Copy)]
enum Item {
    Mark,
    Val(Id),
}

/// Why a stream stopped before its end.
#[derive(Debug)]
pub(crate) struct Break {
    pub(crate) offset: u64,
    pub(crate) reason: String,
    pub(crate) limit: bool,
}

struct Input<'r> {
    r: &'r mut dyn ReadSkip,
    pos: u64,
    peeked: Option<u8>,
    /// Longest text argument (GLOBAL, INT, STRING lines) read before giving up.
    max_line: usize,
}

impl Input<'_> {
    fn err(&self, reason: impl Into<String>) -> Break {
        Break {
            offset: self.pos,
            reason: reason.into(),
            limit: false,
        }
    }
    fn io(&self, e: io::Error) -> Break {
        let limit = crate::decompress::is_limit(&e);
        let reason = if e.kind() == io::ErrorKind::UnexpectedEof {
            "stream ends before STOP".to_string()
        } else {
            e.to_string()
        };
        Break {
            offset: self.pos,
            reason,
            limit,
        }
    }
    fn peek(&mut self) -> Result<Option<u8>, Break> {
        if self.peeked.is_none() {
            let mut b = [0u8; 1];
            loop {
                match self.r.read(&mut b) {
                    Ok(0) => return Ok(None),
                    Ok(_) => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(self.io(e)),
                }
            }
            self.peeked = Some(b[0]);
        }
        Ok(self.peeked)
    }
    fn exact(&mut self, buf: &mut [u8]) -> Result<(), Break> {
        let mut start = 0;
        if let (Some(p), Some(first)) = (self.peeked, buf.first_mut()) {
            *first = p;
            self.peeked = None;
            start = 1;
        }
        if let Some(rest) = buf.get_mut(start..) {
            if let Err(e) = self.r.read_exact(rest) {
                return Err(self.io(e));
            }
        }
        self.pos += buf.len() as u64;
        Ok(())
    }
    fn u8(&mut self) -> Result<u8, Break> {
        let mut b = [0u8; 1];
        self.exact(&mut b)?;
        Ok(b[0])
    }
    fn arr<const N: usize>(&mut self) -> Result<[u8; N], Break> {
        let mut b = [0u8; N];
        self.exact(&mut b)?;
        Ok(b)
    }
    fn skip(&mut self, mut n: u64) -> Result<(), Break> {
        if n == 0 {
            return Ok(());
        }
        if self.peeked.take().is_some() {
            n -= 1;
            self.pos += 1;
        }
        self.r.skip(n).map_err(|e| self.io(e))?;
        self.pos += n;
        Ok(())
    }
    /// Read `n` bytes, growing the buffer as data arrives (a declared length never allocates
    /// more than the stream really holds).
    fn vec(&mut self, n: usize) -> Result<Vec<u8>, Break> {
        if n <= 64 * 1024 {
            let mut v = vec![0u8; n];
            self.exact(&mut v)?;
            return Ok(v);
        }
        let mut v = Vec::with_capacity(64 * 1024);
        if let Some(p) = self.peeked.take() {
            v.push(p);
        }
        let want = (n - v.len()) as u64;
        (&mut *self.r)
            .take(want)
            .read_to_end(&mut v)
            .map_err(|e| self.io(e))?;
        self.pos += v.len() as u64;
        if v.len() < n {
            return Err(self.err("stream ends before STOP"));
        }
        Ok(v)
    }
    fn line(&mut self) -> Result<Vec<u8>, Break> {
        let mut out = Vec::new();
        loop {
            let b = self.u8()?;
            if b == b'\n' {
                return Ok(out);
            }
            if out.len() >= self.max_line {
                return Err(self.err(format!("text argument longer than {} bytes", self.max_line)));
            }
            out.push(b);
        }
    }
}

/// What one stream held.
#[derive(Debug, Default)]
pub(crate) struct Summary {
    /// Pickles read to STOP.
    pub(crate) complete: usize,
    /// Imports seen (any verdict).
    pub(crate) imports: usize,
    /// Imports whose module and name are Python identifiers (what a real pickle writes).
    pub(crate) named_imports: usize,
    /// Calls made on imported callables (REDUCE, OBJ, INST, NEWOBJ, BUILD).
    pub(crate) calls: usize,
    /// The first pickle is the legacy PyTorch magic number.
    pub(crate) torch_legacy: bool,
    /// The stream saw joblib array wrappers.
    pub(crate) joblib: bool,
    /// Why the stream stopped early, if it did (trailing data excluded).
    pub(crate) broke: Option<Break>,
    /// Data that is not a pickle follows the last complete pickle.
    pub(crate) trailing: Option<Break>,
    /// Offset just past the last complete pickle (where trailing data starts).
    pub(crate) end: u64,
    /// Bytes read from the stream.
    pub(crate) read: u64,
}

impl Summary {
    /// Whether a trial parse found a pickle worth reporting: one that imports something and
    /// runs to STOP or calls what it imported, or one that hits a resource limit.
    pub(crate) fn is_real(&self) -> bool {
        (self.imports > 0 && (self.complete > 0 || self.calls > 0))
            || self.broke.as_ref().is_some_and(|b| b.limit)
    }

    /// Whether a trial parse of bytes that need not be a pickle at all found one: it imports a
    /// real dotted name (`os.system`, not junk) and reaches STOP or calls what it imported.
    /// Stricter than [`Summary::is_real`], so random data is not taken for a pickle.
    pub(crate) fn is_hidden_pickle(&self) -> bool {
        self.named_imports > 0 && (self.complete > 0 || self.calls > 0)
    }
}

/// `module.name` where every dot-separated part is a Python identifier.
fn is_dotted_name(name: &str) -> bool {
    name.split('.').all(|part| {
        let mut chars = part.chars();
        chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
            && chars.all(|c| c.is_alphanumeric() || c == '_')
    })
}

/// A digest of bytes, to scan each embedded byte string once.
fn digest(data: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    data.hash(&mut h);
    h.finish()
}

/// Longest byte string tried as a protocol 0/1 (text) pickle.
const TEXT_PICKLE_MAX: u64 = 1 << 20;

/// Bytes of strings kept at full length (up to `max_pickle_string` each) per pickle.
const STRING_BUDGET: u64 = 256 << 20;

/// The memo: dense indices (what picklers write) in a vector, any others in a map.
#[derive(Default)]
struct Memo {
    dense: Vec<Id>,
    sparse: HashMap<u64, Id>,
    len: usize,
}

const NO_ID: Id = Id::MAX;

impl Memo {
    fn len(&self) -> usize {
        self.len
    }

    /// Store; false if that would pass `max` entries.
    fn put(&mut self, idx: u64, id: Id, max: usize) -> bool {
        let fresh = self.get(idx).is_none();
        if fresh && self.len >= max {
            return false;
        }
        // Picklers number memo entries 0, 1, 2 ...: grow the vector only near its end, so one
        // huge index cannot allocate a huge vector.
        if idx < max as u64 && idx <= self.dense.len() as u64 + 1024 {
            let i = idx as usize;
            if i >= self.dense.len() {
                self.dense.resize(i + 1, NO_ID);
            }
            if let Some(slot) = self.dense.get_mut(i) {
                *slot = id;
            }
            self.sparse.remove(&idx);
        } else {
            self.sparse.insert(idx, id);
        }
        if fresh {
            self.len += 1;
        }
        true
    }

    fn get(&self, idx: u64) -> Option<Id> {
        match usize::try_from(idx).ok().and_then(|i| self.dense.get(i)) {
            Some(&id) if id != NO_ID => Some(id),
            _ => self.sparse.get(&idx).copied(),
        }
    }
}

const TORCH_MAGIC: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

/// Scan every pickle in a stream. Findings go to `ctx` under `member`.
pub(crate) fn scan_stream(
    r: &mut dyn ReadSkip,
    ctx: &mut Ctx<'_>,
    member: Option<&str>,
    depth: usize,
) -> Summary {
    let mut ops_left = ctx.limits().max_pickle_ops;
    scan_stream_with(r, ctx, member, depth, &mut ops_left)
}

/// A trial parse of bytes that may or may not be a pickle (hidden in trailing data or in a
/// byte string): text arguments are cut at 64 KiB, so junk without newlines costs little.
pub(crate) fn scan_trial(
    data: &[u8],
    ctx: &mut Ctx<'_>,
    member: Option<&str>,
    depth: usize,
    ops_left: &mut u64,
) -> Summary {
    let mut r = crate::blob::StreamSkip(data);
    let mut input = Input {
        r: &mut r,
        pos: 0,
        peeked: None,
        max_line: 64 * 1024,
    };
    let mut sum = scan_input(&mut input, ctx, member, depth, ops_left);
    sum.read = input.pos;
    sum
}

/// [`scan_stream`] spending opcodes from a budget the caller shares between streams.
pub(crate) fn scan_stream_with(
    r: &mut dyn ReadSkip,
    ctx: &mut Ctx<'_>,
    member: Option<&str>,
    depth: usize,
    ops_left: &mut u64,
) -> Summary {
    let mut input = Input {
        r,
        pos: 0,
        peeked: None,
        max_line: 1 << 20,
    };
    let mut sum = scan_input(&mut input, ctx, member, depth, ops_left);
    sum.read = input.pos;
    sum
}

fn scan_input(
    input: &mut Input<'_>,
    ctx: &mut Ctx<'_>,
    member: Option<&str>,
    depth: usize,
    ops_left: &mut u64,
) -> Summary {
    let mut sum = Summary::default();
    loop {
        let mut m = Machine::new(ctx, member, depth, ops_left);
        let start_findings = m.ctx.finding_count();
        let res = m.run(input);
        m.flush_pending();
        sum.imports += m.imports;
        sum.named_imports += m.named_imports;
        sum.calls += m.calls;
        sum.joblib |= m.joblib;
        let first_is_magic = matches!(&m.result, Some(V::Big(b)) if b.as_slice() == TORCH_MAGIC);
        let found_here = m.ctx.finding_count() > start_findings;
        match res {
            Ok(()) => {
                if sum.complete == 0 && first_is_magic {
                    sum.torch_legacy = true;
                }
                sum.complete += 1;
                sum.end = input.pos;
            }
            Err(b) => {
                if sum.complete == 0 || found_here || b.limit {
                    sum.broke = Some(b);
                } else {
                    sum.trailing = Some(b);
                }
                return sum;
            }
        }
        // Legacy PyTorch: magic, protocol, sys_info, object, storage keys, then raw storages.
        if sum.torch_legacy && sum.complete >= 5 {
            return sum;
        }
        match input.peek() {
            Ok(None) => return sum,
            Ok(Some(b)) if is_pickle_start(b) => {}
            Ok(Some(_)) => {
                sum.trailing = Some(input.err("data after the last STOP is not a pickle"));
                return sum;
            }
            Err(b) => {
                sum.broke = Some(b);
                return sum;
            }
        }
        if sum.complete >= ctx.limits().max_pickles_per_stream {
            sum.broke = Some(Break {
                offset: input.pos,
                reason: format!("more than {} pickles in one stream", sum.complete),
                limit: true,
            });
            return sum;
        }
    }
}

/// Bytes that can open a pickle: PROTO, or an opcode a protocol 0/1 pickle can start with.
pub(crate) fn is_pickle_start(b: u8) -> bool {
    matches!(
        b,
        0x80 | b'('
            | b'c'
            | b']'
            | b'}'
            | b')'
            | b'N'
            | b'I'
            | b'S'
            | b'V'
            | b'l'
            | b'd'
            | b'L'
            | b'F'
            | b'K'
            | b'J'
            | b'M'
            | b'X'
            | b'U'
            | b'T'
            | b'G'
            | b'P'
            | b'i'
            | b'B'
            | b'C'
            | 0x88
            | 0x89
            | 0x8c
            | 0x95
    )
}

struct Machine<'c, 'a, 'o> {
    ctx: &'c mut Ctx<'a>,
    member: Option<&'c str>,
    depth: usize,
    ops_left: &'o mut u64,
    vals: Vec<V>,
    stack: Vec<Item>,
    memo: Memo,
    ext: HashMap<i64, String>,
    imports: usize,
    named_imports: usize,
    calls: usize,
    joblib: bool,
    retained: u64,
    kept_text: u64,
    elems: usize,
    result: Option<V>,
    /// Digests of the embedded byte strings already scanned (each is scanned once).
    scanned: std::collections::HashSet<u64>,
    /// Text strings that may hold a pickle as latin-1 characters, tried at the end unless a
    /// call (`_codecs.encode`) already scanned their bytes.
    pending: Vec<(Vec<u8>, u64)>,
}

const JOBLIB_WRAPPERS: &[&str] = &[
    "joblib.numpy_pickle.NumpyArrayWrapper",
    "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper",
];

impl<'c, 'a, 'o> Machine<'c, 'a, 'o> {
    fn new(
        ctx: &'c mut Ctx<'a>,
        member: Option<&'c str>,
        depth: usize,
        ops_left: &'o mut u64,
    ) -> Self {
        Machine {
            ctx,
            member,
            depth,
            ops_left,
            vals: Vec::new(),
            stack: Vec::new(),
            memo: Memo::default(),
            ext: HashMap::new(),
            imports: 0,
            named_imports: 0,
            calls: 0,
            joblib: false,
            retained: 0,
            kept_text: 0,
            elems: 0,
            result: None,
            scanned: std::collections::HashSet::new(),
            pending: Vec::new(),
        }
    }

    fn alloc(&mut self, v: V, inp: &Input<'_>) -> Result<Id, Break> {
        if self.vals.len() >= self.ctx.limits().max_pickle_values {
            return Err(Break {
                offset: inp.pos,
                reason: format!("more than {} values", self.ctx.limits().max_pickle_values),
                limit: true,
            });
        }
        self.vals.push(v);
        Ok((self.vals.len() - 1) as Id)
    }

    fn push(&mut self, v: V, inp: &Input<'_>) -> Result<(), Break> {
        let id = self.alloc(v, inp)?;
        self.push_id(id, inp)
    }

    fn push_id(&mut self, id: Id, inp: &Input<'_>) -> Result<(), Break> {
        if self.stack.len() >= self.ctx.limits().max_pickle_stack {
            return Err(Break {
                offset: inp.pos,
                reason: format!("stack deeper than {}", self.ctx.limits().max_pickle_stack),
                limit: true,
            });
        }
        self.stack.push(Item::Val(id));
        Ok(())
    }

    fn pop(&mut self, inp: &Input<'_>) -> Result<Id, Break> {
        match self.stack.pop() {
            Some(Item::Val(id)) => Ok(id),
            Some(Item::Mark) => Err(inp.err("unexpected MARK on the stack")),
            None => Err(inp.err("stack underflow")),
        }
    }

    fn top(&self, inp: &Input<'_>) -> Result<Id, Break> {
        match self.stack.last() {
            Some(Item::Val(id)) => Ok(*id),
            Some(Item::Mark) => Err(inp.err("unexpected MARK on the stack")),
            None => Err(inp.err("stack underflow")),
        }
    }

    fn pop_mark(&mut self, inp: &Input<'_>) -> Result<Vec<Id>, Break> {
        let pos = self
            .stack
            .iter()
            .rposition(|i| matches!(i, Item::Mark))
            .ok_or_else(|| inp.err("no MARK on the stack"))?;
        let items = self.stack.split_off(pos);
        Ok(items
            .into_iter()
            .skip(1)
            .filter_map(|i| match i {
                Item::Val(id) => Some(id),
                Item::Mark => None,
            })
            .collect())
    }

    fn get(&self, id: Id) -> &V {
        self.vals.get(id as usize).unwrap_or(&V::Unknown)
    }

    fn dotted(&self, id: Id) -> Option<String> {
        match self.get(id) {
            V::Global(s) => Some(s.clone()),
            _ => None,
        }
    }

    fn string(&self, id: Id) -> Option<String> {
        match self.get(id) {
            V::Str(s) => Some(s.clone()),
            _ => None,
        }
    }

    fn tuple(&self, id: Id) -> Vec<Id> {
        match self.get(id) {
            V::Tuple(t) | V::List(t) => t.clone(),
            _ => Vec::new(),
        }
    }

    fn text(&mut self, raw: Vec<u8>) -> String {
        let mut s = String::from_utf8(raw)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        // Past the budget for kept text, strings keep only what a module or name needs.
        let max = if self.kept_text > STRING_BUDGET {
            256
        } else {
            self.ctx.limits().max_pickle_string
        };
        if s.len() > max {
            let mut cut = max;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            s.truncate(cut);
        }
        self.kept_text += s.len() as u64;
        s
    }

    /// Judge an import and push or return its value.
    fn import(&mut self, name: String, how: &str, inp: &Input<'_>) -> Result<Id, Break> {
        self.imports += 1;
        if is_dotted_name(&name) {
            self.named_imports += 1;
        }
        self.ctx.judge_global(&name, self.member, how);
        self.alloc(V::Global(name), inp)
    }

    fn run(&mut self, inp: &mut Input<'_>) -> Result<(), Break> {
        loop {
            if *self.ops_left == 0 {
                return Err(Break {
                    offset: inp.pos,
                    reason: "too many opcodes".into(),
                    limit: true,
                });
            }
            *self.ops_left -= 1;
            let at = inp.pos;
            let op = inp.u8()?;
            match op {
                0x80 => {
                    let p = inp.u8()?;
                    if p > 5 {
                        return Err(inp.err(format!("unsupported pickle protocol {p}")));
                    }
                }
                0x95 => {
                    inp.arr::<8>()?;
                }
                b'.' => {
                    let top = self.pop(inp)?;
                    self.result = Some(self.get(top).clone());
                    return Ok(());
                }
                b'(' => {
                    if self.stack.len() >= self.ctx.limits().max_pickle_stack {
                        return Err(Break {
                            offset: at,
                            reason: "stack too deep".into(),
                            limit: true,
                        });
                    }
                    self.stack.push(Item::Mark);
                }
                b'0' => {
                    if self.stack.pop().is_none() {
                        return Err(inp.err("POP on an empty stack"));
                    }
                }
                b'1' => {
                    self.pop_mark(inp)?;
                }
                b'2' => {
                    let t = self.top(inp)?;
                    self.push_id(t, inp)?;
                }
                b'N' => self.push(V::None, inp)?,
                0x88 => self.push(V::Bool(true), inp)?,
                0x89 => self.push(V::Bool(false), inp)?,
                b'I' => {
                    let l = inp.line()?;
                    let v = match l.as_slice() {
                        b"01" => V::Bool(true),
                        b"00" => V::Bool(false),
                        s => match std::str::from_utf8(s)
                            .ok()
                            .and_then(|t| t.trim().parse::<i64>().ok())
                        {
                            Some(i) => V::Int(i),
                            None if s
                                .iter()
                                .all(|c| c.is_ascii_digit() || *c == b'-' || *c == b' ')
                                && !s.is_empty() =>
                            {
                                V::Big(Vec::new())
                            }
                            None => {
                                return Err(Break {
                                    offset: at,
                                    reason: "INT argument is not a number".into(),
                                    limit: false,
                                })
                            }
                        },
                    };
                    self.push(v, inp)?;
                }
                b'J' => {
                    let v = i32::from_le_bytes(inp.arr()?);
                    self.push(V::Int(i64::from(v)), inp)?;
                }
                b'K' => {
                    let v = inp.u8()?;
                    self.push(V::Int(i64::from(v)), inp)?;
                }
                b'M' => {
                    let v = u16::from_le_bytes(inp.arr()?);
                    self.push(V::Int(i64::from(v)), inp)?;
                }
                b'L' => {
                    let l = inp.line()?;
                    let t = String::from_utf8_lossy(&l);
                    let t = t.trim_end_matches('L');
                    let v = match t.parse::<i64>() {
                        Ok(i) => V::Int(i),
                        Err(_)
                            if !t.is_empty()
                                && t.bytes().all(|c| c.is_ascii_digit() || c == b'-') =>
                        {
                            V::Big(Vec::new())
                        }
                        Err(_) => {
                            return Err(Break {
                                offset: at,
                                reason: "LONG argument is not a number".into(),
                                limit: false,
                            })
                        }
                    };
                    self.push(v, inp)?;
                }
                0x8a => {
                    let n = inp.u8()? as usize;
                    let b = inp.vec(n)?;
                    self.push(long_value(b), inp)?;
                }
                0x8b => {
                    let n = i32::from_le_bytes(inp.arr()?);
                    if n < 0 {
                        return Err(inp.err("LONG4 with a negative length"));
                    }
                    let n = n as u64;
                    if n <= 16 {
                        let b = inp.vec(n as usize)?;
                        self.push(long_value(b), inp)?;
                    } else {
                        inp.skip(n)?;
                        self.push(V::Big(Vec::new()), inp)?;
                    }
                }
                b'F' => {
                    inp.line()?;
                    self.push(V::Float, inp)?;
                }
                b'G' => {
                    inp.arr::<8>()?;
                    self.push(V::Float, inp)?;
                }
                b'S' => {
                    let l = inp.line()?;
                    let s = unquote(&l).ok_or_else(|| Break {
                        offset: at,
                        reason: "STRING argument is not quoted".into(),
                        limit: false,
                    })?;
                    self.string_pickle(&s, true, at);
                    let s = self.text(s);
                    self.push(V::Str(s), inp)?;
                }
                b'V' => {
                    let l = inp.line()?;
                    let decoded = raw_unicode_escape(&l).into_bytes();
                    self.string_pickle(&decoded, false, at);
                    let s = self.text(decoded);
                    self.push(V::Str(s), inp)?;
                }
                b'T' => {
                    let n = i32::from_le_bytes(inp.arr()?);
                    if n < 0 {
                        return Err(inp.err("BINSTRING with a negative length"));
                    }
                    self.string_op_as(n as u64, inp, true)?;
                }
                b'U' => {
                    let n = u64::from(inp.u8()?);
                    self.string_op_as(n, inp, true)?;
                }
                0x8c => {
                    let n = u64::from(inp.u8()?);
                    self.string_op(n, inp)?;
                }
                b'X' => {
                    let n = u64::from(u32::from_le_bytes(inp.arr()?));
                    self.string_op(n, inp)?;
                }
                0x8d => {
                    let n = u64::from_le_bytes(inp.arr()?);
                    self.string_op(n, inp)?;
                }
                b'B' => {
                    let n = u64::from(u32::from_le_bytes(inp.arr()?));
                    self.bytes_op(n, inp)?;
                }
                b'C' => {
                    let n = u64::from(inp.u8()?);
                    self.bytes_op(n, inp)?;
                }
                0x8e | 0x96 => {
                    let n = u64::from_le_bytes(inp.arr()?);
                    self.bytes_op(n, inp)?;
                }
                0x97 => self.push(V::Unknown, inp)?,
                0x98 => {
                    self.top(inp)?;
                }
                b')' => self.push(V::Tuple(Vec::new()), inp)?,
                b't' => {
                    let items = self.pop_mark(inp)?;
                    self.count(items.len(), inp)?;
                    self.push(V::Tuple(items), inp)?;
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop(inp)?);
                    }
                    items.reverse();
                    self.push(V::Tuple(items), inp)?;
                }
                b']' => self.push(V::List(Vec::new()), inp)?,
                b'l' => {
                    let items = self.pop_mark(inp)?;
                    self.count(items.len(), inp)?;
                    self.push(V::List(items), inp)?;
                }
                b'}' => self.push(V::Dict(Vec::new()), inp)?,
                b'd' => {
                    let items = self.pop_mark(inp)?;
                    self.count(items.len(), inp)?;
                    let pairs = items
                        .chunks(2)
                        .filter_map(|c| Some((*c.first()?, *c.get(1)?)))
                        .collect();
                    self.push(V::Dict(pairs), inp)?;
                }
                0x8f => self.push(V::Set(Vec::new()), inp)?,
                0x91 => {
                    let items = self.pop_mark(inp)?;
                    self.count(items.len(), inp)?;
                    self.push(V::Set(items), inp)?;
                }
                b'a' => {
                    let v = self.pop(inp)?;
                    let l = self.top(inp)?;
                    self.extend(l, vec![v], inp)?;
                }
                b'e' | 0x90 => {
                    let items = self.pop_mark(inp)?;
                    let l = self.top(inp)?;
                    self.extend(l, items, inp)?;
                }
                b's' => {
                    let v = self.pop(inp)?;
                    let k = self.pop(inp)?;
                    let d = self.top(inp)?;
                    self.set_items(d, vec![k, v], inp)?;
                }
                b'u' => {
                    let items = self.pop_mark(inp)?;
                    let d = self.top(inp)?;
                    self.set_items(d, items, inp)?;
                }
                b'p' => {
                    let l = inp.line()?;
                    let idx = parse_u64(&l).ok_or_else(|| Break {
                        offset: at,
                        reason: "PUT index is not a number".into(),
                        limit: false,
                    })?;
                    self.memo_put(idx, inp)?;
                }
                b'q' => {
                    let idx = u64::from(inp.u8()?);
                    self.memo_put(idx, inp)?;
                }
                b'r' => {
                    let idx = u64::from(u32::from_le_bytes(inp.arr()?));
                    self.memo_put(idx, inp)?;
                }
                0x94 => {
                    let idx = self.memo.len() as u64;
                    self.memo_put(idx, inp)?;
                }
                b'g' => {
                    let l = inp.line()?;
                    let idx = parse_u64(&l).ok_or_else(|| Break {
                        offset: at,
                        reason: "GET index is not a number".into(),
                        limit: false,
                    })?;
                    self.memo_get(idx, at, inp)?;
                }
                b'h' => {
                    let idx = u64::from(inp.u8()?);
                    self.memo_get(idx, at, inp)?;
                }
                b'j' => {
                    let idx = u64::from(u32::from_le_bytes(inp.arr()?));
                    self.memo_get(idx, at, inp)?;
                }
                b'c' => {
                    let module = inp.line()?;
                    let name = inp.line()?;
                    let g = format!("{}.{}", self.text(module), self.text(name));
                    let id = self.import(g, "GLOBAL", inp)?;
                    self.push_id(id, inp)?;
                }
                0x93 => {
                    let name = self.pop(inp)?;
                    let module = self.pop(inp)?;
                    let id = match (self.string(module), self.string(name)) {
                        (Some(m), Some(n)) => {
                            self.import(format!("{m}.{n}"), "STACK_GLOBAL", inp)?
                        }
                        _ => {
                            self.ctx.add(
                                Severity::Critical,
                                Rule::PickleDynamicImport,
                                format!("STACK_GLOBAL at offset {at} takes a module or name built at load time, which cannot be resolved statically: it may import any callable, such as os.system"),
                                None,
                                self.member,
                            );
                            self.imports += 1;
                            self.alloc(V::Unknown, inp)?
                        }
                    };
                    self.push_id(id, inp)?;
                }
                0x82..=0x84 => {
                    let code: i64 = match op {
                        0x82 => i64::from(inp.u8()?),
                        0x83 => i64::from(u16::from_le_bytes(inp.arr()?)),
                        _ => i64::from(i32::from_le_bytes(inp.arr()?)),
                    };
                    let id = match self.ext.get(&code).cloned() {
                        Some(g) => self.import(g, "EXT", inp)?,
                        None => {
                            self.ctx.add(
                                Severity::Medium,
                                Rule::PickleExtensionCode,
                                format!("EXT opcode at offset {at} imports extension code {code}, which the file does not register; what it names depends on the loading process"),
                                None,
                                self.member,
                            );
                            self.imports += 1;
                            self.alloc(V::Unknown, inp)?
                        }
                    };
                    self.push_id(id, inp)?;
                }
                b'i' => {
                    let module = inp.line()?;
                    let name = inp.line()?;
                    let args = self.pop_mark(inp)?;
                    self.count(args.len(), inp)?;
                    let g = format!("{}.{}", self.text(module), self.text(name));
                    let f = self.import(g, "INST", inp)?;
                    let a = self.alloc(V::Tuple(args), inp)?;
                    let r = self.call(f, a, inp)?;
                    self.push_id(r, inp)?;
                }
                b'o' => {
                    let items = self.pop_mark(inp)?;
                    self.count(items.len(), inp)?;
                    let (f, rest) = items
                        .split_first()
                        .ok_or_else(|| inp.err("OBJ without a class"))?;
                    let a = self.alloc(V::Tuple(rest.to_vec()), inp)?;
                    let r = self.call(*f, a, inp)?;
                    self.push_id(r, inp)?;
                }
                b'R' => {
                    let a = self.pop(inp)?;
                    let f = self.pop(inp)?;
                    let r = self.call(f, a, inp)?;
                    self.push_id(r, inp)?;
                }
                0x81 => {
                    let a = self.pop(inp)?;
                    let f = self.pop(inp)?;
                    let r = self.call(f, a, inp)?;
                    self.push_id(r, inp)?;
                }
                0x92 => {
                    let _kw = self.pop(inp)?;
                    let a = self.pop(inp)?;
                    let f = self.pop(inp)?;
                    let r = self.call(f, a, inp)?;
                    self.push_id(r, inp)?;
                }
                b'b' => {
                    let state = self.pop(inp)?;
                    let obj = self.top(inp)?;
                    self.build(obj, state, at, inp)?;
                }
                b'P' => {
                    inp.line()?;
                    self.push(V::PersId, inp)?;
                }
                b'Q' => {
                    self.pop(inp)?;
                    self.push(V::PersId, inp)?;
                }
                other => {
                    return Err(Break {
                        offset: at,
                        reason: format!("unknown opcode 0x{other:02x}"),
                        limit: false,
                    });
                }
            }
        }
    }

    fn string_op(&mut self, n: u64, inp: &mut Input<'_>) -> Result<(), Break> {
        self.string_op_as(n, inp, false)
    }

    /// A string opcode; `binary` for Python 2 byte strings (BINSTRING, SHORT_BINSTRING), which
    /// hold bytes that can themselves be a pickle.
    fn string_op_as(&mut self, n: u64, inp: &mut Input<'_>, binary: bool) -> Result<(), Break> {
        let at = inp.pos;
        let max = self.ctx.limits().max_pickle_string as u64;
        let raw = if n > max {
            let keep = inp.vec(max as usize)?;
            inp.skip(n - max)?;
            keep
        } else {
            inp.vec(n as usize)?
        };
        self.string_pickle(&raw, binary, at);
        let s = self.text(raw);
        self.push(V::Str(s), inp)
    }

    /// A string whose bytes (or, for text, its characters as latin-1 bytes, as
    /// `_codecs.encode(s, "latin1")` makes them) are a pickle is scanned as one.
    fn string_pickle(&mut self, raw: &[u8], binary: bool, at: u64) {
        let first = raw.first().copied().unwrap_or(0);
        if binary {
            if first == 0x80 || (is_pickle_start(first) && raw.contains(&b'\n')) {
                let _ = self.embedded_pickle(raw, at);
            }
            return;
        }
        if raw.starts_with("\u{80}".as_bytes()) || (is_pickle_start(first) && raw.contains(&b'\n'))
        {
            if let Ok(text) = std::str::from_utf8(raw) {
                let bytes: Option<Vec<u8>> = text
                    .chars()
                    .map(|c| u8::try_from(u32::from(c)).ok())
                    .collect();
                if let Some(b) = bytes {
                    if self.retained + b.len() as u64 <= 4 * self.ctx.limits().max_inline_blob {
                        self.retained += b.len() as u64;
                        self.pending.push((b, at));
                    }
                }
            }
        }
    }

    fn bytes_op(&mut self, n: u64, inp: &mut Input<'_>) -> Result<(), Break> {
        let at = inp.pos;
        let head_len = n.min(8) as usize;
        let head = inp.vec(head_len)?;
        let limits = self.ctx.limits();
        // Archives and pickles are kept to be scanned; so are short byte strings that may be a
        // protocol 0/1 pickle (text opcodes), which `pickle.loads` would run just the same.
        let text_pickle = n <= TEXT_PICKLE_MAX && head.first().is_some_and(|b| is_pickle_start(*b));
        let interesting = crate::sniff::looks_nested(&head) || text_pickle;
        let data = if interesting
            && n <= limits.max_inline_blob
            && self.retained + n <= 4 * limits.max_inline_blob
        {
            let mut all = head;
            let rest = inp.vec((n - head_len as u64) as usize)?;
            all.extend_from_slice(&rest);
            self.retained += n;
            Some(all)
        } else {
            inp.skip(n - head_len as u64)?;
            if interesting {
                self.ctx.add(
                    Severity::Medium,
                    Rule::ResourceLimit,
                    format!("a {n}-byte string at offset {at} looks like an embedded pickle or archive but is over the inline limit, so it was not scanned"),
                    None,
                    self.member,
                );
            }
            None
        };
        let embedded = data.as_deref().is_some_and(|d| self.embedded_pickle(d, at));
        let data = if embedded { None } else { data };
        self.push(V::Bytes { len: n, data, at }, inp)
    }

    /// Scan a byte string that parses as a pickle, wherever it sits in this pickle (a
    /// `pickle.loads` elsewhere, in the model's code, would run it). Returns whether it was one
    /// (its findings are then kept, with member `bytes@OFFSET`).
    fn embedded_pickle(&mut self, data: &[u8], at: u64) -> bool {
        if self.scanned.contains(&digest(data)) {
            return true;
        }
        let first = data.first().copied().unwrap_or(0);
        let binary = first == 0x80 && data.get(1).is_some_and(|p| *p <= 5);
        let text = first != 0x80
            && is_pickle_start(first)
            && data.len() as u64 <= TEXT_PICKLE_MAX
            && data.contains(&b'\n');
        let seg = format!("bytes@{at}");
        let member = match self.member {
            Some(m) => format!("{m}!{seg}"),
            None => seg,
        };
        if !(binary || text) {
            return self.embedded_container(data, &member);
        }
        if self.depth + 1 > self.ctx.limits().max_depth {
            self.ctx
                .scan_nested(&Blob::mem(data.to_vec()), &member, self.depth + 1);
            return true;
        }
        let mut trial = self.ctx.child();
        let sum = scan_trial(
            data,
            &mut trial,
            Some(&member),
            self.depth + 1,
            self.ops_left,
        );
        if sum.is_hidden_pickle() || (binary && sum.broke.as_ref().is_some_and(|b| b.limit)) {
            self.scanned.insert(digest(data));
            self.ctx.absorb(trial);
            // What the embedded pickle imports and calls counts for this one too, so a pickle
            // hidden in bytes in a pickle in bytes is still found.
            self.imports += sum.imports.max(1);
            self.named_imports += sum.named_imports.max(1);
            self.calls += sum.calls;
            true
        } else {
            false
        }
    }

    /// Bytes that sniff as an archive or a compression wrapper (a gzipped pickle, a zip), kept
    /// in a pickle but handed to no call: scanned through the door, and kept when what they
    /// hold is dangerous (HIGH or CRITICAL); lesser findings of such speculative scans (raw
    /// data that only starts like a zlib stream) are dropped. A call that takes them scans them
    /// in full anyway.
    fn embedded_container(&mut self, data: &[u8], member: &str) -> bool {
        if !crate::sniff::looks_nested(data.get(..data.len().min(512)).unwrap_or_default()) {
            return false;
        }
        if self.depth + 1 > self.ctx.limits().max_depth {
            return false;
        }
        let mut trial = self.ctx.child();
        trial.scan_nested(&Blob::mem(data.to_vec()), member, self.depth + 1);
        if trial.max_severity() >= Some(Severity::High) {
            self.scanned.insert(digest(data));
            self.ctx.absorb(trial);
            self.imports += 1;
            self.calls += 1;
            true
        } else {
            false
        }
    }

    /// Count container elements against `max_pickle_values` (DUP can repeat one value forever).
    fn count(&mut self, n: usize, inp: &Input<'_>) -> Result<(), Break> {
        self.elems += n;
        if self.vals.len() + self.elems > self.ctx.limits().max_pickle_values {
            return Err(Break {
                offset: inp.pos,
                reason: format!("more than {} values", self.ctx.limits().max_pickle_values),
                limit: true,
            });
        }
        Ok(())
    }

    fn extend(&mut self, target: Id, items: Vec<Id>, inp: &Input<'_>) -> Result<(), Break> {
        self.elems += items.len();
        let total = self.vals.len() + self.elems;
        if total > self.ctx.limits().max_pickle_values {
            return Err(Break {
                offset: inp.pos,
                reason: "too many values".into(),
                limit: true,
            });
        }
        match self.vals.get_mut(target as usize) {
            Some(V::List(l)) | Some(V::Set(l)) => l.extend(items),
            _ => {}
        }
        Ok(())
    }

    fn set_items(&mut self, target: Id, items: Vec<Id>, inp: &Input<'_>) -> Result<(), Break> {
        self.elems += items.len();
        let total = self.vals.len() + self.elems;
        if total > self.ctx.limits().max_pickle_values {
            return Err(Break {
                offset: inp.pos,
                reason: "too many values".into(),
                limit: true,
            });
        }
        if let Some(V::Dict(d)) = self.vals.get_mut(target as usize) {
            d.extend(
                items
                    .chunks(2)
                    .filter_map(|c| Some((*c.first()?, *c.get(1)?))),
            );
        }
        Ok(())
    }

    fn memo_put(&mut self, idx: u64, inp: &Input<'_>) -> Result<(), Break> {
        let top = self.top(inp)?;
        let max = self.ctx.limits().max_pickle_memo;
        if !self.memo.put(idx, top, max) {
            return Err(Break {
                offset: inp.pos,
                reason: format!("memo larger than {max} entries"),
                limit: true,
            });
        }
        Ok(())
    }

    fn memo_get(&mut self, idx: u64, at: u64, inp: &Input<'_>) -> Result<(), Break> {
        let id = self.memo.get(idx).ok_or_else(|| Break {
            offset: at,
            reason: format!("memo key {idx} was never stored"),
            limit: false,
        })?;
        self.push_id(id, inp)
    }

    /// Simulate calling `f` with the argument tuple `a`.
    fn call(&mut self, f: Id, a: Id, inp: &mut Input<'_>) -> Result<Id, Break> {
        let args = self.tuple(a);
        let arg = |i: usize| args.get(i).copied();
        let mut result: Option<Id> = None;
        match self.get(f).clone() {
            V::Global(name) => {
                self.calls += 1;
                let norm = crate::globals::normalize(&name);
                match norm.as_str() {
                    "builtins.getattr" => {
                        if let (Some(o), Some(n)) = (arg(0), arg(1)) {
                            if let (Some(base), Some(attr)) = (self.dotted(o), self.string(n)) {
                                result =
                                    Some(self.import(format!("{base}.{attr}"), "getattr", inp)?);
                            }
                        }
                    }
                    "importlib.import_module" | "builtins.__import__" | "importlib.__import__" => {
                        if let Some(m) = arg(0).and_then(|i| self.string(i)) {
                            result = Some(self.import(m, "import", inp)?);
                        }
                    }
                    "pkgutil.resolve_name" | "pydoc.locate" => {
                        if let Some(s) = arg(0).and_then(|i| self.string(i)) {
                            result = Some(self.import(s.replace(':', "."), "resolve_name", inp)?);
                        }
                    }
                    "numpy.core._ufunc_reconstruct" => {
                        match (arg(0).and_then(|i| self.string(i)), arg(1).and_then(|i| self.string(i))) {
                            (Some(m), Some(n)) => {
                                result = Some(self.import(format!("{m}.{n}"), "_ufunc_reconstruct", inp)?);
                            }
                            _ => self.ctx.add(
                                Severity::Critical,
                                Rule::PickleDynamicImport,
                                "numpy.core._ufunc_reconstruct imports a module and name built at load time".into(),
                                Some(&name),
                                self.member,
                            ),
                        }
                    }
                    "operator.attrgetter" => {
                        let names: Vec<String> =
                            args.iter().filter_map(|i| self.string(*i)).collect();
                        result = Some(self.alloc(V::Getter(names), inp)?);
                    }
                    "operator.methodcaller" => {
                        if let Some(n) = arg(0).and_then(|i| self.string(i)) {
                            result = Some(self.alloc(V::Caller(n), inp)?);
                        }
                    }
                    "builtins.str" => {
                        // str("os") is still "os": names laundered through str() stay resolvable.
                        if let Some(text) = arg(0).and_then(|i| self.string(i)) {
                            result = Some(self.alloc(V::Str(text), inp)?);
                        }
                    }
                    "operator.getitem" | "builtins.dict.get" | "builtins.dict.__getitem__" => {
                        // getitem(sys.modules, "os"), builtins.__dict__.get("eval") ...
                        if let (Some(o), Some(k)) = (arg(0), arg(1)) {
                            if let (Some(base), Some(key)) = (self.dotted(o), self.string(k)) {
                                let base = crate::globals::normalize(&base);
                                let target = if base == "sys.modules" {
                                    key
                                } else if let Some(b) = base.strip_suffix(".__dict__") {
                                    format!("{b}.{key}")
                                } else {
                                    format!("{base}.{key}")
                                };
                                result = Some(self.import(target, "getitem", inp)?);
                            }
                        }
                    }
                    "codecs.encode" | "codecs.latin_1_encode" => {
                        // Protocol 0-2 bytes: _codecs.encode("...", "latin1"); keep them if nested.
                        if let Some(text) = arg(0).and_then(|i| self.string(i)) {
                            let bytes: Option<Vec<u8>> = text
                                .chars()
                                .map(|c| u8::try_from(u32::from(c)).ok())
                                .collect();
                            if let Some(b) = bytes.filter(|b| {
                                crate::sniff::looks_nested(
                                    b.get(..8.min(b.len())).unwrap_or_default(),
                                )
                            }) {
                                result = Some(self.alloc(
                                    V::Bytes {
                                        len: b.len() as u64,
                                        data: Some(b),
                                        at: inp.pos,
                                    },
                                    inp,
                                )?);
                            }
                        }
                    }
                    "builtins.bytes.fromhex"
                    | "builtins.bytearray.fromhex"
                    | "binascii.unhexlify"
                    | "binascii.a2b_hex" => {
                        let text = arg(0).and_then(|i| match self.get(i) {
                            V::Str(s) => Some(s.clone().into_bytes()),
                            V::Bytes { data: Some(d), .. } => Some(d.clone()),
                            _ => None,
                        });
                        if let Some(b) = text.and_then(|t| unhex(&t)) {
                            result = Some(self.alloc(
                                V::Bytes {
                                    len: b.len() as u64,
                                    data: Some(b),
                                    at: inp.pos,
                                },
                                inp,
                            )?);
                        }
                    }
                    "base64.b64decode"
                    | "base64.standard_b64decode"
                    | "base64.decodebytes"
                    | "binascii.a2b_base64" => {
                        let text = arg(0).and_then(|i| match self.get(i) {
                            V::Str(s) => Some(s.clone().into_bytes()),
                            V::Bytes { data: Some(d), .. } => Some(d.clone()),
                            _ => None,
                        });
                        if let Some(b) = text.and_then(|t| b64(&t)) {
                            result = Some(self.alloc(
                                V::Bytes {
                                    len: b.len() as u64,
                                    data: Some(b),
                                    at: inp.pos,
                                },
                                inp,
                            )?);
                        }
                    }
                    n if n.starts_with("yaml.")
                        || n.starts_with("jsonpickle.")
                        || n.starts_with("ruamel.") =>
                    {
                        for a in &args {
                            if let Some(text) = self.string(*a) {
                                if let Some(tag) = [
                                    "!!python/",
                                    "!python/",
                                    "\"py/reduce\"",
                                    "\"py/function\"",
                                    "\"py/type\"",
                                    "\"py/object\"",
                                ]
                                .iter()
                                .find(|t| text.contains(**t))
                                {
                                    self.ctx.add(
                                        Severity::Critical,
                                        Rule::PickleCodeExecution,
                                        format!("{name} is given a document with {tag} tags, which construct and call arbitrary Python objects"),
                                        Some(&name),
                                        self.member,
                                    );
                                }
                            }
                        }
                    }
                    "copyreg.add_extension" => {
                        if let (Some(m), Some(n), Some(V::Int(code))) = (
                            arg(0).and_then(|i| self.string(i)),
                            arg(1).and_then(|i| self.string(i)),
                            arg(2).map(|i| self.get(i).clone()),
                        ) {
                            self.ext.insert(code, format!("{m}.{n}"));
                        }
                    }
                    _ => {}
                }
            }
            V::Getter(names) => {
                if let Some(base) = arg(0).and_then(|i| self.dotted(i)) {
                    for n in names {
                        let id = self.import(format!("{base}.{n}"), "attrgetter", inp)?;
                        result = Some(id);
                    }
                }
            }
            V::Caller(n) => {
                if let Some(base) = arg(0).and_then(|i| self.dotted(i)) {
                    let id = self.import(format!("{base}.{n}"), "methodcaller", inp)?;
                    self.calls += 1;
                    result = Some(id);
                }
            }
            _ => {}
        }
        // Byte strings handed to any call that look like a pickle or archive are scanned too
        // (pickle.loads, torch.storage._load_from_bytes, io.BytesIO ...).
        for id in &args {
            self.nested_bytes(*id);
            for inner in self.tuple(*id) {
                self.nested_bytes(inner);
            }
        }
        match result {
            Some(r) => Ok(r),
            None => self.alloc(
                V::Obj {
                    func: f,
                    args: a,
                    state: None,
                },
                inp,
            ),
        }
    }

    /// Try the text strings kept for a last look (see `pending`).
    fn flush_pending(&mut self) {
        for (bytes, at) in std::mem::take(&mut self.pending) {
            let _ = self.embedded_pickle(&bytes, at);
        }
    }

    fn nested_bytes(&mut self, id: Id) {
        if let V::Bytes {
            data: Some(d), at, ..
        } = self.get(id)
        {
            let key = digest(d);
            if self.scanned.contains(&key) {
                return;
            }
            let blob = Blob::mem(d.clone());
            let seg = format!("bytes@{at}");
            let member = match self.member {
                Some(m) => format!("{m}!{seg}"),
                None => seg,
            };
            if let Some(V::Bytes { data, .. }) = self.vals.get_mut(id as usize) {
                *data = None; // scan once
            }
            self.scanned.insert(key);
            self.ctx.scan_nested(&blob, &member, self.depth + 1);
        }
    }

    fn build(&mut self, obj: Id, state: Id, at: u64, inp: &mut Input<'_>) -> Result<(), Break> {
        match self.get(obj).clone() {
            V::Global(name) => {
                if !matches!(self.get(state), V::None) {
                    self.ctx.add(
                        Severity::High,
                        Rule::PickleModuleMutation,
                        format!(
                            "BUILD at offset {at} sets attributes on the imported {name} itself"
                        ),
                        Some(&name),
                        self.member,
                    );
                }
                Ok(())
            }
            V::Obj { func, args, .. } => {
                if let Some(V::Obj { state: s, .. }) = self.vals.get_mut(obj as usize) {
                    *s = Some(state);
                }
                self.calls += 1;
                let class = match self.dotted(func) {
                    Some(c) if c == "copyreg._reconstructor" || c == "copy_reg._reconstructor" => {
                        self.tuple(args).first().and_then(|c| self.dotted(*c))
                    }
                    other => other,
                };
                if class
                    .as_deref()
                    .is_some_and(|c| JOBLIB_WRAPPERS.contains(&c))
                {
                    self.joblib = true;
                    self.joblib_array(state, at, inp)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn dict_get(&self, d: Id, key: &str) -> Option<Id> {
        match self.get(d) {
            V::Dict(pairs) => pairs
                .iter()
                .find(|(k, _)| self.string(*k).as_deref() == Some(key))
                .map(|(_, v)| *v),
            _ => None,
        }
    }

    /// joblib writes each array's raw bytes right after the wrapper's BUILD; skip them (or scan
    /// the nested pickle of an object array).
    fn joblib_array(&mut self, state: Id, at: u64, inp: &mut Input<'_>) -> Result<(), Break> {
        let bad = |why: &str| Break {
            offset: at,
            reason: format!("joblib array wrapper: {why}"),
            limit: false,
        };
        let shape = self
            .dict_get(state, "shape")
            .ok_or_else(|| bad("no shape"))?;
        let mut count: u64 = 1;
        for d in self.tuple(shape) {
            match self.get(d) {
                V::Int(n) if *n >= 0 => {
                    count = count
                        .checked_mul(*n as u64)
                        .ok_or_else(|| bad("shape overflows"))?
                }
                _ => return Err(bad("shape is not a tuple of sizes")),
            }
        }
        let dtype = self
            .dict_get(state, "dtype")
            .ok_or_else(|| bad("no dtype"))?;
        let (descr, elsize) = match self.get(dtype).clone() {
            V::Obj { args, state, .. } => {
                let descr = self.tuple(args).first().and_then(|i| self.string(*i));
                let elsize = state
                    .map(|s| self.tuple(s))
                    .and_then(|t| t.get(5).copied())
                    .and_then(|i| match self.get(i) {
                        V::Int(n) if *n > 0 => Some(*n as u64),
                        _ => None,
                    });
                (descr, elsize)
            }
            _ => (None, None),
        };
        let descr = descr.ok_or_else(|| bad("dtype is not a numpy.dtype"))?;
        let object = descr
            .trim_start_matches(['<', '>', '|', '='])
            .starts_with('O');
        if object {
            // An object array is a whole protocol-2 pickle written inline.
            let mut m = Machine::new(self.ctx, self.member, self.depth + 1, self.ops_left);
            let r = m.run(inp);
            self.imports += m.imports;
            self.calls += m.calls;
            return r;
        }
        if let Some(a) = self.dict_get(state, "numpy_array_alignment_bytes") {
            if matches!(self.get(a), V::Int(_)) {
                let pad = inp.u8()?;
                inp.skip(u64::from(pad))?;
            }
        }
        let item = elsize
            .or_else(|| itemsize(&descr))
            .ok_or_else(|| bad("unknown item size"))?;
        let n = count
            .checked_mul(item)
            .ok_or_else(|| bad("array size overflows"))?;
        inp.skip(n)
    }
}

/// Hex digits (whitespace tolerated); `None` if it is not hex.
fn unhex(text: &[u8]) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text
        .iter()
        .copied()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    if digits.len() % 2 != 0 {
        return None;
    }
    digits
        .chunks(2)
        .map(|p| {
            let h = (p.first()?.to_ascii_lowercase() as char).to_digit(16)?;
            let l = (p.get(1)?.to_ascii_lowercase() as char).to_digit(16)?;
            u8::try_from(h * 16 + l).ok()
        })
        .collect()
}

/// Standard base64 with padding and whitespace tolerated; `None` if it is not base64.
fn b64(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for &c in text {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' | b'\n' | b'\r' | b' ' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

fn itemsize(descr: &str) -> Option<u64> {
    let d = descr.trim_start_matches(['<', '>', '|', '=']);
    let digits: String = d
        .chars()
        .skip(1)
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let n: u64 = digits.parse().ok()?;
    match d.chars().next()? {
        'U' => n.checked_mul(4),
        _ => Some(n),
    }
}

fn long_value(b: Vec<u8>) -> V {
    if b.len() <= 8 {
        let neg = b.last().is_some_and(|x| x & 0x80 != 0);
        let mut buf = [if neg { 0xff } else { 0 }; 8];
        buf[..b.len()].copy_from_slice(&b);
        V::Int(i64::from_le_bytes(buf))
    } else if b.len() <= 16 {
        V::Big(b)
    } else {
        V::Big(Vec::new())
    }
}

fn parse_u64(l: &[u8]) -> Option<u64> {
    std::str::from_utf8(l).ok()?.trim().parse().ok()
}

/// Decode a protocol-0 STRING argument: a quoted Python literal with backslash escapes.
fn unquote(l: &[u8]) -> Option<Vec<u8>> {
    let l = l.strip_suffix(b"\r").unwrap_or(l);
    let q = *l.first()?;
    if !(q == b'\'' || q == b'"') || l.len() < 2 || *l.last()? != q {
        return None;
    }
    let body = l.get(1..l.len() - 1)?;
    let mut out = Vec::with_capacity(body.len());
    let mut it = body.iter().copied();
    while let Some(c) = it.next() {
        if c != b'\\' {
            out.push(c);
            continue;
        }
        match it.next()? {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'0' => out.push(0),
            b'x' => {
                let h = [it.next()?, it.next()?];
                out.push(u8::from_str_radix(std::str::from_utf8(&h).ok()?, 16).ok()?);
            }
            other => out.push(other),
        }
    }
    Some(out)
}

/// Decode a protocol-0 UNICODE argument (raw-unicode-escape).
fn raw_unicode_escape(l: &[u8]) -> String {
    let s = String::from_utf8_lossy(l);
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && matches!(chars.peek(), Some('u') | Some('U')) {
            let wide = chars.next() == Some('U');
            let n = if wide { 8 } else { 4 };
            let hex: String = chars.by_ref().take(n).collect();
            match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                Some(ch) => out.push(ch),
                None => {
                    out.push('\\');
                    out.push_str(&hex);
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Pickle streams as the scanner reads them: whole blobs, trailing data, the report's summary.

/// Scan a blob already known to start like a pickle.
pub(crate) fn scan_blob(
    ctx: &mut Ctx<'_>,
    blob: &Blob,
    member: Option<&str>,
    depth: usize,
    quiet_trailing: bool,
) -> Format {
    let sum = scan_stream(&mut blob.reader(), ctx, member, depth);
    let mut sum = sum;
    if quiet_trailing {
        sum.trailing = None;
    }
    blob_trailing(ctx, &sum, blob, member, depth);
    summary(ctx, sum, member)
}

/// Search the data after a pickle stream's last STOP, if any, for hidden pickles.
pub(crate) fn blob_trailing(
    ctx: &mut Ctx<'_>,
    sum: &Summary,
    blob: &Blob,
    member: Option<&str>,
    depth: usize,
) {
    let broke = sum.broke.as_ref().is_some_and(|b| !b.limit);
    if (sum.trailing.is_none() && !broke) || sum.torch_legacy {
        return;
    }
    // After a pickle that broke, search from where it broke.
    let start = match &sum.broke {
        Some(b) => b.offset.max(sum.end),
        None => sum.end,
    };
    if let Ok(tail) = blob.slice(start, blob.len().saturating_sub(start)) {
        search_trailing(ctx, &tail, start, member, depth);
    }
}

/// Trailing data that parses as a pickle is scanned as one, wherever it starts: after a
/// separator of any length, in the middle of other bytes, in protocol 0 text. `base` is the
/// tail's offset in its stream. Each start that a pickle could open with is tried; a trial
/// counts when it imports a dotted name and reaches STOP or calls it. The search is bounded by
/// `max_inline_blob` bytes, the opcode budget and a read budget (8 bytes read per byte).
pub(crate) fn search_trailing(
    ctx: &mut Ctx<'_>,
    tail: &Blob,
    base: u64,
    member: Option<&str>,
    depth: usize,
) {
    let max = ctx.limits().max_inline_blob;
    let len = tail.len().min(max);
    let Ok(bytes) = tail.head(0, len as usize) else {
        return;
    };
    if tail.len() > max {
        ctx.add(
            Severity::Medium,
            Rule::ResourceLimit,
            format!("only the first {max} of the {} bytes after the last pickle were searched for hidden pickles", tail.len()),
            None,
            member,
        );
    }
    let mut ops = ctx.limits().max_pickle_ops;
    let mut reads = 0u64;
    let read_budget = (bytes.len() as u64).saturating_mul(8).max(1 << 20);
    let mut i = 0usize;
    while let Some(rest) = bytes.get(i..).filter(|r| !r.is_empty()) {
        let first = rest.first().copied().unwrap_or(0);
        let candidate = if first == 0x80 {
            rest.get(1).is_some_and(|p| *p <= 5)
        } else {
            is_pickle_start(first)
        };
        if !candidate {
            i += 1;
            continue;
        }
        if ops == 0 || reads > read_budget {
            ctx.fail(
                Rule::ResourceLimit,
                format!("the search for pickles hidden after the last STOP stopped at offset {}: too much work", base + i as u64),
                member,
            );
            return;
        }
        let mut trial = ctx.child();
        let sum = scan_trial(rest, &mut trial, member, depth, &mut ops);
        reads += sum.read;
        if sum.is_hidden_pickle() {
            ctx.absorb(trial);
            ctx.add(
                Severity::Low,
                Rule::PickleTrailingData,
                format!("a pickle is hidden in the data after the last STOP, at offset {}; it was scanned", base + i as u64),
                None,
                member,
            );
            if sum.complete > 0 && sum.end > 0 {
                i += usize::try_from(sum.end)
                    .unwrap_or(usize::MAX)
                    .min(rest.len());
                continue;
            }
        }
        i += 1;
    }
}

pub(crate) fn summary(ctx: &mut Ctx<'_>, sum: Summary, member: Option<&str>) -> Format {
    if let Some(b) = &sum.broke {
        let (rule, what) = if b.limit {
            (Rule::ResourceLimit, "pickle analysis stopped")
        } else {
            (Rule::PickleMalformed, "pickle stream breaks")
        };
        ctx.fail(
            rule,
            format!("{what} at offset {}: {}", b.offset, b.reason),
            member,
        );
    }
    if let (Some(t), false) = (&sum.trailing, sum.torch_legacy) {
        ctx.add(
            Severity::Low,
            Rule::PickleTrailingData,
            format!(
                "data that is not a pickle follows the pickle, from offset {} ({})",
                t.offset, t.reason
            ),
            None,
            member,
        );
    }
    if sum.torch_legacy {
        Format::PytorchLegacy
    } else if sum.joblib {
        Format::Joblib
    } else {
        Format::Pickle
    }
}

#[cfg(test)]
mod memo_tests {
    use super::Memo;

    #[test]
    fn dense_and_sparse_agree() {
        let mut m = Memo::default();
        assert!(m.put(5000, 1, 10));
        for i in 0..5 {
            assert!(m.put(i, 10 + i as u32, 10));
        }
        assert_eq!(m.get(5000), Some(1));
        assert_eq!(m.get(3), Some(13));
        assert_eq!(m.len(), 6);
        assert!(m.put(5000, 2, 10), "overwrite is not a new entry");
        assert_eq!(m.get(5000), Some(2));
        assert_eq!(m.len(), 6);
        for i in 5..9 {
            assert!(m.put(i, 0, 10));
        }
        assert!(!m.put(99, 0, 10), "an 11th entry passes the limit");
        assert_eq!(m.get(42), None);
    }
}
