//! Shared fixtures: signed bundle versions of the breast-cancer example, a publisher, a
//! device, and a loopback HTTP server for a repository directory.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use vigil_bundle::{sign, SignOptions, Trust};
use vigil_core::{KeyAlgorithm, SigningKey};
use vigil_update::publish::{Publisher, PublisherConfig};
use vigil_update::{Install, UpdateReport};

pub fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/devices/breast-cancer")
}

/// A test world: a bundle signing key, a repository with its keys, a device state.
pub struct World {
    pub tmp: tempfile::TempDir,
    pub signer: SigningKey,
    pub publisher: Publisher,
}

impl World {
    pub fn new() -> World {
        World::with(PublisherConfig::default())
    }

    pub fn with(config: PublisherConfig) -> World {
        let tmp = tempfile::tempdir().unwrap();
        let publisher =
            Publisher::init(&tmp.path().join("repo"), &tmp.path().join("keys"), config).unwrap();
        World {
            tmp,
            signer: SigningKey::generate(KeyAlgorithm::EcdsaP256),
            publisher,
        }
    }

    pub fn repo(&self) -> PathBuf {
        self.tmp.path().join("repo")
    }
    pub fn keys(&self) -> PathBuf {
        self.tmp.path().join("keys")
    }
    pub fn state(&self) -> PathBuf {
        self.tmp.path().join("state")
    }
    pub fn root(&self) -> PathBuf {
        self.repo().join("metadata/1.root.json")
    }
    pub fn trust(&self) -> Trust {
        Trust::Key(self.signer.public_key())
    }

    /// A signed bundle of version `version`; `edit` may change its files before signing.
    pub fn bundle(&self, version: &str, edit: impl FnOnce(&Path)) -> PathBuf {
        let dir = self
            .tmp
            .path()
            .join(format!("bundle-{version}-{}", rand_suffix()));
        make_bundle(&dir, version);
        edit(&dir);
        sign(&dir, &self.signer, &SignOptions::default(), None).unwrap();
        dir
    }

    /// Publishes a fresh signed bundle of `version`.
    pub fn publish(&self, version: &str) -> PathBuf {
        let b = self.bundle(version, |_| {});
        self.publisher.add(&b).unwrap();
        b
    }

    pub fn install(&self) -> UpdateReport {
        self.install_from(&self.repo().display().to_string())
    }

    pub fn install_from(&self, repo: &str) -> UpdateReport {
        self.install_set(repo, |i| i)
    }

    /// An install from the world's repository, set up further by `setup` (a version, a
    /// health command...).
    pub fn install_with(
        &self,
        setup: impl for<'b> FnOnce(Install<'b>) -> Install<'b>,
    ) -> UpdateReport {
        self.install_set(&self.repo().display().to_string(), setup)
    }

    fn install_set(
        &self,
        repo: &str,
        setup: impl for<'b> FnOnce(Install<'b>) -> Install<'b>,
    ) -> UpdateReport {
        let root = self.root();
        let state = self.state();
        setup(Install::new(repo, &state, "breast-cancer", self.trust()).root(&root))
            .run()
            .unwrap()
    }

    pub fn current(&self) -> Option<String> {
        std::fs::read_link(self.state().join("current"))
            .ok()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
    }

    pub fn metadata(&self, name: &str) -> PathBuf {
        self.repo().join("metadata").join(name)
    }

    /// The one target file of `version`.
    pub fn target_file(&self, version: &str) -> PathBuf {
        let dir = self.repo().join("targets/breast-cancer");
        std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with(&format!(".{version}.tar")))
            .unwrap()
    }
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed).to_string()
}

/// The breast-cancer example bundle at `version`, with its acceptance set, unsigned.
pub fn make_bundle(dir: &Path, version: &str) {
    let src = example().join("bundle");
    std::fs::create_dir_all(dir.join("reference")).unwrap();
    std::fs::copy(src.join("model.onnx"), dir.join("model.onnx")).unwrap();
    for e in std::fs::read_dir(src.join("reference")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.join("reference").join(e.file_name())).unwrap();
    }
    let text = std::fs::read_to_string(src.join("vigil.toml")).unwrap();
    let mut text = text.replacen(
        "version = \"1.0.0\"",
        &format!("version = \"{version}\""),
        1,
    );
    if !text.contains("[acceptance]") {
        text.push_str(
            "\n[acceptance]\ndata = \"acceptance.csv\"\nmin_accuracy = 0.8\nmax_abstain_share = 0.2\n",
        );
        std::fs::copy(
            example().join("data/validation.csv"),
            dir.join("acceptance.csv"),
        )
        .unwrap();
    } else {
        std::fs::copy(src.join("acceptance.csv"), dir.join("acceptance.csv")).unwrap();
    }
    std::fs::write(dir.join("vigil.toml"), text).unwrap();
}

/// Serves `dir` over HTTP/1.1 on loopback (one request per connection); returns the base URL.
pub fn serve(dir: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let dir = dir.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    return;
                }
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
                        break;
                    }
                }
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                let file = dir.join(path.trim_start_matches('/'));
                match std::fs::read(&file) {
                    Ok(body) if file.is_file() => {
                        let _ = write!(
                            stream,
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = stream.write_all(&body);
                    }
                    _ => {
                        let _ = write!(
                            stream,
                            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        );
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}
