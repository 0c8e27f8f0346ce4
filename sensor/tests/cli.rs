//! The command line's contract: exit 0/1/2, one clear stderr line for bad input or options.

mod common;
use common::*;

#[test]
fn bad_files_and_options_exit_2_with_one_line() {
    let t = TempDir::new("cli");
    let not_capture = t.path("notes.txt");
    std::fs::write(&not_capture, "this is not a capture file at all").unwrap();
    let short = t.path("short.pcap");
    std::fs::write(&short, [0xd4, 0xc3]).unwrap();
    // A pcap whose first record claims 10 MB.
    let mut huge = vec![
        0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0,
    ];
    huge.extend([0; 8]);
    huge.extend(10_000_000u32.to_le_bytes());
    huge.extend(10_000_000u32.to_le_bytes());
    huge.extend([0; 64]);
    let huge_path = t.path("huge.pcap");
    std::fs::write(&huge_path, &huge).unwrap();
    // A pcapng block whose length is not a multiple of 4.
    let mut ng = vec![
        0x0a, 0x0d, 0x0d, 0x0a, 0x1d, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a,
    ];
    ng.extend([0; 20]);
    let ng_path = t.path("bad.pcapng");
    std::fs::write(&ng_path, &ng).unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["replay".into(), not_capture.display().to_string()],
            "not a pcap or pcapng file",
        ),
        (
            vec!["replay".into(), "/nonexistent/x.pcap".into()],
            "No such file",
        ),
        (
            vec!["replay".into(), short.display().to_string()],
            "too short",
        ),
        (
            vec!["replay".into(), huge_path.display().to_string()],
            "record length 10000000 at offset 24",
        ),
        (
            vec!["replay".into(), ng_path.display().to_string()],
            "invalid length 29",
        ),
        (
            vec![
                "replay".into(),
                "--threads".into(),
                "0".into(),
                "x.pcap".into(),
            ],
            "--threads",
        ),
        (
            vec![
                "replay".into(),
                "--eve-types".into(),
                "alert,bogus".into(),
                "x.pcap".into(),
            ],
            "unknown event type",
        ),
        (
            vec!["replay".into(), "--no-such-option".into()],
            "unexpected argument",
        ),
        (vec!["frobnicate".into()], "unrecognized subcommand"),
    ];
    for (args, needle) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // Keep any state the run creates out of the source tree.
        let state = t.path("state");
        let mut args = args;
        if args.first() == Some(&"replay") && args.len() > 1 {
            args.splice(1..1, ["--state", state.to_str().unwrap()]);
        }
        let o = sensor(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        let error_lines = err.lines().filter(|l| l.contains("error")).count();
        assert_eq!(error_lines, 1, "{args:?}: one error line expected: {err}");
    }
}

#[test]
fn a_capture_cut_mid_record_is_processed_up_to_the_cut_with_a_warning() {
    let t = TempDir::new("cut");
    let full = std::fs::read(capture("dicom/dcmtk-store.pcap")).unwrap();
    let cut = t.path("cut.pcap");
    std::fs::write(&cut, &full[..full.len() - 50]).unwrap();
    let o = sensor(&["decode", "--json", "--flows", cut.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("capture cut mid-record at offset"),
        "{}",
        stderr(&o)
    );
    let flows = json_lines(&stdout(&o))
        .into_iter()
        .filter(|v| v["event_type"] == "flow")
        .count();
    assert_eq!(flows, 6);
}

#[test]
fn broken_pipe_is_not_an_error() {
    let o = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "{} decode --json --flows {} | head -c 10 >/dev/null; echo ${{PIPESTATUS[0]}}",
            bin().display(),
            capture("dicom/dcmtk-find-move-get.pcap").display()
        ))
        .output()
        .unwrap();
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "0");
}
