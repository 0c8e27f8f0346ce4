// Included by ieee20601/tests.rs: exchanges between Signove antidote's ieee_agent and ieee_manager
// (third-party 20601 stack, TCP plug-in) on loopback; see testdata/README.md. The expected values
// are what antidote's manager printed for the same association (its own decoder).

fn load_hex(text: &str) -> Stream {
    text.lines()
        .filter(|l| l.len() > 2)
        .map(|l| {
            let dir = if l.starts_with('>') { ToServer } else { ToClient };
            let hex = &l[2..];
            let bytes = (0..hex.len() / 2)
                .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
                .collect();
            (dir, bytes)
        })
        .collect()
}

fn cf(partition: u32, code: u32) -> Option<u32> {
    Some(partition << 16 | code)
}

/// Checks one antidote association: AARQ (standard config), AARE accepted, GET MDS and its response,
/// three scan reports, release. `obs` = the observations of each scan report.
fn check_antidote(text: &str, config: u16, obs: &[ObservationCount], anomalies: &[&str]) {
    let s = load_hex(text);
    assert_eq!(crate::detect(ToServer, &s[0].1, 6024), crate::Detect::Found(Protocol::Ieee20601));
    let out = run(&s, &one_shot);
    assert_eq!(kinds(&out), anomalies, "config {config}");
    let ev = events(&out);
    assert_eq!(ev[0].apdu, "aarq");
    assert_eq!(ev[0].dev_config_id, Some(config));
    // antidote's AGENT_SYSTEM_ID_VALUE; its manager prints System-Id 1133557799BBDDFF.
    assert_eq!(ev[0].system_id.as_deref(), Some("1133557799bbddff"));
    assert_eq!(ev[0].encoding_rules, ["mder"]);
    assert_eq!(ev[1].apdu, "aare");
    assert_eq!(ev[1].result.as_deref(), Some("accepted"));
    assert_eq!(ev[1].system_type.as_deref(), Some("manager"));
    assert_eq!((ev[2].data_apdu, ev[2].obj_handle), (Some("get"), Some(0)));
    let rsp = ev[3];
    assert_eq!(rsp.data_apdu, Some("get_response"));
    assert_eq!(rsp.dev_config_id, Some(config));
    assert_eq!(rsp.system_id.as_deref(), Some("1133557799bbddff"));
    assert_eq!(rsp.attribute_ids.len(), 17);
    // antidote's System-Model is two empty strings.
    assert_eq!((rsp.manufacturer.as_deref(), rsp.model.as_deref()), (Some(""), Some("")));
    let scans: Vec<_> = ev.iter().filter(|e| e.event_type_code == Some(0x0d1d) && e.observation_count.is_some()).collect();
    assert_eq!(scans.len(), 3);
    for scan in scans {
        assert_eq!(scan.observations, obs);
    }
    assert_eq!(ev[ev.len() - 2].apdu, "rlrq");
    assert_eq!(ev[ev.len() - 1].apdu, "rlre");
    all_splits_equal(&s);
}

#[test]
fn antidote_pulse_oximeter() {
    // Manager output: handle 1 partition 2 metric-id 19384, handle 10 metric-id 18458.
    check_antidote(
        include_str!("antidote_pulseoximeter.hex"),
        400,
        &[
            ObservationCount { handle: 1, code: cf(2, 19384), count: 1 },
            ObservationCount { handle: 10, code: cf(2, 18458), count: 1 },
        ],
        &[],
    );
}

#[test]
fn antidote_blood_pressure() {
    // Manager output: handle 1 metric-id 18948, handle 2 metric-id 18474 (partition 2).
    check_antidote(
        include_str!("antidote_bloodpressure.hex"),
        700,
        &[
            ObservationCount { handle: 1, code: cf(2, 18948), count: 1 },
            ObservationCount { handle: 2, code: cf(2, 18474), count: 1 },
        ],
        &[],
    );
}

#[test]
fn antidote_weighing_scale() {
    // Manager output: handle 1 metric-id 57664 twice per report. The agent also sends handle 3 (BMI),
    // which antidote's own standard configuration 0x05DC does not define: the manager drops it, we count
    // it without a code.
    check_antidote(
        include_str!("antidote_weightscale.hex"),
        1500,
        &[
            ObservationCount { handle: 1, code: cf(2, 57664), count: 2 },
            ObservationCount { handle: 3, code: None, count: 2 },
        ],
        &[],
    );
}

#[test]
fn antidote_glucometer() {
    // Manager output: handle 1 metric-id 29112. antidote's glucometer encodes event-info length 24
    // over a 22-byte ScanReportInfoFixed (2 zero bytes follow): a real non-conformance, reported.
    check_antidote(
        include_str!("antidote_glucometer.hex"),
        1700,
        &[ObservationCount { handle: 1, code: cf(2, 29112), count: 1 }],
        &["trailing_bytes"; 3],
    );
}
