//! A small helper to run the built `vigil` binary in a temporary directory, and the example
//! devices' files.

#![allow(dead_code, unreachable_pub, clippy::expect_used, clippy::panic)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// A temporary working directory and a way to run `vigil` inside it.
pub struct Vigil {
    dir: tempfile::TempDir,
}

impl Vigil {
    /// A fresh empty temporary directory.
    pub fn new() -> Self {
        Vigil {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// The temporary directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the temporary directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// A `vigil` command whose working directory is the temporary directory.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigil"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        cmd
    }

    /// Run `vigil` with the arguments and return its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run vigil")
    }
}

/// The exit code, panicking with the output shown if the process was killed.
pub fn code(out: &Output) -> i32 {
    out.status
        .code()
        .unwrap_or_else(|| panic!("killed: {}", show(out)))
}

/// Standard output and error, for assertion messages.
pub fn show(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// An example device's directory (`examples/devices/NAME`).
pub fn device(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/devices")
        .join(name)
}

/// The breast-cancer rows of `split` (header kept), without the `label` column, and the labels.
pub fn features_only(split: &str) -> (String, Vec<String>, Vec<u8>) {
    let text =
        std::fs::read_to_string(device("breast-cancer").join(format!("data/{split}.csv"))).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let cut = |l: &str| l.rsplit_once(',').unwrap().0.to_string();
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    for l in lines {
        rows.push(cut(l));
        labels.push(l.rsplit_once(',').unwrap().1.parse().unwrap());
    }
    (cut(header), rows, labels)
}

/// `vigil drift reference` over the breast-cancer training rows' feature columns, written to
/// `ref/drift.json` in `v`'s directory; its path.
pub fn training_drift_reference(v: &Vigil) -> PathBuf {
    let (header, train, _) = features_only("training");
    std::fs::write(
        v.path("train.csv"),
        format!("{header}\n{}\n", train.join("\n")),
    )
    .unwrap();
    std::fs::create_dir_all(v.path("ref")).unwrap();
    let out = v.run(&["drift", "reference", "--data", "train.csv", "--out", "ref"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    v.path("ref/drift.json")
}

/// Starts `cmd` with its standard output piped and returns the process and the first line it
/// prints (a server's listening address, a demo's JSON summary).
pub fn first_line(cmd: &mut Command) -> (Child, String) {
    let mut child = cmd.stdout(Stdio::piped()).spawn().expect("spawn vigil");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("piped stdout");
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the first line");
    (child, line)
}
