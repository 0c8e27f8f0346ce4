//! The EVE JSON lines file (`--eve FILE|-`) with rotation: on SIGHUP the file is reopened (after
//! logrotate moved it away), and past `--eve-rotate-size` bytes it is renamed to `FILE.1` (older ones
//! shift to `FILE.2` … `FILE.5`, the oldest is removed) and a new `FILE` is started.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Rotated files kept besides the current one.
pub const KEEP: u32 = 5;

enum Out {
    Stdout(BufWriter<std::io::Stdout>),
    File(BufWriter<File>),
}

pub struct EveWriter {
    path: Option<PathBuf>,
    out: Out,
    size: u64,
    rotate_size: Option<u64>,
    hup: Arc<AtomicBool>,
    pub rotations: u64,
    /// A closed standard output (`| head`): stop writing, quietly.
    closed: bool,
}

fn open(p: &Path) -> std::io::Result<(BufWriter<File>, u64)> {
    let f = OpenOptions::new().create(true).append(true).open(p)?;
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    Ok((BufWriter::with_capacity(1 << 16, f), size))
}

impl EveWriter {
    /// `-` is standard output (never rotated). `hup` is set by the SIGHUP handler.
    pub fn open(
        path: &Path,
        rotate_size: Option<u64>,
        hup: Arc<AtomicBool>,
    ) -> std::io::Result<Self> {
        let (path, out, size) = if path == Path::new("-") {
            (
                None,
                Out::Stdout(BufWriter::with_capacity(1 << 16, std::io::stdout())),
                0,
            )
        } else {
            let (f, size) = open(path)?;
            (Some(path.to_path_buf()), Out::File(f), size)
        };
        Ok(EveWriter {
            path,
            out,
            size,
            rotate_size,
            hup,
            rotations: 0,
            closed: false,
        })
    }

    fn w(&mut self) -> &mut dyn Write {
        match &mut self.out {
            Out::Stdout(w) => w,
            Out::File(w) => w,
        }
    }

    /// Writes one line (with its newline); rotates first when a SIGHUP came or the size is reached.
    pub fn write_line(&mut self, line: &[u8]) -> std::io::Result<()> {
        if self.closed {
            return Ok(());
        }
        if self.hup.swap(false, Ordering::Relaxed) {
            self.reopen(false)?;
        }
        if let Some(cap) = self.rotate_size {
            if self.size > 0 && self.size.saturating_add(line.len() as u64) > cap {
                self.reopen(true)?;
            }
        }
        match self.w().write_all(line) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            r => {
                self.size = self.size.saturating_add(line.len() as u64);
                r
            }
        }
    }

    /// Flushes, then (files only) shifts the rotated files when `shift`, and opens the path anew.
    fn reopen(&mut self, shift: bool) -> std::io::Result<()> {
        self.flush()?;
        let Some(p) = self.path.clone() else {
            return Ok(());
        };
        if shift {
            let name = |n: u32| {
                let mut s = p.as_os_str().to_owned();
                s.push(format!(".{n}"));
                PathBuf::from(s)
            };
            let _ = std::fs::remove_file(name(KEEP));
            for n in (1..KEEP).rev() {
                let _ = std::fs::rename(name(n), name(n.saturating_add(1)));
            }
            std::fs::rename(&p, name(1))?;
        }
        let (f, size) = open(&p)?;
        self.out = Out::File(f);
        self.size = size;
        self.rotations = self.rotations.saturating_add(1);
        Ok(())
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        if self.closed {
            return Ok(());
        }
        match self.w().flush() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            r => r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_and_on_hup() {
        let dir = std::env::temp_dir().join(format!("iomt-eve-rot-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("eve.json");
        let hup = Arc::new(AtomicBool::new(false));
        let mut w = EveWriter::open(&p, Some(100), hup.clone()).unwrap();
        let line = [b'x'; 39].iter().chain(b"\n").copied().collect::<Vec<u8>>();
        for _ in 0..7 {
            w.write_line(&line).unwrap();
        }
        w.flush().unwrap();
        // 40-byte lines, 100-byte cap: 2 lines per file: eve.json.3 (oldest) .. eve.json (1 line).
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 40);
        for n in 1..=3 {
            assert_eq!(
                std::fs::metadata(dir.join(format!("eve.json.{n}")))
                    .unwrap()
                    .len(),
                80
            );
        }
        assert!(!dir.join("eve.json.4").exists());
        // logrotate-style: move the file away, send "HUP": a new file is started.
        std::fs::rename(&p, dir.join("moved")).unwrap();
        hup.store(true, Ordering::Relaxed);
        w.write_line(&line).unwrap();
        w.flush().unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 40);
        assert_eq!(std::fs::metadata(dir.join("moved")).unwrap().len(), 40);
        assert_eq!(w.rotations, 4);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
