//! `iomt-sensor`: exit 0 on success, 1 on a runtime failure, 2 on bad usage or a bad input file, with
//! one line on stderr.

use iomt_sensor::run::{run, InputError};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = iomt_sensor::config::parse_args();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A closed stdout (`| head`) is not a failure.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("iomt-sensor: error: {e:#}");
            if e.downcast_ref::<InputError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

/// mimalloc: glibc's malloc took a third of the worker's time on packet-heavy traffic, and the
/// merger frees what the workers allocated (cross-thread frees contend on glibc's arena locks).
/// Freed pages are released lazily, so RSS reads some tens of MB higher than with glibc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
