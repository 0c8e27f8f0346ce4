//! `--config FILE`: a TOML file holding any long option of the command, under the same name
//! (`eve = "eve.json"`, `syslog = ["tcp://siem:601"]`, `threads = 2`, `stats = true`; `eve_types` and
//! `eve-types` both work). Options on the command line win over the file. An unknown key or a bad value
//! is one error line naming the key (exit 2).
//!
//! The file is turned into command-line arguments placed before the user's own, then clap parses
//! everything, so a value in the file is checked exactly like the same value on the command line.

use crate::cli::Cli;
use clap::{ArgAction, CommandFactory, Parser};
use std::ffi::OsString;

/// Parses the command line (and the `--config` file it names); exits on errors like clap does.
pub fn parse_args() -> Cli {
    let args: Vec<OsString> = std::env::args_os().collect();
    match with_config(&args) {
        Ok(Some(v)) => match Cli::try_parse_from(&v.args) {
            Ok(c) => c,
            Err(e) => {
                // A value that came from the file: name the file and the key.
                if let Some(clap::error::ContextValue::String(arg)) =
                    e.get(clap::error::ContextKind::InvalidArg)
                {
                    let long = arg
                        .trim_start_matches("--")
                        .split([' ', '='])
                        .next()
                        .unwrap_or("");
                    if let Some(key) = v.from_file.iter().find(|(l, _)| l == long).map(|x| &x.1) {
                        let msg = e.to_string();
                        let first = msg
                            .lines()
                            .next()
                            .unwrap_or("")
                            .trim_start_matches("error: ");
                        fail(&format!("--config {}: key {key:?}: {first}", v.file));
                    }
                }
                e.exit()
            }
        },
        Ok(None) => Cli::parse_from(args),
        Err(msg) => fail(&msg),
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("iomt-sensor: error: {msg}");
    std::process::exit(2)
}

/// The merged argument list, and which long options came from the file (long name, key as written).
#[derive(Debug)]
pub struct Merged {
    pub args: Vec<OsString>,
    pub from_file: Vec<(String, String)>,
    pub file: String,
}

/// Returns `None` when there is no `--config`, the merged arguments otherwise, or one error line.
pub fn with_config(args: &[OsString]) -> Result<Option<Merged>, String> {
    let strs: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut path = None;
    for (i, a) in strs.iter().enumerate() {
        if a == "--" {
            break;
        }
        if a == "--config" {
            path = strs.get(i.saturating_add(1)).cloned();
        } else if let Some(p) = a.strip_prefix("--config=") {
            path = Some(p.to_string());
        }
    }
    let Some(path) = path else { return Ok(None) };
    // The subcommand: the first argument after the program name that is not an option.
    let Some((sub_at, sub)) = strs
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, a)| !a.starts_with('-'))
    else {
        return Ok(None);
    };
    let cmd = Cli::command();
    let Some(sc) = cmd.find_subcommand(sub) else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&path).map_err(|e| format!("--config {path}: {e}"))?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let line = e
            .span()
            .map(|s| {
                text.get(..s.start)
                    .unwrap_or("")
                    .matches('\n')
                    .count()
                    .saturating_add(1)
            })
            .unwrap_or(0);
        format!(
            "--config {path}: line {line}: {}",
            e.message().lines().next().unwrap_or("invalid TOML")
        )
    })?;
    let mut extra: Vec<OsString> = Vec::new();
    let mut from_file = Vec::new();
    for (key, value) in &table {
        let long = key.replace('_', "-");
        let arg = sc
            .get_arguments()
            .find(|a| a.get_long() == Some(long.as_str()) && long != "config" && long != "help")
            .ok_or_else(|| {
                format!(
                    "--config {path}: unknown key {key:?} (not an option of `iomt-sensor {sub}`)"
                )
            })?;
        let on_cli = strs
            .iter()
            .any(|a| a == &format!("--{long}") || a.starts_with(&format!("--{long}=")));
        if on_cli {
            continue;
        }
        let flag = matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse);
        let bad = |what: &str| format!("--config {path}: key {key:?}: {what}");
        let scalar = |v: &toml::Value| -> Result<String, String> {
            match v {
                toml::Value::String(s) => Ok(s.clone()),
                toml::Value::Integer(n) => Ok(n.to_string()),
                toml::Value::Float(f) => Ok(f.to_string()),
                toml::Value::Boolean(b) => Ok(b.to_string()),
                _ => Err(bad("expected a string, a number or a boolean")),
            }
        };
        if flag {
            match value {
                toml::Value::Boolean(true) => extra.push(format!("--{long}").into()),
                toml::Value::Boolean(false) => {}
                _ => return Err(bad("expected true or false")),
            }
        } else if let toml::Value::Array(items) = value {
            if !matches!(arg.get_action(), ArgAction::Append) {
                return Err(bad("expected one value, not a list"));
            }
            for it in items {
                extra.push(format!("--{long}").into());
                extra.push(scalar(it)?.into());
            }
        } else {
            extra.push(format!("--{long}").into());
            extra.push(scalar(value)?.into());
        }
        from_file.push((long, key.clone()));
    }
    let mut merged: Vec<OsString> = args.get(..=sub_at).unwrap_or(args).to_vec();
    merged.extend(extra);
    merged.extend(args.iter().skip(sub_at.saturating_add(1)).cloned());
    Ok(Some(Merged {
        args: merged,
        from_file,
        file: path,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn file_then_cli_wins() {
        let dir = std::env::temp_dir().join(format!("iomt-config-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("c.toml");
        std::fs::write(
            &f,
            "eve = \"a.json\"\nthreads = 3\nstats = true\nsyslog = [\"udp://127.0.0.1:9\", \"tcp://127.0.0.1:9\"]\neve_types = \"all\"\n",
        )
        .unwrap();
        let fs = f.to_str().unwrap();
        let m = with_config(&os(&[
            "iomt-sensor",
            "replay",
            "--config",
            fs,
            "--threads",
            "2",
            "x.pcap",
        ]))
        .unwrap()
        .unwrap();
        let cli = Cli::try_parse_from(&m.args).unwrap();
        let crate::cli::Command::Replay { common, .. } = cli.command else {
            panic!()
        };
        assert_eq!(common.engine.threads, Some(2));
        assert_eq!(common.eve.unwrap().to_str(), Some("a.json"));
        assert!(common.stats);
        assert_eq!(common.out.syslog.len(), 2);
        assert!(common.eve_types.allows("dicom"));
        std::fs::write(&f, "bogus = 1\n").unwrap();
        let e = with_config(&os(&["iomt-sensor", "replay", "--config", fs, "x.pcap"])).unwrap_err();
        assert!(e.contains("unknown key \"bogus\""), "{e}");
        std::fs::write(&f, "threads = [1]\n").unwrap();
        let e = with_config(&os(&["iomt-sensor", "replay", "--config", fs, "x.pcap"])).unwrap_err();
        assert!(e.contains("key \"threads\": expected one value"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
