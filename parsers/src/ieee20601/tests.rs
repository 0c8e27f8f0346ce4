//! Unit tests from byte vectors: the layouts of IEEE 11073-20601 Annex A (ASN.1) in MDER (Annex F), the
//! association / configuration exchange of the specialisation examples (11073-10407 blood pressure,
//! 11073-10404 pulse oximeter), and two APDUs dumped from a real Nonin pulse oximeter (as published in
//! Signove's antidote/HDP test scripts; bytes only, re-typed here).

use super::*;
use crate::{Direction::*, Ts};
use proptest::prelude::*;

// --- MDER builders (Annex F) -------------------------------------------------------------------

fn be16(v: u16) -> [u8; 2] {
    v.to_be_bytes()
}

/// `choice(u16) length(u16) body`.
fn apdu(choice: u16, body: &[u8]) -> Vec<u8> {
    let mut v = be16(choice).to_vec();
    v.extend(be16(body.len() as u16));
    v.extend(body);
    v
}

/// ANY DEFINED BY / OCTET STRING: u16 length then bytes.
fn os(body: &[u8]) -> Vec<u8> {
    let mut v = be16(body.len() as u16).to_vec();
    v.extend(body);
    v
}

/// SEQUENCE OF: count, length, elements.
fn seq(count: u16, elems: &[u8]) -> Vec<u8> {
    let mut v = be16(count).to_vec();
    v.extend(be16(elems.len() as u16));
    v.extend(elems);
    v
}

/// PRST wrapping DataApdu { invoke-id, CHOICE { choice, length, msg } } (Annex A.9, A.10).
fn prst(invoke: u16, choice: u16, msg: &[u8]) -> Vec<u8> {
    let mut data = be16(invoke).to_vec();
    data.extend(be16(choice));
    data.extend(os(msg));
    apdu(0xe700, &os(&data))
}

fn ava(id: u16, val: &[u8]) -> Vec<u8> {
    let mut v = be16(id).to_vec();
    v.extend(os(val));
    v
}

// --- Vectors -----------------------------------------------------------------------------------

/// AARQ of a blood-pressure agent with standard configuration 700 (11073-10407 example association
/// request; 20601 Annex A.7/A.8 field by field).
const AARQ_BP: [u8; 54] = [
    0xe2, 0x00, 0x00, 0x32, // APDU CHOICE AarqApdu, length 50
    0x80, 0x00, 0x00, 0x00, // assoc-version = assoc-version1
    0x00, 0x01, 0x00, 0x2a, // data-proto-list count 1, length 42
    0x50, 0x79, // data-proto-id 20601
    0x00, 0x26, // data-proto-info length 38
    0x80, 0x00, 0x00, 0x00, // protocolVersion1
    0xa0, 0x00, // encoding rules MDER | PER
    0x80, 0x00, 0x00, 0x00, // nomenclatureVersion1
    0x00, 0x00, 0x00, 0x00, // functionalUnits
    0x00, 0x80, 0x00, 0x00, // systemType sys-type-agent
    0x00, 0x08, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, // system-id
    0x02, 0xbc, // dev-config-id 700 (standard BPM)
    0x00, 0x01, 0x01,
    0x00, // data-req-mode-capab: flags, init-agent-count 1, init-manager-count 0
    0x00, 0x00, 0x00, 0x00, // optionList count 0, length 0
];

/// AARE accepted-unknown-config from a manager (20601 Annex A.7, `AareApdu`).
const AARE_UNKNOWN_CONFIG: [u8; 48] = [
    0xe3, 0x00, 0x00, 0x2c, // AareApdu, length 44
    0x00, 0x03, // result accepted-unknown-config
    0x50, 0x79, 0x00, 0x26, // data-proto-id 20601, length 38
    0x80, 0x00, 0x00, 0x00, 0x80, 0x00, // protocolVersion1, MDER
    0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // nomenclatureVersion1, functionalUnits
    0x80, 0x00, 0x00, 0x00, // sys-type-manager
    0x00, 0x08, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // system-id
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // dev-config-id 0, data-req-mode-capab 0
    0x00, 0x00, 0x00, 0x00, // optionList
];

/// Real AARQ of a Nonin pulse oximeter (standard configuration 401).
const NONIN_AARQ: [u8; 54] = [
    0xe2, 0x00, 0x00, 0x32, 0x80, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x2a, 0x50, 0x79, 0x00, 0x26,
    0x80, 0x00, 0x00, 0x00, 0x80, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80,
    0x00, 0x00, 0x00, 0x08, 0x00, 0x1c, 0x05, 0x01, 0x00, 0x00, 0x28, 0x85, 0x01, 0x91, 0x00, 0x01,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
];

/// Real unconfirmed MDC_NOTI_SCAN_REPORT_FIXED from the same Nonin oximeter: handles 1 (SpO2) and 10
/// (pulse rate), 10-byte values each (SFLOAT + absolute time).
const NONIN_SCAN_FIXED: [u8; 58] = [
    0xe7, 0x00, 0x00, 0x36, 0x00, 0x34, 0x80, 0x00, 0x01, 0x00, 0x00, 0x2e, 0x00, 0x00, 0x00, 0x08,
    0xa3, 0x40, 0x0d, 0x1d, 0x00, 0x24, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x1c, 0x00, 0x01,
    0x00, 0x0a, 0x00, 0x62, 0x20, 0x07, 0x10, 0x01, 0x08, 0x31, 0x42, 0x00, 0x00, 0x0a, 0x00, 0x0a,
    0x00, 0x69, 0x20, 0x07, 0x10, 0x01, 0x08, 0x31, 0x42, 0x00,
];

/// Confirmed MDC_NOTI_CONFIG for an extended BP configuration 0x4000 (20601 Annex A.11.5
/// ConfigReport; objects as in the 11073-10407 example: numeric BP compound and pulse rate).
fn config_report() -> Vec<u8> {
    let mut o1 = be16(6).to_vec(); // MDC_MOC_VMO_METRIC_NU
    o1.extend(be16(1));
    let mut a1 = ava(0x092f, &[0x00, 0x02, 0x4a, 0x04]); // TYPE: SCADA, MDC_PRESS_BLD_NONINV
    a1.extend(ava(0x0a46, &[0xf0, 0x40])); // MDC_ATTR_METRIC_SPEC_SMALL
    a1.extend(ava(0x0996, &[0x0f, 0x20])); // MDC_ATTR_UNIT_CODE mmHg
    a1.extend(ava(
        0x0a55,
        &seq(2, &[0x0a, 0x4c, 0x00, 0x02, 0x09, 0x90, 0x00, 0x08]),
    ));
    o1.extend(seq(4, &a1));
    let mut o2 = be16(6).to_vec();
    o2.extend(be16(2));
    let mut a2 = ava(0x092f, &[0x00, 0x02, 0x48, 0x2a]); // MDC_PULS_RATE_NON_INV
    a2.extend(ava(0x0a46, &[0xf0, 0x40]));
    a2.extend(ava(0x0996, &[0x0a, 0xa0])); // bpm
    o2.extend(seq(3, &a2));
    let mut objs = o1;
    objs.extend(o2);
    let mut info = be16(0x4000).to_vec(); // config-report-id
    info.extend(seq(2, &objs));
    let mut msg = be16(0).to_vec(); // obj-handle MDS
    msg.extend([0xff, 0xff, 0xff, 0xff]); // event-time
    msg.extend(be16(0x0d1c));
    msg.extend(os(&info));
    prst(0x1235, 0x0101, &msg)
}

/// rors-cmip-confirmed-event-report: ConfigReportRsp { 0x4000, accepted-config }.
fn config_response() -> Vec<u8> {
    let mut msg = be16(0).to_vec();
    msg.extend([0, 0, 0, 0]);
    msg.extend(be16(0x0d1c));
    msg.extend(os(&[0x40, 0x00, 0x00, 0x00]));
    prst(0x1235, 0x0201, &msg)
}

/// Confirmed MDC_NOTI_SCAN_REPORT_VAR over handles 1, 2, 1 (20601 Annex A.11.5 ScanReportInfoVar).
fn scan_var() -> Vec<u8> {
    let mut obs = Vec::new();
    for h in [1u16, 2, 1] {
        obs.extend(be16(h));
        obs.extend(seq(1, &ava(0x0a56, &[0x00, 0x78, 0x00, 0x50, 0x00, 0x5a])));
    }
    let mut info = be16(0xf000).to_vec();
    info.extend(be16(7)); // scan-report-no
    info.extend(seq(3, &obs));
    let mut msg = be16(0).to_vec();
    msg.extend([0, 0, 0, 0]);
    msg.extend(be16(0x0d1e));
    msg.extend(os(&info));
    prst(0x1236, 0x0101, &msg)
}

/// GET of all MDS attributes (handle 0, empty attribute-id-list), 20601 §8.5.4 / Annex A.10.
fn get_mds() -> Vec<u8> {
    let mut msg = be16(0).to_vec();
    msg.extend(seq(0, &[]));
    prst(0x3456, 0x0103, &msg)
}

/// GET response with System-Model, System-Id, Dev-Configuration-Id, Production-Specification and the
/// specialisation list (Annex A.11.2 / A.11.8).
fn get_mds_response() -> Vec<u8> {
    let mut model = os(b"Nonin\0");
    model.extend(os(b"9560"));
    let mut prod = Vec::new();
    for (t, s) in [
        (1u16, b"SN-4711".as_slice()),
        (5, b"FW 1.2.3"),
        (4, b"SW 2.0"),
    ] {
        prod.extend(be16(t));
        prod.extend(be16(0));
        prod.extend(os(s));
    }
    let mut attrs = ava(0x0928, &model);
    attrs.extend(ava(
        0x0984,
        &os(&[0x00, 0x1c, 0x05, 0x01, 0x00, 0x00, 0x28, 0x85]),
    ));
    attrs.extend(ava(0x0a44, &be16(401)));
    attrs.extend(ava(0x092d, &seq(3, &prod)));
    attrs.extend(ava(0x0a5a, &seq(1, &[0x10, 0x04, 0x00, 0x01])));
    let mut msg = be16(0).to_vec();
    msg.extend(seq(5, &attrs));
    prst(0x3456, 0x0203, &msg)
}

const RLRQ_NORMAL: [u8; 6] = [0xe4, 0x00, 0x00, 0x02, 0x00, 0x00];
const RLRE_NORMAL: [u8; 6] = [0xe5, 0x00, 0x00, 0x02, 0x00, 0x00];
const ABRT_CONFIG_TIMEOUT: [u8; 6] = [0xe6, 0x00, 0x00, 0x02, 0x00, 0x03];

type Stream = Vec<(Direction, Vec<u8>)>;

/// Agent → manager is `ToServer` here (the agent connects).
fn session() -> Stream {
    let mut set_time = be16(0).to_vec(); // MDC_ACT_SET_TIME on the MDS
    set_time.extend(be16(0x0c17));
    set_time.extend(os(&[
        0x20, 0x26, 0x11, 0x23, 0x17, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ]));
    vec![
        (ToServer, AARQ_BP.to_vec()),
        (ToClient, AARE_UNKNOWN_CONFIG.to_vec()),
        (ToServer, config_report()),
        (ToClient, config_response()),
        (ToClient, get_mds()),
        (ToServer, get_mds_response()),
        (ToClient, prst(0x3457, 0x0107, &set_time)),
        (ToServer, scan_var()),
        (ToServer, RLRQ_NORMAL.to_vec()),
        (ToClient, RLRE_NORMAL.to_vec()),
    ]
}

fn run(stream: &Stream, split: &dyn Fn(&[u8]) -> Vec<Vec<u8>>) -> Vec<AppEvent> {
    let mut p = Ieee20601Parser::new();
    let mut out = Vec::new();
    for (dir, bytes) in stream {
        for piece in split(bytes) {
            let _ = p.feed(*dir, &piece, Ts(0), &mut out);
        }
    }
    p.end(Ts(1), &mut out);
    out
}

fn one_shot(b: &[u8]) -> Vec<Vec<u8>> {
    vec![b.to_vec()]
}

fn events(out: &[AppEvent]) -> Vec<&Ieee20601Info> {
    out.iter()
        .filter_map(|e| match e {
            AppEvent::Ieee20601(t) => Some(&**t),
            _ => None,
        })
        .collect()
}

fn kinds(out: &[AppEvent]) -> Vec<&'static str> {
    out.iter()
        .filter_map(|e| match e {
            AppEvent::Anomaly(a) => Some(a.kind),
            _ => None,
        })
        .collect()
}

fn one(bytes: &[u8]) -> (Vec<AppEvent>, Ieee20601Info) {
    let out = run(&vec![(ToServer, bytes.to_vec())], &one_shot);
    let ev = events(&out).last().map(|e| (*e).clone()).expect("an event");
    (out, ev)
}

// --- Tests -------------------------------------------------------------------------------------

#[test]
fn probe_aarq() {
    assert_eq!(probe(ToServer, &AARQ_BP), Probe::Yes);
    assert_eq!(probe(ToClient, &NONIN_AARQ), Probe::Yes);
    for n in 0..12 {
        assert_eq!(
            probe(ToServer, &AARQ_BP[..n]),
            Probe::NeedMore,
            "prefix {n}"
        );
    }
    assert_eq!(probe(ToServer, &AARE_UNKNOWN_CONFIG), Probe::No);
    assert_eq!(probe(ToServer, b"GET / HTTP/1.1\r\n"), Probe::No);
    let mut bad_len = AARQ_BP;
    bad_len[3] = 0x40;
    assert_eq!(probe(ToServer, &bad_len), Probe::No);
    let mut bad_version = AARQ_BP;
    bad_version[4] = 0x40;
    assert_eq!(probe(ToServer, &bad_version), Probe::No);
    assert_eq!(
        crate::detect(ToServer, &AARQ_BP, 6024),
        crate::Detect::Found(Protocol::Ieee20601)
    );
}

#[test]
fn aarq_fields() {
    let (out, ev) = one(&AARQ_BP);
    assert_eq!(kinds(&out), Vec::<&str>::new());
    assert_eq!(ev.apdu, "aarq");
    assert_eq!(ev.assoc_version.as_deref(), Some("0x80000000"));
    assert_eq!(ev.data_proto_ids, [20601]);
    assert_eq!(ev.protocol_version.as_deref(), Some("0x80000000"));
    assert_eq!(ev.encoding_rules, ["mder", "per"]);
    assert_eq!(ev.system_type.as_deref(), Some("agent"));
    assert_eq!(ev.system_id.as_deref(), Some("1122334455667788"));
    assert_eq!(ev.dev_config_id, Some(700));
    assert_eq!(ev.data_req_mode_flags, Some(1));
    assert_eq!(ev.data_req_init_agent_count, Some(1));
    assert_eq!(ev.data_req_init_manager_count, Some(0));
    assert_eq!(ev.option_count, Some(0));
    let json = serde_json::to_value(AppEvent::Ieee20601(ev.into())).unwrap();
    assert_eq!(json["apdu"], "aarq");
    assert_eq!(json["system_id"], "1122334455667788");
    assert!(
        json.get("invoke_id").is_none(),
        "None fields skipped: {json}"
    );
}

#[test]
fn aare_fields() {
    let (out, ev) = one(&AARE_UNKNOWN_CONFIG);
    assert_eq!(kinds(&out), Vec::<&str>::new());
    assert_eq!(ev.apdu, "aare");
    assert_eq!(ev.result.as_deref(), Some("accepted_unknown_config"));
    assert_eq!(ev.system_type.as_deref(), Some("manager"));
    assert_eq!(ev.system_id.as_deref(), Some("8877665544332211"));
    assert_eq!(ev.encoding_rules, ["mder"]);
}

#[test]
fn release_and_abort_reasons() {
    assert_eq!(one(&RLRQ_NORMAL).1.reason.as_deref(), Some("normal"));
    assert_eq!(one(&RLRE_NORMAL).1.apdu, "rlre");
    let (out, ev) = one(&ABRT_CONFIG_TIMEOUT);
    assert_eq!(kinds(&out), Vec::<&str>::new());
    assert_eq!(ev.apdu, "abrt");
    assert_eq!(ev.reason.as_deref(), Some("configuration_timeout"));
}

#[test]
fn config_report_objects_and_observations_by_code() {
    let out = run(&session(), &one_shot);
    assert_eq!(kinds(&out), Vec::<&str>::new());
    let ev = events(&out);
    let names: Vec<_> = ev.iter().map(|e| (e.apdu, e.data_apdu)).collect();
    assert_eq!(
        names,
        [
            ("aarq", None),
            ("aare", None),
            ("prst", Some("confirmed_event_report")),
            ("prst", Some("confirmed_event_report_response")),
            ("prst", Some("get")),
            ("prst", Some("get_response")),
            ("prst", Some("confirmed_action")),
            ("prst", Some("confirmed_event_report")),
            ("rlrq", None),
            ("rlre", None),
        ]
    );
    let cfg = ev[2];
    assert_eq!(cfg.invoke_id, Some(0x1235));
    assert_eq!(cfg.event_type_code, Some(0x0d1c));
    assert_eq!(cfg.event_type, Some("MDC_NOTI_CONFIG"));
    assert_eq!(cfg.config_report_id, Some(0x4000));
    assert_eq!(cfg.config_object_count, Some(2));
    assert_eq!(
        cfg.config_objects,
        [
            ConfigObject {
                class: 6,
                class_name: Some("numeric"),
                handle: 1,
                attribute_count: 4,
                type_code: Some(150_020)
            },
            ConfigObject {
                class: 6,
                class_name: Some("numeric"),
                handle: 2,
                attribute_count: 3,
                type_code: Some(149_546)
            },
        ]
    );
    assert_eq!(ev[3].config_result.as_deref(), Some("accepted_config"));
    let get = ev[4];
    assert_eq!((get.obj_handle, get.invoke_id), (Some(0), Some(0x3456)));
    let rsp = ev[5];
    assert_eq!(rsp.manufacturer.as_deref(), Some("Nonin"));
    assert_eq!(rsp.model.as_deref(), Some("9560"));
    assert_eq!(rsp.serial_number.as_deref(), Some("SN-4711"));
    assert_eq!(rsp.firmware_revision.as_deref(), Some("FW 1.2.3"));
    assert_eq!(rsp.software_revision.as_deref(), Some("SW 2.0"));
    assert_eq!(rsp.system_id.as_deref(), Some("001c050100002885"));
    assert_eq!(rsp.dev_config_id, Some(401));
    assert_eq!(rsp.specializations, [0x1004]);
    assert_eq!(rsp.attribute_ids, [0x0928, 0x0984, 0x0a44, 0x092d, 0x0a5a]);
    assert_eq!(ev[6].action_type, Some(0x0c17));
    let scan = ev[7];
    assert_eq!(scan.event_type, Some("MDC_NOTI_SCAN_REPORT_VAR"));
    assert_eq!(scan.scan_report_no, Some(7));
    assert_eq!(scan.observation_count, Some(3));
    assert_eq!(
        scan.observations,
        [
            ObservationCount {
                handle: 1,
                code: Some(150_020),
                count: 2
            },
            ObservationCount {
                handle: 2,
                code: Some(149_546),
                count: 1
            },
        ]
    );
}

#[test]
fn real_nonin_association_and_fixed_scan() {
    let out = run(
        &vec![
            (ToServer, NONIN_AARQ.to_vec()),
            (ToServer, NONIN_SCAN_FIXED.to_vec()),
        ],
        &one_shot,
    );
    assert_eq!(kinds(&out), Vec::<&str>::new());
    let ev = events(&out);
    assert_eq!(ev[0].dev_config_id, Some(0x0191));
    assert_eq!(ev[0].system_id.as_deref(), Some("001c050100002885"));
    assert_eq!(ev[0].encoding_rules, ["mder"]);
    let scan = ev[1];
    assert_eq!(scan.data_apdu, Some("event_report"));
    assert_eq!(scan.invoke_id, Some(0x8000));
    assert_eq!(scan.event_time, Some(0x0008_a340));
    assert_eq!(scan.event_type_code, Some(0x0d1d));
    assert_eq!(scan.observation_count, Some(2));
    // Standard configuration 401 (11073-10404): handle 1 SpO2, handle 10 pulse rate.
    assert_eq!(
        scan.observations,
        [
            ObservationCount {
                handle: 1,
                code: Some(150_456),
                count: 1
            },
            ObservationCount {
                handle: 10,
                code: Some(149_530),
                count: 1
            },
        ]
    );
    let json = serde_json::to_string(&out).unwrap();
    // Never a value: the SpO2 byte 0x62 (98 %) or pulse 0x69 do not appear as numbers anywhere.
    assert!(!json.contains("98") && !json.contains("105"), "{json}");
}

fn all_splits_equal(stream: &Stream) {
    let whole = run(stream, &one_shot);
    for (i, (_, bytes)) in stream.iter().enumerate() {
        for cut in 0..=bytes.len() {
            let split_one = |b: &[u8]| -> Vec<Vec<u8>> {
                if std::ptr::eq(b, stream[i].1.as_slice()) {
                    vec![b[..cut].to_vec(), b[cut..].to_vec()]
                } else {
                    vec![b.to_vec()]
                }
            };
            assert_eq!(run(stream, &split_one), whole, "message {i} cut at {cut}");
        }
    }
    let bytewise = |b: &[u8]| b.chunks(1).map(<[u8]>::to_vec).collect();
    assert_eq!(run(stream, &bytewise), whole, "byte at a time");
    // Everything of one direction in one call.
    let mut joined: Stream = Vec::new();
    for (d, b) in stream {
        match joined.last_mut() {
            Some((ld, lb)) if ld == d => lb.extend(b),
            _ => joined.push((*d, b.clone())),
        }
    }
    assert_eq!(run(&joined, &one_shot), whole, "coalesced");
}

#[test]
fn every_split_equals_one_shot() {
    all_splits_equal(&session());
    all_splits_equal(&vec![
        (ToServer, NONIN_AARQ.to_vec()),
        (ToServer, NONIN_SCAN_FIXED.to_vec()),
    ]);
}

#[test]
fn unknown_apdu_type_resyncs() {
    let mut bytes = vec![0xe9, 0x00, 0x00, 0x03, 1, 2, 3, 0xe2, 0x00];
    bytes.extend(AARQ_BP);
    let out = run(&vec![(ToServer, bytes)], &one_shot);
    assert_eq!(kinds(&out), ["unknown_apdu_type"]);
    assert_eq!(events(&out)[0].dev_config_id, Some(700));
}

#[test]
fn length_and_count_mismatches() {
    // PRST octet string 2 longer than the APDU holds.
    let mut p = NONIN_SCAN_FIXED;
    p[5] = 0x36;
    let (out, _) = one(&p);
    assert_eq!(kinds(&out), ["length_mismatch"]);
    // Observation list count 5 while its length holds 2.
    let mut p = NONIN_SCAN_FIXED;
    p[27] = 5;
    let (out, ev) = one(&p);
    assert_eq!(kinds(&out), ["count_mismatch"]);
    assert_eq!(ev.observation_count, Some(2));
    // A config-obj-list claiming 65535 objects in 0 bytes: nothing allocated, count mismatch.
    let mut info = be16(0x4000).to_vec();
    info.extend([0xff, 0xff, 0x00, 0x00]);
    let mut msg = be16(0).to_vec();
    msg.extend([0, 0, 0, 0]);
    msg.extend(be16(0x0d1c));
    msg.extend(os(&info));
    let (out, ev) = one(&prst(1, 0x0101, &msg));
    assert_eq!(kinds(&out), ["count_mismatch"]);
    assert!(ev.config_objects.is_empty());
}

#[test]
fn anomalies_per_apdu_are_capped() {
    // 20 config objects, each claiming 9 attributes in an empty list: 20 count mismatches, 8 reported.
    let mut objs = Vec::new();
    for h in 1..=20u16 {
        objs.extend(be16(6));
        objs.extend(be16(h));
        objs.extend(seq(9, &[]));
    }
    let mut info = be16(0x4000).to_vec();
    info.extend(seq(20, &objs));
    let mut msg = be16(0).to_vec();
    msg.extend([0, 0, 0, 0]);
    msg.extend(be16(0x0d1c));
    msg.extend(os(&info));
    let (out, ev) = one(&prst(1, 0x0101, &msg));
    let k = kinds(&out);
    assert_eq!(k.len(), 9, "{k:?}");
    assert_eq!(k[..8], ["count_mismatch"; 8]);
    assert_eq!(k[8], "more_anomalies");
    assert_eq!(ev.config_objects.len(), 20);
}

#[test]
fn anomalies_per_flow_are_capped() {
    let stream = vec![(ToServer, prst(9, 0x0999, &[]).repeat(150))];
    let out = run(&stream, &one_shot);
    let k = kinds(&out);
    assert_eq!(k.len(), 101);
    assert!(k[..100].iter().all(|&k| k == "unknown_data_apdu_choice"));
    assert_eq!(k[100], "anomalies_suppressed");
    assert!(
        matches!(&out[out.len() - 1], AppEvent::Anomaly(a) if a.detail.starts_with("50 further"))
    );
    assert_eq!(events(&out).len(), 150, "events go on");
    all_splits_equal(&stream);
}

#[test]
fn malformed_and_unknown_choices() {
    // AARQ truncated inside phd-assoc-information (data-proto-info length says 38, 10 bytes given).
    let mut body = vec![
        0x80, 0, 0, 0, 0x00, 0x01, 0x00, 0x0e, 0x50, 0x79, 0x00, 0x26,
    ];
    body.extend([0x80, 0, 0, 0, 0x80, 0, 0x80, 0, 0, 0]);
    let (out, ev) = one(&apdu(0xe200, &body));
    assert_eq!(kinds(&out), ["malformed_apdu"]);
    assert_eq!(ev.assoc_version.as_deref(), Some("0x80000000"));
    // DataApdu choice 0x0999.
    let (out, ev) = one(&prst(9, 0x0999, &[]));
    assert_eq!(kinds(&out), ["unknown_data_apdu_choice"]);
    assert_eq!(ev.invoke_id, Some(9));
    // ROER and RORJ.
    let mut e = be16(17).to_vec();
    e.extend(os(&[]));
    assert_eq!(
        one(&prst(3, 0x0300, &e)).1.error_value.as_deref(),
        Some("invalid_object_instance")
    );
    assert_eq!(
        one(&prst(3, 0x0400, &be16(101)))
            .1
            .reject_problem
            .as_deref(),
        Some("unrecognized_operation")
    );
    // An agent without MDER, an assoc-version without version 1.
    let mut a = AARQ_BP;
    a[20] = 0x40;
    a[4] = 0x40;
    let (out, _) = one(&a);
    assert_eq!(kinds(&out), ["bad_assoc_version", "no_mder"]);
}

#[test]
fn oversized_apdu_is_truncated_not_buffered() {
    // A segment-data event report (MDC_NOTI_SEGMENT_DATA) of 60000 bytes: decoded from its first
    // MAX_APDU bytes, the rest skipped; the following APDU is still found.
    let mut msg = be16(0x0100).to_vec();
    msg.extend([0, 0, 0, 0]);
    msg.extend(be16(0x0d21));
    msg.extend(os(&vec![0x5a; 60_000]));
    let mut bytes = prst(0x0042, 0x0101, &msg);
    bytes.extend(RLRQ_NORMAL);
    let mut p = Ieee20601Parser::new();
    let mut out = Vec::new();
    for c in bytes.chunks(1000) {
        let _ = p.feed(ToServer, c, Ts(0), &mut out);
    }
    assert_eq!(kinds(&out), Vec::<&str>::new());
    let ev = events(&out);
    assert!(ev[0].truncated);
    assert_eq!(ev[0].event_type, Some("MDC_NOTI_SEGMENT_DATA"));
    assert_eq!(ev[0].invoke_id, Some(0x42));
    assert_eq!(ev[1].apdu, "rlrq");
    assert!(p.dirs[0].body.cap() == MAX_APDU && p.dirs[0].body.len() <= MAX_APDU);
}

#[test]
fn gaps_keep_or_regain_framing() {
    let mut p = Ieee20601Parser::new();
    let mut out = Vec::new();
    let cfg = config_report();
    // Hole inside the config report: that APDU is dropped, the next one decodes.
    let _ = p.feed(ToServer, &cfg[..20], Ts(0), &mut out);
    let _ = p.gap(ToServer, 10, Ts(0), &mut out);
    let _ = p.feed(ToServer, &cfg[30..], Ts(0), &mut out);
    let _ = p.feed(ToServer, &RLRQ_NORMAL, Ts(0), &mut out);
    assert_eq!(
        events(&out).iter().map(|e| e.apdu).collect::<Vec<_>>(),
        ["rlrq"]
    );
    // Hole past the APDU end: hunt, find the AARQ after junk.
    let _ = p.feed(ToServer, &cfg[..20], Ts(0), &mut out);
    let _ = p.gap(ToServer, 5000, Ts(0), &mut out);
    let mut junk = vec![0xe7, 0x00, 0x13, 0x00, 0xe2];
    junk.extend(AARQ_BP);
    let _ = p.feed(ToServer, &junk, Ts(0), &mut out);
    assert_eq!(kinds(&out), Vec::<&str>::new());
    assert_eq!(events(&out).last().unwrap().apdu, "aarq");
}

#[test]
fn garbage_gives_up_after_hunt_limit() {
    let mut p = Ieee20601Parser::new();
    let mut out = Vec::new();
    let junk = vec![0x11u8; HUNT_LIMIT as usize + 10];
    assert_eq!(p.feed(ToServer, &junk, Ts(0), &mut out), Progress::Continue);
    assert_eq!(kinds(&out), ["unknown_apdu_type", "resync_failed"]);
    assert_eq!(p.feed(ToClient, &junk, Ts(0), &mut out), Progress::Done);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any input, valid or not, gives the same events for any split (hunting and resync included).
    #[test]
    fn arbitrary_input_split_equals_one_shot(junk in proptest::collection::vec(any::<u8>(), 0..600),
                                             at in 0usize..4,
                                             cuts in proptest::collection::vec(1usize..50, 1..20)) {
        let mut stream = session();
        let i = at % stream.len();
        let mut b = junk.clone();
        b.extend(stream[i].1.iter().copied());
        stream[i].1 = b;
        let whole = run(&stream, &one_shot);
        let split = |b: &[u8]| crate::testutil::split_by(&cuts, b);
        prop_assert_eq!(run(&stream, &split), whole);
    }

    #[test]
    fn arbitrary_bytes_never_panic(a in proptest::collection::vec(any::<u8>(), 0..2048),
                                   b in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut p = Ieee20601Parser::new();
        let mut out = Vec::new();
        let _ = p.feed(ToServer, &a, Ts(0), &mut out);
        let _ = p.feed(ToClient, &b, Ts(0), &mut out);
        let _ = p.gap(ToServer, 3, Ts(0), &mut out);
        let _ = p.feed(ToServer, &b, Ts(0), &mut out);
        p.end(Ts(0), &mut out);
    }

    #[test]
    fn random_splits_equal_one_shot(cuts in proptest::collection::vec(1usize..64, 1..40)) {
        let stream = session();
        let whole = run(&stream, &one_shot);
        let split = |b: &[u8]| crate::testutil::split_by(&cuts, b);
        prop_assert_eq!(run(&stream, &split), whole);
    }

    /// Valid framing around arbitrary bodies: every decoder path sees hostile MDER.
    #[test]
    fn framed_garbage_never_panics(choice in prop::sample::select(vec![0xe200u16, 0xe300, 0xe400, 0xe700]),
                                   inner in prop::sample::select(vec![0x0100u16, 0x0101, 0x0103, 0x0104, 0x0107, 0x0201, 0x0203, 0x0205, 0x0300, 0x0400]),
                                   et in prop::sample::select(vec![0x0d1cu16, 0x0d1d, 0x0d1e, 0x0d1f, 0x0d20]),
                                   body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let bytes = if choice == 0xe700 {
            let mut msg = be16(0).to_vec();
            msg.extend([0, 0, 0, 0]);
            msg.extend(be16(et));
            msg.extend(os(&body));
            prst(1, inner, &msg)
        } else {
            apdu(choice, &body)
        };
        let _ = run(&vec![(ToServer, bytes)], &one_shot);
    }
}
include!("testdata/real_tests.rs");
