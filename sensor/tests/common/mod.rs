//! Helpers shared by the integration tests: run the built binary, find the committed captures.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_iomt-sensor"))
}

pub fn captures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../captures")
}

pub fn capture(rel: &str) -> PathBuf {
    let p = captures().join(rel);
    assert!(p.exists(), "missing committed capture {}", p.display());
    p
}

pub fn sensor(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .output()
        .expect("run iomt-sensor")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Parses JSON lines.
pub fn json_lines(s: &str) -> Vec<serde_json::Value> {
    s.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

/// A scratch directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "iomt-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether a program is on PATH.
pub fn have(prog: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {prog}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Every committed capture, sorted (not `captures/big/`: generated, git-ignored, gigabytes).
pub fn all_captures() -> Vec<PathBuf> {
    let mut v = Vec::new();
    let mut dirs = vec![captures()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "big") {
                    dirs.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "pcap" || x == "pcapng") {
                v.push(p);
            }
        }
    }
    v.sort();
    assert!(v.len() >= 10, "committed captures: {v:?}");
    v
}
