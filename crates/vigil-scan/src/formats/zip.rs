//! A bounded zip reader that compares local headers with the central directory, so a member
//! cannot hide from the scanner and still be loaded by PyTorch, NumPy or Keras.
//!
//! Members are listed from the central directory (what `torch.load`, `numpy.load` and Python's
//! `zipfile` use); each local header is read and compared; local entries the directory does not
//! list are found by walking the local headers and are scanned too. Stored members are read in
//! place; a storage record of a PyTorch archive is only sniffed, never read in full.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use crate::blob::Blob;
use crate::context::Ctx;
use crate::cursor::{CursorError, Reader};
use crate::decompress;
use crate::kind::Codec;
use crate::kind::{Format, Kind};
use crate::sniff::{is_text_bytes, sniff, Sniff};
use crate::{Rule, Severity};

#[derive(Debug, Clone)]
struct Entry {
    name: String,
    flags: u16,
    method: u16,
    crc: u32,
    csize: u64,
    usize: u64,
    local: u64,
    in_cd: bool,
}

/// A local file header (the 30 fixed bytes after its signature is checked).
struct LocalHeader {
    flags: u16,
    method: u16,
    crc: u32,
    csize: u32,
    usize: u32,
    name_len: u16,
    extra_len: u16,
}

const LOCAL_SIG: u32 = 0x0403_4b50;

/// Read the local header at `at`; `None` if there is none (short data or another signature).
fn local_header(blob: &Blob, at: u64) -> Result<Option<LocalHeader>, CursorError> {
    let Ok(mut r) = Reader::window(blob, "local header", at, 30) else {
        return Ok(None);
    };
    if r.u32("local header signature")? != LOCAL_SIG {
        return Ok(None);
    }
    r.skip("local header version", 2)?;
    let flags = r.u16("local header flags")?;
    let method = r.u16("local header method")?;
    r.skip("local header time", 4)?;
    Ok(Some(LocalHeader {
        flags,
        method,
        crc: r.u32("local header crc")?,
        csize: r.u32("local header compressed size")?,
        usize: r.u32("local header size")?,
        name_len: r.u16("local header name length")?,
        extra_len: r.u16("local header extra length")?,
    }))
}

/// Bytes at `at` as lossy text (names), empty if they are not all there.
fn text_at(blob: &Blob, at: u64, len: u64) -> String {
    Reader::window(blob, "name", at, len)
        .and_then(|mut r| r.take("name", len))
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

fn join(prefix: Option<&str>, name: &str) -> String {
    match prefix {
        Some(p) => format!("{p}!{name}"),
        None => name.to_string(),
    }
}

/// Read the archive's directory, compare, and scan every member. Returns the format name.
pub(crate) fn scan(ctx: &mut Ctx<'_>, blob: &Blob, member: Option<&str>, depth: usize) -> Format {
    let entries = match directory(ctx, blob, member) {
        Ok(e) => e,
        Err(why) => {
            ctx.fail(
                Rule::ArchiveMalformed,
                format!("zip archive cannot be read: {why}"),
                member,
            );
            return Format::Zip;
        }
    };
    let names: Vec<&str> = entries
        .iter()
        .filter(|e| e.in_cd)
        .map(|e| e.name.as_str())
        .collect();
    let torch_root: Option<String> = names.iter().find_map(|n| {
        n.strip_suffix("data.pkl")
            .filter(|r| r.is_empty() || r.ends_with('/'))
            .map(str::to_string)
    });
    let keras = names.contains(&"config.json") && names.contains(&"metadata.json");
    let npz = !names.is_empty() && names.iter().all(|n| n.ends_with(".npy"));
    let format = if torch_root.is_some() {
        Format::PytorchZip
    } else if keras {
        Format::Keras
    } else if npz {
        Format::Npz
    } else {
        Format::Zip
    };
    for e in entries.iter().take(ctx.limits().max_members) {
        if e.name.ends_with('/') && e.usize == 0 {
            continue;
        }
        let storage = torch_root.as_deref().is_some_and(|root| {
            e.name
                .strip_prefix(root)
                .and_then(|r| r.strip_prefix("data/"))
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
        });
        scan_member(ctx, blob, e, member, depth, storage);
    }
    if entries.len() > ctx.limits().max_members {
        ctx.fail(
            Rule::ResourceLimit,
            format!(
                "archive has {} members; only the first {} were scanned",
                entries.len(),
                ctx.limits().max_members
            ),
            member,
        );
    }
    // Keras reads config.json even without metadata.json: check any root config.json.
    if keras || names.contains(&"config.json") {
        if let Some(cfg) = entries.iter().find(|e| e.in_cd && e.name == "config.json") {
            let bytes = match member_blob(ctx, blob, cfg) {
                Ok((b, None)) => b
                    .read_all(ctx.limits().max_header)
                    .map_err(|x| x.to_string()),
                Ok((_, Some(x))) => Err(x.to_string()),
                Err(why) => Err(why),
            };
            match bytes {
                Ok(bytes) => {
                    crate::formats::keras::keras_config(ctx, &bytes, &join(member, "config.json"))
                }
                Err(why) => ctx.fail(
                    Rule::KerasMalformed,
                    format!("config.json cannot be read: {why}"),
                    Some(&join(member, "config.json")),
                ),
            }
        }
    }
    format
}

/// Whether a readable zip directory with members ends this blob (checked for blobs that do
/// not start like a zip).
pub(crate) fn appended(ctx: &Ctx<'_>, blob: &Blob) -> bool {
    let len = blob.len();
    let tail_len = len.min(22 + 65535);
    let Ok(tail) = blob.head(len - tail_len, tail_len as usize) else {
        return false;
    };
    if !tail.windows(4).any(|w| w == b"PK\x05\x06") {
        return false;
    }
    let mut scratch = ctx.new_detached();
    directory(&mut scratch, blob, None).is_ok_and(|e| e.iter().any(|x| x.in_cd))
}

fn directory(ctx: &mut Ctx<'_>, blob: &Blob, member: Option<&str>) -> Result<Vec<Entry>, String> {
    let len = blob.len();
    let tail_len = len.min(22 + 65535 + 20);
    let tail = blob
        .head(len - tail_len, tail_len as usize)
        .map_err(|e| e.to_string())?;
    let eocd_rel = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| tail.get(i..i + 4) == Some(b"PK\x05\x06"))
        .ok_or("no end-of-central-directory record")?;
    let eocd_pos = len - tail_len + eocd_rel as u64;
    let bad = |e: CursorError| e.to_string();
    let mut e =
        Reader::window(blob, "end-of-central-directory record", eocd_pos, 22).map_err(bad)?;
    e.skip("end record disk numbers", 10).map_err(bad)?;
    let mut count = u64::from(e.u16("end record member count").map_err(bad)?);
    let mut cd_size = u64::from(e.u32("end record directory size").map_err(bad)?);
    let mut cd_off = u64::from(e.u32("end record directory offset").map_err(bad)?);
    let mut zip64 = false;
    let mut cd_end_expected = eocd_pos;
    if count == 0xffff || cd_size == 0xffff_ffff || cd_off == 0xffff_ffff {
        // ZIP64 locator just before the EOCD.
        let loc_pos = eocd_pos.checked_sub(20).ok_or("zip64 locator missing")?;
        let mut loc = Reader::window(blob, "zip64 locator", loc_pos, 20).map_err(bad)?;
        if loc.u32("zip64 locator signature").map_err(bad)? != 0x0706_4b50 {
            return Err("zip64 fields without a zip64 locator".into());
        }
        loc.skip("zip64 locator disk", 4).map_err(bad)?;
        let rec_pos = loc.u64("zip64 end record offset").map_err(bad)?;
        let mut rec = Reader::window(blob, "zip64 end record", rec_pos, 56).map_err(bad)?;
        if rec.u32("zip64 end record signature").map_err(bad)? != 0x0606_4b50 {
            return Err(format!("no zip64 end record at offset {rec_pos}"));
        }
        rec.skip("zip64 end record header", 28).map_err(bad)?;
        count = rec.u64("zip64 member count").map_err(bad)?;
        cd_size = rec.u64("zip64 directory size").map_err(bad)?;
        cd_off = rec.u64("zip64 directory offset").map_err(bad)?;
        zip64 = true;
        cd_end_expected = rec_pos;
    }
    // Data prepended to the archive shifts every offset (Python's zipfile allows it).
    let shift = cd_end_expected.saturating_sub(
        cd_off
            .checked_add(cd_size)
            .ok_or("directory size overflows")?,
    );
    if shift > 0 && !zip64 {
        ctx.add(
            Severity::Medium,
            Rule::ArchiveHiddenMember,
            format!("{shift} bytes precede the archive; readers disagree about member offsets"),
            None,
            member,
        );
    }
    let cd_start = cd_off.saturating_add(shift);
    if cd_size > ctx.limits().max_header || cd_start.checked_add(cd_size).is_none_or(|e| e > len) {
        return Err(format!(
            "central directory ({cd_size} bytes at {cd_start}) does not fit in the file"
        ));
    }
    if count > ctx.limits().max_members as u64 * 4 {
        return Err(format!("central directory claims {count} members"));
    }
    let mut cd = Reader::window(blob, "central directory", cd_start, cd_size).map_err(bad)?;
    let mut entries = Vec::new();
    while cd.left() >= 46 {
        let mut h = cd.sub("directory entry", 46).map_err(bad)?;
        if h.u32("directory entry signature").map_err(bad)? != 0x0201_4b50 {
            break;
        }
        h.skip("directory entry versions", 4).map_err(bad)?;
        let flags = h.u16("directory entry flags").map_err(bad)?;
        let method = h.u16("directory entry method").map_err(bad)?;
        h.skip("directory entry time", 4).map_err(bad)?;
        let crc = h.u32("directory entry crc").map_err(bad)?;
        let csize = u64::from(h.u32("directory entry compressed size").map_err(bad)?);
        let usize = u64::from(h.u32("directory entry size").map_err(bad)?);
        let nl = u64::from(h.u16("directory entry name length").map_err(bad)?);
        let xl = u64::from(h.u16("directory entry extra length").map_err(bad)?);
        let cl = u64::from(h.u16("directory entry comment length").map_err(bad)?);
        h.skip("directory entry attributes", 8).map_err(bad)?;
        let local = u64::from(h.u32("directory entry local offset").map_err(bad)?);
        h.expect_end("directory entry").map_err(bad)?;
        let name_b = cd
            .take("directory entry name is cut off", nl)
            .map_err(bad)?;
        let mut extra = cd
            .sub("directory entry extra field is cut off", xl)
            .map_err(bad)?;
        let mut en = Entry {
            name: String::from_utf8_lossy(&name_b).into_owned(),
            flags,
            method,
            crc,
            csize,
            usize,
            local,
            in_cd: true,
        };
        apply_zip64(&mut en, &mut extra);
        en.local = en.local.saturating_add(shift);
        entries.push(en);
        if cd.skip("directory entry comment", cl).is_err() {
            break;
        }
        if entries.len() > ctx.limits().max_members * 4 {
            return Err("too many directory entries".into());
        }
    }
    if entries.len() as u64 != count {
        ctx.add(
            Severity::Medium,
            Rule::ArchiveHiddenMember,
            format!(
                "end record claims {count} members but the central directory lists {}",
                entries.len()
            ),
            None,
            member,
        );
    }
    // Duplicates: different readers pick different copies.
    let mut seen = HashSet::new();
    for en in &entries {
        if !seen.insert(en.name.clone()) {
            ctx.add(Severity::Medium, Rule::ArchiveHiddenMember, format!("member name {:?} appears more than once; loaders disagree about which copy they read", en.name), None, Some(&join(member, &en.name)));
        }
        check_name(ctx, &en.name, member);
    }
    // Compare local headers; then walk local headers for entries the directory omits.
    let listed: HashMap<u64, usize> = entries
        .iter()
        .enumerate()
        .map(|(k, e)| (e.local, k))
        .collect();
    for en in &entries {
        match local_header(blob, en.local) {
            Ok(Some(lh)) => {
                let lname = text_at(blob, en.local.saturating_add(30), u64::from(lh.name_len));
                if lname != en.name {
                    ctx.add(
                        Severity::Medium,
                        Rule::ArchiveHiddenMember,
                        format!(
                            "local header names {lname:?} but the central directory names {:?}",
                            en.name
                        ),
                        None,
                        Some(&join(member, &en.name)),
                    );
                }
                if lh.flags & 0x41 != en.flags & 0x41 || (lh.flags & 9 == 0 && lh.crc != en.crc) {
                    ctx.add(
                        Severity::Medium,
                        Rule::ArchiveHiddenMember,
                        "local header flags or CRC differ from the central directory".into(),
                        None,
                        Some(&join(member, &en.name)),
                    );
                }
                if lh.method != en.method {
                    ctx.add(
                        Severity::Medium,
                        Rule::ArchiveHiddenMember,
                        format!(
                            "local header says method {} but the central directory says {}",
                            lh.method, en.method
                        ),
                        None,
                        Some(&join(member, &en.name)),
                    );
                }
            }
            _ => ctx.add(
                Severity::Medium,
                Rule::ArchiveMalformed,
                format!("no local header at offset {} for this member", en.local),
                None,
                Some(&join(member, &en.name)),
            ),
        }
    }
    let mut pos = shift;
    let mut walked = 0usize;
    while pos < cd_start && walked < ctx.limits().max_members * 4 {
        walked += 1;
        let lh = match local_header(blob, pos) {
            Ok(Some(h)) => h,
            _ => break,
        };
        let nl = u64::from(lh.name_len);
        let xl = u64::from(lh.extra_len);
        let flags = lh.flags;
        let mut csize = u64::from(lh.csize);
        let known = listed.get(&pos).and_then(|k| entries.get(*k)).cloned();
        if let Some(k) = &known {
            csize = k.csize;
        } else {
            let name = text_at(blob, pos + 30, nl);
            let mut en = Entry {
                name: name.clone(),
                flags,
                method: lh.method,
                crc: lh.crc,
                csize,
                usize: u64::from(lh.usize),
                local: pos,
                in_cd: false,
            };
            if let Ok(mut extra) = Reader::window(blob, "local extra field", pos + 30 + nl, xl) {
                apply_zip64(&mut en, &mut extra);
            }
            csize = en.csize;
            ctx.add(Severity::Medium, Rule::ArchiveHiddenMember, format!("local entry {name:?} at offset {pos} is not in the central directory; it was scanned anyway"), None, Some(&join(member, &name)));
            if flags & 8 != 0 && csize == 0 {
                entries.push(en);
                break;
            }
            entries.push(en);
        }
        let mut next = (pos + 30 + nl + xl).saturating_add(csize);
        if flags & 8 != 0 {
            let dd = Reader::window(blob, "data descriptor", next, 4)
                .and_then(|mut r| r.u32("data descriptor"));
            next = next.saturating_add(if dd.ok() == Some(0x0807_4b50) { 16 } else { 12 });
        }
        if next <= pos {
            break;
        }
        pos = next;
    }
    Ok(entries)
}

/// Take the 64-bit sizes and offset of a ZIP64 extra field (id 1) where the 32-bit fields say
/// 0xffffffff; a field cut short leaves the entry as it was.
fn apply_zip64(en: &mut Entry, extra: &mut Reader<'_>) {
    while extra.left() >= 4 {
        let (Ok(id), Ok(size)) = (extra.u16("extra field id"), extra.u16("extra field size"))
        else {
            return;
        };
        let Ok(mut body) = extra.sub("extra field", u64::from(size)) else {
            return;
        };
        if id != 1 {
            continue;
        }
        if en.usize == 0xffff_ffff {
            match body.u64("zip64 size") {
                Ok(v) => en.usize = v,
                Err(_) => return,
            }
        }
        if en.csize == 0xffff_ffff {
            match body.u64("zip64 compressed size") {
                Ok(v) => en.csize = v,
                Err(_) => return,
            }
        }
        if en.local == 0xffff_ffff {
            if let Ok(v) = body.u64("zip64 local offset") {
                en.local = v;
            }
        }
    }
}

fn check_name(ctx: &mut Ctx<'_>, name: &str, member: Option<&str>) {
    let n = name.replace('\\', "/");
    let drive = n.as_bytes().get(1) == Some(&b':');
    if n.starts_with('/') || drive || n.split('/').any(|s| s == "..") {
        ctx.add(
            Severity::Medium,
            Rule::ArchivePathTraversal,
            format!("member name {name:?} is absolute or climbs out of the extraction folder"),
            None,
            Some(&join(member, name)),
        );
    }
}

fn data_blob(blob: &Blob, e: &Entry) -> Result<Blob, String> {
    let lh = match local_header(blob, e.local) {
        Ok(Some(lh)) => lh,
        Ok(None) => return Err(format!("no local header at offset {}", e.local)),
        Err(x) => return Err(x.to_string()),
    };
    let start = e
        .local
        .saturating_add(30 + u64::from(lh.name_len) + u64::from(lh.extra_len));
    blob.slice(start, e.csize)
        .map_err(|x| format!("member data: {x}"))
}

/// A member's content: stored members in place, deflated ones decompressed (bounded), with
/// the error that stopped decompression early, if any.
fn member_blob(
    ctx: &Ctx<'_>,
    blob: &Blob,
    e: &Entry,
) -> Result<(Blob, Option<std::io::Error>), String> {
    let raw = data_blob(blob, e)?;
    match e.method {
        0 => Ok((raw, None)),
        8 => match decompress::open(Codec::Deflate, &raw, &ctx.limits(), &ctx.budget) {
            Ok(mut s) => Ok(decompress::materialize(&mut s, &ctx.budget)),
            Err(x) => Err(x.to_string()),
        },
        m => Err(format!("compression method {m} is not supported")),
    }
}

/// CRC-32 of a whole blob, read in chunks.
fn crc_blob(data: &Blob) -> std::io::Result<u32> {
    let mut c = flate2::Crc::new();
    let mut r = data.reader();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Ok(c.sum());
        }
        c.update(buf.get(..n).unwrap_or_default());
    }
}

fn scan_member(
    ctx: &mut Ctx<'_>,
    blob: &Blob,
    e: &Entry,
    prefix: Option<&str>,
    depth: usize,
    storage: bool,
) {
    let name = join(prefix, &e.name);
    let m = Some(name.as_str());
    if e.flags & 0x41 != 0 {
        ctx.add(
            Severity::Medium,
            Rule::ArchiveUnreadableMember,
            "member is encrypted; it cannot be scanned".into(),
            None,
            m,
        );
        return;
    }
    let odd = e.flags & !(0x0001 | 0x0002 | 0x0004 | 0x0008 | 0x0800);
    if odd != 0 {
        ctx.add(
            Severity::Medium,
            Rule::ArchiveHiddenMember,
            format!("unusual general-purpose flag bits 0x{odd:04x}"),
            None,
            m,
        );
    }
    if e.method == 0 {
        let data = match data_blob(blob, e) {
            Ok(d) => d,
            Err(why) => {
                ctx.fail(Rule::ArchiveMalformed, why, m);
                return;
            }
        };
        if e.csize != e.usize {
            ctx.add(
                Severity::Medium,
                Rule::ArchiveHiddenMember,
                format!(
                    "stored member declares {} bytes compressed but {} uncompressed",
                    e.csize, e.usize
                ),
                None,
                m,
            );
        }
        if storage {
            // A tensor payload: sniff it, and scan it only if it really is a pickle.
            let head = data.head(0, 8).unwrap_or_default();
            if matches!(head.as_slice(), [0x80, 2..=5, ..]) {
                let mut trial = ctx.child();
                let sum = crate::formats::pickle::scan_stream(
                    &mut data.reader(),
                    &mut trial,
                    m,
                    depth + 1,
                );
                if sum.complete > 0 && sum.imports > 0 {
                    ctx.absorb(trial);
                    ctx.add(
                        Severity::Medium,
                        Rule::ArchiveHiddenMember,
                        "a tensor storage record holds a pickle".into(),
                        None,
                        m,
                    );
                }
            }
            return;
        }
        // CRC-check what is parsed anyway (pickles, configs, nested archives up to 16 MiB) and
        // every small member; raw array data is not read just to check its CRC.
        let parsed = !matches!(
            sniff(&data.head(0, 512).unwrap_or_default(), data.len()),
            Sniff::Npy | Sniff::Safetensors | Sniff::Gguf | Sniff::Hdf5
        );
        if data.len() <= 1 << 20 || (parsed && data.len() <= 16 << 20) {
            if let Ok(bytes) = data.read_all(16 << 20) {
                let crc = crc32(&bytes);
                if crc != e.crc {
                    ctx.add(Severity::Medium, Rule::ArchiveCrcMismatch, format!("CRC-32 is {crc:08x} but the directory says {:08x}; the data was scanned as stored", e.crc), None, m);
                }
            }
        }
        let kind = ctx.scan(&data, m, depth + 1);
        member_kind(ctx, kind, m, prefix_is_torch(storage));
        return;
    }
    if e.method != 8 {
        ctx.add(
            Severity::Medium,
            Rule::ArchiveUnreadableMember,
            format!(
                "compression method {} is not read by this scanner, so the member was not scanned",
                e.method
            ),
            None,
            m,
        );
        return;
    }
    let over = STREAM_OVER.min(ctx.limits().max_in_memory / 8);
    if e.usize > over || e.csize > over {
        scan_large_deflated(ctx, blob, e, m, depth, storage);
        return;
    }
    match member_blob(ctx, blob, e) {
        Ok((data, failure)) => {
            if let Some(x) = &failure {
                let rule = if decompress::is_limit(x) {
                    Rule::ResourceLimit
                } else {
                    Rule::ArchiveMalformed
                };
                ctx.fail(rule, format!("member cannot be decompressed: {x}"), m);
                return;
            } else if let Ok(crc) = crc_blob(&data) {
                if crc != e.crc {
                    ctx.add(
                        Severity::Medium,
                        Rule::ArchiveCrcMismatch,
                        format!("CRC-32 is {crc:08x} but the directory says {:08x}", e.crc),
                        None,
                        m,
                    );
                }
            }
            let head = data.head(0, 2).unwrap_or_default();
            if storage && !matches!(head.as_slice(), [0x80, 2..=5, ..]) {
                return;
            }
            let kind = ctx.scan(&data, m, depth + 1);
            member_kind(ctx, kind, m, storage);
        }
        Err(why) => ctx.fail(
            Rule::ArchiveMalformed,
            format!("member cannot be decompressed: {why}"),
            m,
        ),
    }
}

fn prefix_is_torch(storage: bool) -> bool {
    storage
}

fn member_kind(ctx: &mut Ctx<'_>, kind: Kind, member: Option<&str>, storage: bool) {
    if let Kind::Binary = kind.innermost() {
        if !storage && !ctx_ignores_binary(member) {
            ctx.add(
                Severity::Medium,
                Rule::UnknownFormat,
                "member is binary data in no known model format".into(),
                None,
                member,
            );
        }
    }
}

/// Members of PyTorch, Keras and NumPy archives that hold raw data or bookkeeping by design.
fn ctx_ignores_binary(member: Option<&str>) -> bool {
    let m = member.unwrap_or_default();
    let last = m.rsplit('!').next().unwrap_or(m);
    let base = last.rsplit('/').next().unwrap_or(last);
    matches!(
        base,
        "byteorder"
            | "version"
            | ".format_version"
            | ".storage_alignment"
            | "serialization_id"
            | "model.weights.h5"
            | "model.weights.npz"
    ) || last.contains("/.data/")
        || last.starts_with(".data/")
        || last.contains("/data/")
        || last.starts_with("data/")
        || last.contains("/constants/")
        || last.starts_with("assets/")
}

/// CRC-32 (IEEE), as zip uses.
pub(crate) fn crc32(data: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(data);
    c.sum()
}

/// Deflated members larger than this (or an eighth of `max_in_memory`) are streamed: sniffed from their first bytes, pickles and
/// object arrays scanned as a stream, raw array data never decompressed in full.
const STREAM_OVER: u64 = 64 << 20;

fn scan_large_deflated(
    ctx: &mut Ctx<'_>,
    blob: &Blob,
    e: &Entry,
    m: Option<&str>,
    depth: usize,
    storage: bool,
) {
    let raw = match data_blob(blob, e) {
        Ok(r) => r,
        Err(why) => {
            ctx.fail(Rule::ArchiveMalformed, why, m);
            return;
        }
    };
    let mut head = Vec::new();
    let open = |ctx: &Ctx<'_>| decompress::open(Codec::Deflate, &raw, &ctx.limits(), &ctx.budget);
    if let Err(why) = open(ctx).and_then(|s| s.take(4096).read_to_end(&mut head)) {
        if head.is_empty() {
            ctx.fail(
                Rule::ArchiveMalformed,
                format!("member cannot be decompressed: {why}"),
                m,
            );
            return;
        }
    }
    let stream_pickle = |ctx: &mut Ctx<'_>, skip: u64| {
        let s = match open(ctx) {
            Ok(s) => s,
            Err(why) => {
                ctx.fail(
                    Rule::ArchiveMalformed,
                    format!("member cannot be decompressed: {why}"),
                    m,
                );
                return;
            }
        };
        let mut r = crate::blob::StreamSkip(std::io::BufReader::new(s));
        if let Err(why) = crate::blob::ReadSkip::skip(&mut r, skip) {
            ctx.fail(
                Rule::ArchiveMalformed,
                format!("member cannot be decompressed: {why}"),
                m,
            );
            return;
        }
        let sum = crate::formats::pickle::scan_stream(&mut r, ctx, m, depth + 1);
        if sum.trailing.is_some() && !sum.torch_legacy {
            // Decompress again up to the trailing data and search the rest for hidden pickles.
            let end = skip + sum.end;
            let cap = ctx.limits().max_inline_blob;
            let rest = open(ctx).and_then(|mut s| {
                std::io::copy(&mut (&mut s).take(end), &mut std::io::sink())?;
                Ok(decompress::materialize(&mut s.take(cap), &ctx.budget))
            });
            if let Ok((tail, _)) = rest {
                crate::formats::pickle::search_trailing(ctx, &tail, sum.end, m, depth + 1);
            }
        }
        let _ = crate::formats::pickle::summary(ctx, sum, m);
    };
    match sniff(&head, u64::MAX) {
        Sniff::Pickle => stream_pickle(ctx, 0),
        Sniff::Npy => match crate::formats::npy::npy_head(&head) {
            Some((true, off)) => {
                ctx.add(
                    Severity::Low,
                    Rule::NumpyObjectArray,
                    "object array: loading needs allow_pickle=True; its pickle was scanned".into(),
                    None,
                    m,
                );
                stream_pickle(ctx, off);
            }
            Some((false, _)) => {}
            None => ctx.fail(Rule::NumpyMalformed, ".npy header cannot be parsed".into(), m),
        },
        Sniff::Other if storage || ctx_ignores_binary(m) => {}
        Sniff::Other if !is_text_bytes(&head) => {
            ctx.add(
                Severity::Medium,
                Rule::UnknownFormat,
                "member is binary data in no known model format".into(),
                None,
                m,
            );
        }
        Sniff::Other => {}
        _ => ctx.fail(
            Rule::ResourceLimit,
            format!(
                "compressed container member of {} bytes is too large to unpack in memory; it was not scanned",
                e.usize
            ),
            m,
        ),
    }
}
