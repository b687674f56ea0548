//! A small helper to run the built `vigil` binary in a temporary directory.

#![allow(dead_code, unreachable_pub, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

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
