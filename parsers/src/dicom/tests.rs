//! Parser-level tests: byte vectors built from PS3.8 §9.3 (PDUs), PS3.8 Annex E (PDV control header)
//! and PS3.7 §9.3 / Annex E (command sets); the split contract; hostile input; proptest.

use super::dimse::tests::{c_store_rq, c_store_rsp, command, el, ui};
use super::ul::tests::{ae, associate_rq_body, item, pdu};
use super::*;
use proptest::prelude::*;

const TS: Direction = Direction::ToServer;
const TC: Direction = Direction::ToClient;
const CT: &str = "1.2.840.10008.5.1.4.1.1.2";
const FIND: &str = "1.2.840.10008.5.1.4.1.2.2.1";
const IMPLICIT: &str = "1.2.840.10008.1.2";

fn rq() -> Vec<u8> {
    pdu(
        0x01,
        &associate_rq_body(
            "STORESCU",
            "ANY-SCP",
            &[
                (1, CT, &[IMPLICIT, "1.2.840.10008.1.2.1"]),
                (3, FIND, &[IMPLICIT]),
            ],
        ),
    )
}

/// A-ASSOCIATE-AC per PS3.8 §9.3.3: fixed part as the RQ, contexts 0x21 with result 0 and one
/// transfer syntax, user information with max length 16384, class UID and version.
fn ac_with(results: &[(u8, u8)], max: u32) -> Vec<u8> {
    let mut b = vec![0, 1, 0, 0];
    b.extend_from_slice(&ae("ANY-SCP"));
    b.extend_from_slice(&ae("STORESCU"));
    b.extend_from_slice(&[0; 32]);
    b.extend(item(0x10, b"1.2.840.10008.3.1.1.1"));
    for (id, result) in results {
        let mut pc = vec![*id, 0, *result, 0];
        pc.extend(item(0x40, IMPLICIT.as_bytes()));
        b.extend(item(0x21, &pc));
    }
    let mut ui_ = item(0x51, &max.to_be_bytes());
    ui_.extend(item(0x52, b"1.2.826.0.1.3680043.9.3811.2.0.2"));
    ui_.extend(item(0x55, b"PYNETDICOM_202"));
    b.extend(item(0x50, &ui_));
    pdu(0x02, &b)
}

fn ac() -> Vec<u8> {
    ac_with(&[(1, 0), (3, 0)], 16384)
}

/// One PDV item (PS3.8 §9.3.5.1): length, context id, control header (Annex E), fragment.
fn pdv(ctx: u8, control: u8, frag: &[u8]) -> Vec<u8> {
    let mut v = ((frag.len() + 2) as u32).to_be_bytes().to_vec();
    v.push(ctx);
    v.push(control);
    v.extend_from_slice(frag);
    v
}

fn pdata(pdvs: &[Vec<u8>]) -> Vec<u8> {
    pdu(0x04, &pdvs.concat())
}

fn release_rq() -> Vec<u8> {
    pdu(0x05, &[0; 4])
}
fn release_rp() -> Vec<u8> {
    pdu(0x06, &[0; 4])
}

/// A whole storage association: RQ, AC, C-STORE-RQ (command in its own PDU, a 40000-byte data set in
/// three PDUs), C-STORE-RSP, release.
fn store_association() -> Vec<(Direction, Vec<u8>)> {
    let data = vec![0x5au8; 40000];
    let mut v = vec![(TS, rq()), (TC, ac())];
    v.push((TS, pdata(&[pdv(1, 0x03, &c_store_rq(1, CT))])));
    v.push((TS, pdata(&[pdv(1, 0x00, &data[..16000])])));
    v.push((TS, pdata(&[pdv(1, 0x00, &data[16000..32000])])));
    v.push((TS, pdata(&[pdv(1, 0x02, &data[32000..])])));
    v.push((TC, pdata(&[pdv(1, 0x03, &c_store_rsp(1, 0x0000))])));
    v.push((TS, release_rq()));
    v.push((TC, release_rp()));
    v
}

fn run(segments: &[(Direction, Vec<u8>)]) -> Vec<AppEvent> {
    let mut p = DicomParser::new();
    let mut out = Vec::new();
    for (i, (d, b)) in segments.iter().enumerate() {
        let _ = p.feed(*d, b, Ts(i as u64 * 1_000_000), &mut out);
    }
    p.end(Ts(99_000_000), &mut out);
    out
}

/// Feeds each segment in pieces cut by `cut(segment index, len) -> chunk sizes`.
fn run_split(
    segments: &[(Direction, Vec<u8>)],
    mut cut: impl FnMut(usize, usize) -> Vec<usize>,
) -> Vec<AppEvent> {
    let mut p = DicomParser::new();
    let mut out = Vec::new();
    for (i, (d, b)) in segments.iter().enumerate() {
        let mut rest: &[u8] = b;
        for n in cut(i, b.len()) {
            let n = n.min(rest.len());
            let (h, t) = rest.split_at(n);
            let _ = p.feed(*d, h, Ts(i as u64 * 1_000_000), &mut out);
            rest = t;
        }
        if !rest.is_empty() {
            let _ = p.feed(*d, rest, Ts(i as u64 * 1_000_000), &mut out);
        }
    }
    p.end(Ts(99_000_000), &mut out);
    out
}

fn dicom(evs: &[AppEvent]) -> Vec<&DicomRecord> {
    evs.iter()
        .filter_map(|e| match e {
            AppEvent::Dicom(d) => Some(&**d),
            _ => None,
        })
        .collect()
}

fn kinds(evs: &[AppEvent]) -> Vec<&'static str> {
    evs.iter()
        .map(|e| match e {
            AppEvent::Dicom(d) => d.kind,
            AppEvent::Anomaly(a) => a.kind,
            _ => "other",
        })
        .collect()
}

#[test]
fn storage_association_events() {
    let evs = run(&store_association());
    assert_eq!(
        kinds(&evs),
        vec![
            "associate_rq",
            "associate_ac",
            "command",
            "command",
            "release_rq",
            "release_rp",
            "association_end"
        ]
    );
    let d = dicom(&evs);
    assert_eq!(d[0].calling_ae.as_deref(), Some("STORESCU"));
    assert_eq!(d[0].called_ae.as_deref(), Some("ANY-SCP"));
    assert_eq!(
        d[0].implementation_class_uid.as_deref(),
        Some("1.2.276.0.7230010.3.0.3.6.7")
    );
    assert_eq!(
        d[0].implementation_version.as_deref(),
        Some("OFFIS_DCMTK_367")
    );
    assert_eq!(d[0].max_pdu_length, Some(16384));
    assert_eq!(d[0].user_identity_type, Some("username_and_passcode"));
    let pcs = d[0].presentation_contexts.as_ref().unwrap();
    assert_eq!(
        pcs[0].transfer_syntaxes,
        vec![IMPLICIT, "1.2.840.10008.1.2.1"]
    );
    let pcs = d[1].presentation_contexts.as_ref().unwrap();
    assert_eq!(pcs[0].abstract_syntax.as_deref(), Some(CT));
    assert_eq!(pcs[0].result, Some("acceptance"));
    assert_eq!(
        d[1].implementation_version.as_deref(),
        Some("PYNETDICOM_202")
    );

    let st = d[2];
    assert_eq!(st.command.as_deref(), Some("C-STORE-RQ"));
    assert_eq!(st.message_id, Some(1));
    assert_eq!(st.sop_class_uid.as_deref(), Some(CT));
    assert_eq!(st.dataset_bytes, Some(40000));
    let pdv = st.pdv.as_ref().unwrap();
    assert_eq!(
        (pdv.command_pdvs, pdv.data_pdvs, pdv.max_data_pdv),
        (1, 3, 16000)
    );
    assert_eq!(pdv.command_and_data_same_pdu, Some(false));
    let rsp = d[3];
    assert_eq!(rsp.command.as_deref(), Some("C-STORE-RSP"));
    assert_eq!(rsp.message_id_responded, Some(1));
    assert_eq!((rsp.status, rsp.status_class), (Some(0), Some("success")));
    // Request completed at segment 5 (ts 5 ms), response at segment 6 (6 ms).
    assert_eq!(rsp.latency_us, Some(1000));
    assert_eq!(rsp.direction, Some(TC));

    assert_eq!(d[6].calling_ae.as_deref(), Some("STORESCU"));
    let s = d[6].summary.as_ref().unwrap();
    assert_eq!(s.end_reason, "release");
    assert_eq!(s.commands.get("C-STORE-RQ"), Some(&1));
    assert_eq!(s.status_classes.get("success"), Some(&1));
    assert_eq!(s.sop_classes_stored, vec![CT.to_string()]);
    assert_eq!(s.dataset_bytes_toserver, 40000);
    assert_eq!(s.pdus_toserver, 6);
    assert_eq!(s.pdus_toclient, 3);
    assert_eq!(s.duration_us, 8000);
    assert_eq!(s.unanswered_requests, 0);
    assert_eq!(s.command_data_separate_pdu, 1);
    let total: usize = store_association()
        .iter()
        .filter(|(d, _)| *d == TS)
        .map(|(_, b)| b.len())
        .sum();
    assert_eq!(s.bytes_toserver, total as u64);
}

#[test]
fn eve_json_field_names_and_no_nulls() {
    let evs = run(&store_association());
    let j: Vec<serde_json::Value> = evs
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect();
    assert_eq!(j[0]["type"], "associate_rq");
    assert_eq!(j[0]["calling_ae"], "STORESCU");
    assert_eq!(j[0]["presentation_contexts"][0]["id"], 1);
    assert_eq!(j[0]["presentation_contexts"][0]["abstract_syntax"], CT);
    assert_eq!(j[1]["presentation_contexts"][0]["result"], "acceptance");
    assert_eq!(j[2]["command"], "C-STORE-RQ");
    assert_eq!(j[2]["dataset_bytes"], 40000);
    assert_eq!(j[3]["status_class"], "success");
    assert_eq!(j[3]["status"], 0);
    assert_eq!(j[6]["type"], "association_end");
    assert_eq!(j[6]["commands"]["C-STORE-RSP"], 1);
    assert_eq!(j[6]["end_reason"], "release");
    for v in &j {
        let s = v.to_string();
        assert!(!s.contains("null"), "{s}");
        // The user identity credential of the RQ never leaves the parser.
        assert!(!s.contains("alice") && !s.contains("secret"), "{s}");
    }
}

fn assert_split_invariant(segs: &[(Direction, Vec<u8>)]) {
    let whole = run(segs);
    let bytewise = run_split(segs, |_, len| vec![1; len]);
    assert_eq!(whole, bytewise, "byte at a time");
    for (si, (_, b)) in segs.iter().enumerate() {
        for cut in 0..=b.len() {
            let got = run_split(segs, |i, _| if i == si { vec![cut] } else { vec![] });
            assert_eq!(whole, got, "segment {si} cut at {cut}");
        }
    }
    // Everything of a direction run together in one feed is a split too: many PDUs in one call.
    let mut merged: Vec<(Direction, Vec<u8>)> = Vec::new();
    for (d, b) in segs {
        match merged.last_mut() {
            Some((ld, lb)) if ld == d => lb.extend_from_slice(b),
            _ => merged.push((*d, b.clone())),
        }
    }
    let evs = run(&merged);
    assert_eq!(kinds(&whole), kinds(&evs));
}

#[test]
fn every_split_gives_the_same_events() {
    // Small data set so the every-cut loop stays quick.
    let mut segs = vec![(TS, rq()), (TC, ac())];
    segs.push((
        TS,
        [
            pdata(&[pdv(1, 0x03, &c_store_rq(1, CT)), pdv(1, 0x00, &[1; 30])]),
            pdata(&[pdv(1, 0x02, &[2; 20])]),
        ]
        .concat(),
    ));
    segs.push((TC, pdata(&[pdv(1, 0x03, &c_store_rsp(1, 0xb000))])));
    segs.push((TS, [release_rq(), pdu(0x07, &[0, 0, 0, 0])].concat()));
    assert_split_invariant(&segs);
    let evs = run(&segs);
    let d = dicom(&evs);
    assert_eq!(
        d[2].pdv.as_ref().unwrap().command_and_data_same_pdu,
        Some(true)
    );
    assert_eq!(d[3].status_class, Some("warning"));
}

#[test]
fn command_set_spread_over_pdvs_and_pdus() {
    let cmd = c_store_rq(9, CT);
    let (a, b) = cmd.split_at(20);
    let (b, c) = b.split_at(30);
    let segs = vec![
        (TS, rq()),
        (TC, ac()),
        (TS, pdata(&[pdv(1, 0x01, a), pdv(1, 0x01, b)])),
        (TS, pdata(&[pdv(1, 0x03, c), pdv(1, 0x02, &[0; 8])])),
    ];
    let evs = run(&segs);
    let d = dicom(&evs);
    assert_eq!(d[2].command.as_deref(), Some("C-STORE-RQ"));
    assert_eq!(d[2].message_id, Some(9));
    assert_eq!(d[2].pdv.as_ref().unwrap().command_pdvs, 3);
    assert_eq!(d[2].dataset_bytes, Some(8));
    assert_split_invariant(&segs);
}

fn c_find_rq(id: u16) -> Vec<u8> {
    // PS3.7 §9.1.2.1 C-FIND-RQ (Table 9.1-2).
    command(&[
        el(0, 0x0002, &ui(FIND)),
        el(0, 0x0100, &0x0020u16.to_le_bytes()),
        el(0, 0x0110, &id.to_le_bytes()),
        el(0, 0x0700, &0u16.to_le_bytes()),
        el(0, 0x0800, &0x0000u16.to_le_bytes()),
    ])
}

fn c_find_rsp(id: u16, status: u16, data: bool) -> Vec<u8> {
    command(&[
        el(0, 0x0002, &ui(FIND)),
        el(0, 0x0100, &0x8020u16.to_le_bytes()),
        el(0, 0x0120, &id.to_le_bytes()),
        el(
            0,
            0x0800,
            &(if data { 0x0000u16 } else { 0x0101 }).to_le_bytes(),
        ),
        el(0, 0x0900, &status.to_le_bytes()),
    ])
}

#[test]
fn c_find_keys_without_values_and_pending_pairing() {
    // PATIENT-level query (PS3.4 C.6.1.1.2) naming a patient: the values must never leave the parser.
    let ident = [
        el(0x0008, 0x0052, b"PATIENT "),
        el(0x0010, 0x0010, b"DOE^JANE"),
        el(0x0010, 0x0020, b"MRN123456"),
        el(0x0010, 0x0030, b""),
    ]
    .concat();
    let matched = [
        el(0x0010, 0x0010, b"DOE^JANE"),
        el(0x0010, 0x0020, b"MRN123456"),
    ]
    .concat();
    let segs = vec![
        (TS, rq()),
        (TC, ac()),
        (
            TS,
            pdata(&[pdv(3, 0x03, &c_find_rq(5)), pdv(3, 0x02, &ident)]),
        ),
        (
            TC,
            pdata(&[
                pdv(3, 0x03, &c_find_rsp(5, 0xff00, true)),
                pdv(3, 0x02, &matched),
            ]),
        ),
        (TC, pdata(&[pdv(3, 0x03, &c_find_rsp(5, 0x0000, false))])),
    ];
    let evs = run(&segs);
    let d = dicom(&evs);
    let q = d[2];
    assert_eq!(q.command.as_deref(), Some("C-FIND-RQ"));
    assert_eq!(q.query_level.as_deref(), Some("PATIENT"));
    let keys = q.query_keys.as_ref().unwrap();
    let names: Vec<_> = keys
        .iter()
        .map(|k| (k.keyword.unwrap(), k.matching, k.phi))
        .collect();
    assert_eq!(
        names,
        vec![
            ("PatientName", Matching::Single, true),
            ("PatientID", Matching::Single, true),
            ("PatientBirthDate", Matching::Universal, true),
        ]
    );
    assert_eq!(q.query_phi_keys, Some(true));
    assert_eq!(q.query_bulk, Some(false));
    assert_eq!(d[3].status_class, Some("pending"));
    assert_eq!(d[3].latency_us, Some(1000));
    assert_eq!(d[4].latency_us, Some(2000));
    let s = d[5].summary.as_ref().unwrap();
    assert_eq!(s.end_reason, "flow_end");
    assert_eq!(s.unanswered_requests, 0);
    assert_eq!(s.status_classes.get("pending"), Some(&1));
    let json = serde_json::to_string(&evs).unwrap();
    assert!(
        !json.contains("DOE") && !json.contains("MRN123456"),
        "{json}"
    );
    assert_split_invariant(&segs);
}

#[test]
fn bulk_query_signature() {
    let ident = [
        el(0x0008, 0x0052, b"STUDY "),
        el(0x0010, 0x0010, b"*"),
        el(0x0020, 0x000d, b""),
    ]
    .concat();
    let segs = vec![
        (TS, rq()),
        (TC, ac()),
        (
            TS,
            pdata(&[pdv(3, 0x03, &c_find_rq(1)), pdv(3, 0x02, &ident)]),
        ),
    ];
    let evs = run(&segs);
    assert_eq!(dicom(&evs)[2].query_bulk, Some(true));
}

#[test]
fn interleaving_is_an_anomaly() {
    // PS3.8 Annex E: a command fragment on context 3 while context 1's command is unfinished.
    let cmd = c_store_rq(1, CT);
    let segs = vec![
        (TS, rq()),
        (TC, ac()),
        (
            TS,
            pdata(&[
                pdv(1, 0x01, &cmd[..10]),
                pdv(3, 0x03, &c_find_rq(2)),
                pdv(3, 0x02, &[]),
            ]),
        ),
    ];
    let evs = run(&segs);
    assert!(
        kinds(&evs).contains(&"interleaved_message"),
        "{:?}",
        kinds(&evs)
    );
    assert_eq!(dicom(&evs)[2].command.as_deref(), Some("C-FIND-RQ"));
}

#[test]
fn one_pdu_per_message_and_even_fragments() {
    // PS3.8 Annex E.1: "The PDVs contained in a P-DATA request primitive shall be related to the same
    // DICOM message" and "Each fragment of a message shall consist of an even number of bytes".
    let two = pdata(&[
        pdv(1, 0x03, &c_store_rsp(1, 0)),
        pdv(1, 0x03, &c_store_rsp(2, 0)),
    ]);
    let k = kinds(&run(&[(TS, rq()), (TC, ac()), (TC, two)]));
    assert_eq!(
        k.iter().filter(|k| **k == "pdu_spans_messages").count(),
        1,
        "{k:?}"
    );
    assert_eq!(k.iter().filter(|k| **k == "command").count(), 2, "{k:?}");
    let odd = pdata(&[pdv(1, 0x03, &c_store_rq(1, CT)), pdv(1, 0x02, &[0; 7])]);
    let k = kinds(&run(&[(TS, rq()), (TC, ac()), (TS, odd)]));
    assert!(k.contains(&"odd_fragment_length"), "{k:?}");
}

#[test]
fn pdata_before_association_and_unknown_context() {
    let segs = vec![(TS, pdata(&[pdv(1, 0x03, &c_store_rsp(1, 0))]))];
    let evs = run(&segs);
    assert_eq!(
        kinds(&evs),
        vec!["pdata_before_associate_ac", "command", "association_end"]
    );
    assert_eq!(dicom(&evs)[0].unmatched, Some(true));
    let segs = vec![
        (TS, rq()),
        (TC, ac()),
        (TS, pdata(&[pdv(7, 0x03, &c_store_rsp(1, 0))])),
    ];
    assert!(kinds(&run(&segs)).contains(&"unknown_presentation_context"));
}

#[test]
fn unknown_pdu_type_resyncs_on_next_pdu() {
    let segs = vec![
        (TS, rq()),
        (TC, ac()),
        (
            TS,
            [
                pdu(0x09, &[0xaa; 7]),
                pdata(&[pdv(1, 0x03, &c_store_rq(4, CT)), pdv(1, 0x02, &[1; 4])]),
            ]
            .concat(),
        ),
    ];
    let evs = run(&segs);
    assert_eq!(
        kinds(&evs),
        vec![
            "associate_rq",
            "associate_ac",
            "unknown_pdu_type",
            "command",
            "association_end"
        ]
    );
    assert_eq!(dicom(&evs)[3].summary.as_ref().unwrap().resyncs, 1);
    assert_split_invariant(&segs);
}

#[test]
fn pdu_over_negotiated_max_and_absurd_length() {
    // The acceptor can receive 64 bytes: a 100-byte P-DATA towards it is over the maximum.
    let segs = vec![
        (TS, rq()),
        (TC, ac_with(&[(1, 0)], 64)),
        (
            TS,
            pdata(&[pdv(1, 0x03, &c_store_rq(1, CT)), pdv(1, 0x02, &[0; 40])]),
        ),
    ];
    let k = kinds(&run(&segs));
    assert!(
        k.contains(&"pdu_length_over_max") && k.contains(&"command"),
        "{k:?}"
    );
    // A P-DATA claiming 4 GB: no allocation, an anomaly, resync.
    let segs = vec![
        (TS, rq()),
        (TC, ac()),
        (TS, vec![4, 0, 0xff, 0xff, 0xff, 0xf0, 0, 0]),
    ];
    assert!(kinds(&run(&segs)).contains(&"pdu_length_absurd"));
}

#[test]
fn hostile_association_items_and_commands() {
    // An item overrunning its PDU (PS3.8 §9.3.2 item length larger than what is left).
    let mut body = associate_rq_body("A", "B", &[]);
    body.extend_from_slice(&[0x20, 0, 0xff, 0xff, 1]);
    let k = kinds(&run(&[(TS, pdu(1, &body))]));
    assert_eq!(
        k,
        vec!["associate_rq", "item_overruns_pdu", "association_end"]
    );
    // A response missing Status and Message ID Being Responded To.
    let bad = command(&[
        el(0, 0x0100, &0x8001u16.to_le_bytes()),
        el(0, 0x0800, &0x0101u16.to_le_bytes()),
    ]);
    let k = kinds(&run(&[
        (TS, rq()),
        (TC, ac()),
        (TC, pdata(&[pdv(1, 3, &bad)])),
    ]));
    assert!(k.contains(&"command_missing_element"), "{k:?}");
    // A command element that runs past the command set.
    let mut cut = c_store_rq(1, CT);
    cut.truncate(cut.len() - 3);
    let k = kinds(&run(&[
        (TS, rq()),
        (TC, ac()),
        (TS, pdata(&[pdv(1, 3, &cut)])),
    ]));
    assert!(k.contains(&"command_set_malformed"), "{k:?}");
    // A PDV longer than its PDU.
    let mut p = pdata(&[pdv(1, 3, &c_store_rq(1, CT))]);
    p[9] = 0xff;
    let k = kinds(&run(&[(TS, rq()), (TC, ac()), (TS, p)]));
    assert!(k.contains(&"pdv_overruns_pdu"), "{k:?}");
    // A command set over the cap, fed in many fragments.
    let big = vec![0u8; 1000];
    let mut segs = vec![(TS, rq()), (TC, ac())];
    for _ in 0..20 {
        segs.push((TS, pdata(&[pdv(1, 0x01, &big)])));
    }
    segs.push((TS, pdata(&[pdv(1, 0x03, &big)])));
    let k = kinds(&run(&segs));
    assert!(k.contains(&"command_set_too_large"), "{k:?}");
}

#[test]
fn anomaly_flood_stops_the_flow() {
    let mut p = DicomParser::new();
    let mut out = Vec::new();
    let junk = pdu(0x04, &[0; 5]); // P-DATA shorter than a PDV header
    let mut progress = Progress::Continue;
    for _ in 0..(MAX_ANOMALIES + 5) {
        progress = p.feed(TS, &junk, Ts(0), &mut out);
    }
    assert_eq!(progress, Progress::Done);
    assert_eq!(kinds(&out).last(), Some(&"too_many_anomalies"));
}

#[test]
fn abort_and_reject() {
    // A-ABORT from the provider, reason unexpected-PDU (PS3.8 §9.3.8, Table 9-26).
    let evs = run(&[(TS, rq()), (TC, ac()), (TC, pdu(7, &[0, 0, 2, 2]))]);
    let d = dicom(&evs);
    assert_eq!(d[2].kind, "abort");
    assert_eq!(
        (d[2].source, d[2].reason),
        (Some("service_provider"), Some("unexpected_pdu"))
    );
    assert_eq!(d[3].summary.as_ref().unwrap().end_reason, "abort");
    // A-ASSOCIATE-RJ permanent, service user, called AE not recognised (PS3.8 §9.3.4, Table 9-21).
    let evs = run(&[(TS, rq()), (TC, pdu(3, &[0, 1, 1, 7]))]);
    let d = dicom(&evs);
    assert_eq!(d[1].result, Some("rejected_permanent"));
    assert_eq!(d[1].reason, Some("called_ae_title_not_recognized"));
    assert_eq!(d[2].summary.as_ref().unwrap().end_reason, "reject");
    assert_eq!(d.len(), 3);
}

#[test]
fn incomplete_message_at_flow_end() {
    let segs = vec![
        (TS, rq()),
        (TC, ac()),
        (
            TS,
            pdata(&[pdv(1, 0x03, &c_store_rq(1, CT)), pdv(1, 0x00, &[0; 100])]),
        ),
    ];
    let evs = run(&segs);
    let d = dicom(&evs);
    assert_eq!(d[2].incomplete, Some(true));
    assert_eq!(d[2].dataset_bytes, Some(100));
    let s = d[3].summary.as_ref().unwrap();
    assert_eq!((s.lost_messages, s.unanswered_requests), (1, 0));
}

#[test]
fn gap_inside_data_stays_in_step() {
    let mut p = DicomParser::new();
    let mut out = Vec::new();
    let _ = p.feed(TS, &rq(), Ts(0), &mut out);
    let _ = p.feed(TC, &ac(), Ts(0), &mut out);
    let data = pdata(&[pdv(1, 0x03, &c_store_rq(1, CT)), pdv(1, 0x02, &[0; 1000])]);
    let (a, rest) = data.split_at(data.len() - 900);
    let _ = p.feed(TS, a, Ts(1_000_000), &mut out);
    assert_eq!(p.gap(TS, 500, Ts(1_000_000), &mut out), Progress::Continue);
    let _ = p.feed(TS, &rest[500..], Ts(1_000_000), &mut out);
    let _ = p.feed(
        TC,
        &pdata(&[pdv(1, 3, &c_store_rsp(1, 0))]),
        Ts(2_000_000),
        &mut out,
    );
    p.end(Ts(3_000_000), &mut out);
    let d = dicom(&out);
    assert_eq!(d[2].gap, Some(true));
    assert_eq!(d[2].dataset_bytes, Some(1000));
    assert_eq!(d[3].latency_us, Some(1000));
    let s = d[4].summary.as_ref().unwrap();
    assert_eq!((s.gaps, s.gap_bytes, s.resyncs), (1, 500, 0));
}

#[test]
fn gap_across_pdus_resyncs_on_next_header() {
    let mut p = DicomParser::new();
    let mut out = Vec::new();
    let _ = p.feed(TS, &rq(), Ts(0), &mut out);
    let _ = p.feed(TC, &ac(), Ts(0), &mut out);
    let first = pdata(&[pdv(1, 0x03, &c_store_rq(1, CT)), pdv(1, 0x00, &[0; 100])]);
    let _ = p.feed(TS, &first[..50], Ts(1), &mut out);
    // The rest of the command PDV, the data, and the start of the next PDU are lost.
    let _ = p.gap(TS, 1000, Ts(1), &mut out);
    let second = pdata(&[pdv(1, 0x03, &c_store_rq(2, CT)), pdv(1, 0x02, &[0; 10])]);
    let mut after = vec![0x77; 13]; // tail of a lost PDU
    after.extend(&second);
    for chunk in after.chunks(5) {
        let _ = p.feed(TS, chunk, Ts(2), &mut out);
    }
    p.end(Ts(3), &mut out);
    let d = dicom(&out);
    let cmds: Vec<_> = d.iter().filter(|e| e.kind == "command").collect();
    assert_eq!(cmds.len(), 1);
    assert_eq!(cmds[0].message_id, Some(2));
    let s = d.last().unwrap().summary.as_ref().unwrap();
    assert_eq!((s.resyncs, s.lost_messages), (1, 1));
    assert!(!kinds(&out)
        .iter()
        .any(|k| k.contains("pdu") || k.contains("pdv")));
}

#[test]
fn probe_by_content() {
    let rq = rq();
    assert_eq!(probe(TS, &rq), Probe::Yes);
    assert_eq!(probe(TS, &rq[..5]), Probe::NeedMore);
    assert_eq!(probe(TS, &rq[..20]), Probe::NeedMore);
    assert_eq!(probe(TS, b"GET / HTTP/1.1\r\n"), Probe::No);
    assert_eq!(probe(TS, b"\x0bMSH|^~\\&|"), Probe::No);
    assert_eq!(probe(TS, &[]), Probe::NeedMore);
    assert_eq!(probe(TC, &ac()), Probe::Yes);
    assert_eq!(probe(TS, &ac()), Probe::No);
    let mut bad = rq.clone();
    bad[12] = 0x01; // control character in the called AE title
    assert_eq!(probe(TS, &bad), Probe::No);
    assert_eq!(
        crate::detect(TS, &rq, 4242),
        crate::Detect::Found(Protocol::Dicom)
    );
}

fn arb_segments() -> Vec<(Direction, Vec<u8>)> {
    let mut segs = vec![(TS, rq()), (TC, ac())];
    segs.push((
        TS,
        pdata(&[pdv(1, 0x03, &c_store_rq(1, CT)), pdv(1, 0x00, &[7; 300])]),
    ));
    segs.push((TS, pdata(&[pdv(1, 0x02, &[8; 200])])));
    segs.push((TC, pdata(&[pdv(1, 0x03, &c_store_rsp(1, 0xa700))])));
    segs.push((
        TS,
        pdata(&[
            pdv(3, 0x03, &c_find_rq(2)),
            pdv(3, 0x02, &el(0x0010, 0x0010, b"")),
        ]),
    ));
    segs.push((TC, pdata(&[pdv(3, 0x03, &c_find_rsp(2, 0, false))])));
    segs.push((TS, release_rq()));
    segs.push((TC, release_rp()));
    segs
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn arbitrary_splits_give_identical_events(cuts in proptest::collection::vec(1usize..200, 1..40)) {
        let segs = arb_segments();
        let whole = run(&segs);
        let mut k = 0usize;
        let got = run_split(&segs, |_, _| {
            let v: Vec<usize> = cuts.iter().cycle().skip(k).take(cuts.len()).copied().collect();
            k += 1;
            v
        });
        prop_assert_eq!(whole, got);
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        chunks in proptest::collection::vec((any::<bool>(), proptest::collection::vec(any::<u8>(), 0..300)), 0..20),
        gap_at in 0usize..20,
    ) {
        let mut p = DicomParser::new();
        let mut out = Vec::new();
        for (i, (d, b)) in chunks.iter().enumerate() {
            let dir = if *d { TS } else { TC };
            if i == gap_at {
                let _ = p.gap(dir, 17, Ts(0), &mut out);
            }
            let _ = p.feed(dir, b, Ts(i as u64), &mut out);
        }
        p.end(Ts(1), &mut out);
        for e in &out {
            let _ = serde_json::to_string(e).unwrap();
        }
    }

    #[test]
    fn mutated_association_never_panics(
        flips in proptest::collection::vec((0usize..2000, any::<u8>()), 1..8),
        step in 1usize..64,
    ) {
        let mut bytes: Vec<u8> = arb_segments().into_iter().flat_map(|(_, b)| b).collect();
        for (at, v) in flips {
            let n = bytes.len();
            bytes[at % n] = v;
        }
        let mut p = DicomParser::new();
        let mut out = Vec::new();
        for c in bytes.chunks(step) {
            let _ = p.feed(TS, c, Ts(0), &mut out);
        }
        p.end(Ts(1), &mut out);
    }
}

/// Replays a fixture written by `testdata/extract.py` (one parser per flow, segments in capture order)
/// and returns every flow's events.
fn replay(fixture: &[u8]) -> Vec<Vec<AppEvent>> {
    let mut parsers: Vec<(DicomParser, Vec<AppEvent>)> = Vec::new();
    let mut r = crate::wire::Reader::new(fixture);
    let mut buf = Vec::new();
    while let Some(kind) = r.u8() {
        let flow = usize::from(r.le_u16().unwrap());
        let dir = if r.u8().unwrap() == 0 { TS } else { TC };
        let ts = Ts(u64::from_le_bytes(r.array().unwrap()));
        while parsers.len() <= flow {
            parsers.push((DicomParser::new(), Vec::new()));
        }
        let (p, out) = &mut parsers[flow];
        if kind == b'G' {
            let n = u64::from_le_bytes(r.array().unwrap());
            let _ = p.gap(dir, n, ts, out);
            continue;
        }
        assert_eq!(kind, b'S');
        let len = r.le_u32().unwrap() as usize;
        buf.clear();
        while buf.len() < len {
            let (k, n) = (r.u8().unwrap(), r.le_u32().unwrap() as usize);
            if k == 0 {
                buf.extend_from_slice(r.take(n).unwrap());
            } else {
                buf.resize(buf.len() + n, 0);
            }
        }
        let _ = p.feed(dir, &buf, ts, out);
    }
    parsers
        .into_iter()
        .map(|(mut p, mut out)| {
            p.end(Ts(u64::MAX / 2), &mut out);
            out
        })
        .collect()
}

#[derive(Debug, Default)]
struct Counts {
    types: BTreeMap<&'static str, u64>,
    commands: BTreeMap<String, u64>,
    calling: BTreeMap<String, u64>,
    anomalies: BTreeMap<&'static str, u64>,
    pdata: u64,
}

fn counts(flows: &[Vec<AppEvent>]) -> Counts {
    let mut c = Counts::default();
    for e in flows.iter().flatten() {
        match e {
            AppEvent::Dicom(d) => {
                *c.types.entry(d.kind).or_default() += 1;
                if let Some(cmd) = &d.command {
                    *c.commands.entry(cmd.clone()).or_default() += 1;
                }
                if d.kind == "associate_rq" {
                    *c.calling.entry(d.calling_ae.clone().unwrap()).or_default() += 1;
                }
                if let Some(s) = &d.summary {
                    c.pdata += s.pdus_toserver + s.pdus_toclient;
                }
            }
            AppEvent::Anomaly(a) => *c.anomalies.entry(a.kind).or_default() += 1,
            _ => {}
        }
    }
    // P-DATA PDUs = all PDUs counted in the summaries less the association-level ones.
    let assoc_level: u64 = [
        "associate_rq",
        "associate_ac",
        "associate_rj",
        "release_rq",
        "release_rp",
        "abort",
    ]
    .iter()
    .map(|k| c.types.get(k).copied().unwrap_or(0))
    .sum();
    c.pdata -= assoc_level;
    c
}

fn m<K: Ord + From<&'static str>>(pairs: &[(&'static str, u64)]) -> BTreeMap<K, u64> {
    pairs.iter().map(|(k, v)| (K::from(k), *v)).collect()
}

/// Synthetic patient identities planted in the corpus captures (captures/phi/synthetic_patients.tsv of
/// the corpus branch): none may appear in any event.
const SYNTHETIC_PHI: &[&str] = &[
    "QUZTRAVEN",
    "ELVYRQA",
    "SYNPID7F3K2Q",
    "19470312",
    "1947-03-12",
    "VOXHALLERZ",
    "BENQDIKT",
    "SYNPID9M4T8W",
    "19620827",
    "KRYWINSKAQ",
    "ODALYXE",
    "SYNPID2H6P5R",
    "19851105",
    "ZEMBLOVICQ",
    "TAVIANOX",
    "SYNPID5J8N1X",
    "20010219",
    "PLOMQUARTZ",
    "ISOLDEVQ",
    "SYNPID3B7V6Y",
    "19390630",
    "DRAXMOLLEN",
    "FENWICKZ",
    "SYNPID8C1L4D",
    "19550914",
    "SYNACC40917",
    "SYNACC40918",
    "SYNACC40919",
    "SYNVIS77102",
    "SYNVIS77103",
    "HOLTZWAGEN",
    "MARIQUE",
];

fn assert_no_phi(flows: &[Vec<AppEvent>]) {
    for e in flows.iter().flatten() {
        let j = serde_json::to_string(e).unwrap();
        for p in SYNTHETIC_PHI {
            assert!(!j.contains(p), "{p} leaked: {j}");
        }
    }
}

// Fixtures: `testdata/*.bin`, written by `testdata/extract.py` from the corpus captures
// (captures/dicom/*.pcap of the corpus branch, 2026-11-23), data-set bytes of large PDVs elided:
//   python3 extract.py dcmtk-store.pcap dcmtk-store.bin --streams 0,2,3,4,5
//   python3 extract.py dcmtk-find-move-get.pcap dcmtk-find-move-get.bin --streams 4,5,6,7,8,9,11,12,13
//   python3 extract.py pynetdicom.pcap pynetdicom.bin
//   python3 extract.py malformed.pcap malformed.bin --streams 0,2,3,5,6,7,9,14
// Reference figures from TShark 4.0.17 on the same streams, D="-d tcp.port==104,dicom
// -d tcp.port==4242,dicom -d tcp.port==11112,dicom -d tcp.port==11113,dicom":
//   PDU types:  tshark -r X.pcap $D -Y "dicom && (FILTER)" -T fields -E occurrence=a -e dicom.pdu.type
//   commands:   tshark -r X.pcap $D -Y "dicom && (FILTER)" -V | grep "(0000,0100)"   (Command Field)
//   calling AE: tshark -r X.pcap $D -Y "dicom && (FILTER) && dicom.pdu.type==1" -T fields
//               -E occurrence=a -e dicom.assoc.ae.calling
// tshark's verbose tree lists the Command Field of fewer C-STORE-RSPs than there are (11 of 14, 10 of
// 11, 11 of 13): for those the figure below comes from a byte search of the TCP payloads for the
// element (0000,0100) US 0x8001: tshark -r X.pcap -Y "(FILTER) && tcp.len>0" -T fields -e tcp.payload
// | tr -d ':\n' | grep -o 00000001020000000180 | wc -l  (14, 11, 13), which the parser matches.

#[test]
fn real_capture_dcmtk_store_matches_tshark() {
    // FILTER: tcp.stream!=1. tshark: 5 A-ASSOCIATE-RQ, 5 -AC, 80 P-DATA-TF, 5 A-RELEASE-RQ, 5 -RP;
    // C-ECHO-RQ/RSP 2/2, C-STORE-RQ 14 (RSP: 14 by byte search); calling AEs CT_SCANNER01 1,
    // DX_ROOM04 1, MR_SCANNER02 2, RAD_WS07 1.
    let flows = replay(include_bytes!("testdata/dcmtk-store.bin"));
    let c = counts(&flows);
    assert_eq!(
        c.types,
        m(&[
            ("associate_rq", 5),
            ("associate_ac", 5),
            ("release_rq", 5),
            ("release_rp", 5),
            ("command", 32),
            ("association_end", 5)
        ])
    );
    assert_eq!(c.pdata, 80);
    assert_eq!(
        c.commands,
        m(&[
            ("C-ECHO-RQ", 2),
            ("C-ECHO-RSP", 2),
            ("C-STORE-RQ", 14),
            ("C-STORE-RSP", 14)
        ])
    );
    assert_eq!(
        c.calling,
        m(&[
            ("CT_SCANNER01", 1),
            ("DX_ROOM04", 1),
            ("MR_SCANNER02", 2),
            ("RAD_WS07", 1)
        ])
    );
    assert!(c.anomalies.is_empty(), "{:?}", c.anomalies);
    // Every request answered, every response paired, the software identified.
    for e in flows.iter().flatten() {
        if let AppEvent::Dicom(d) = e {
            if d.kind == "associate_rq" {
                assert!(d
                    .implementation_class_uid
                    .as_deref()
                    .unwrap()
                    .starts_with("1.2.276.0.7230010.3"));
            }
            if let Some(s) = &d.summary {
                assert_eq!(
                    (
                        s.unanswered_requests,
                        s.unmatched_responses,
                        s.lost_messages
                    ),
                    (0, 0, 0)
                );
                assert_eq!(s.end_reason, "release");
            }
        }
    }
    assert_no_phi(&flows);
}

#[test]
fn real_capture_orthanc_find_move_get_matches_tshark() {
    // FILTER: tcp.stream>=4 && tcp.stream!=10. tshark: 9 RQ, 9 AC, 129 P-DATA-TF, 9 RELEASE-RQ, 9 -RP;
    // C-ECHO 1/1, C-FIND-RQ 4, C-FIND-RSP 15, C-GET-RQ 1, C-GET-RSP 10, C-MOVE-RQ 2, C-MOVE-RSP 10,
    // C-STORE-RQ 11 (RSP: 11 by byte search); calling AEs ORTHANC 1, RAD_WS07 6, VIEWER03 2.
    let flows = replay(include_bytes!("testdata/dcmtk-find-move-get.bin"));
    let c = counts(&flows);
    assert_eq!(
        c.types,
        m(&[
            ("associate_rq", 9),
            ("associate_ac", 9),
            ("release_rq", 9),
            ("release_rp", 9),
            ("command", 66),
            ("association_end", 9)
        ])
    );
    assert_eq!(c.pdata, 129);
    assert_eq!(
        c.commands,
        m(&[
            ("C-ECHO-RQ", 1),
            ("C-ECHO-RSP", 1),
            ("C-FIND-RQ", 4),
            ("C-FIND-RSP", 15),
            ("C-GET-RQ", 1),
            ("C-GET-RSP", 10),
            ("C-MOVE-RQ", 2),
            ("C-MOVE-RSP", 10),
            ("C-STORE-RQ", 11),
            ("C-STORE-RSP", 11)
        ])
    );
    assert_eq!(
        c.calling,
        m(&[("ORTHANC", 1), ("RAD_WS07", 6), ("VIEWER03", 2)])
    );
    assert!(c.anomalies.is_empty(), "{:?}", c.anomalies);
    let mut levels = Vec::new();
    let mut moves = Vec::new();
    for e in flows.iter().flatten() {
        if let AppEvent::Dicom(d) = e {
            if d.command.as_deref() == Some("C-FIND-RQ") {
                levels.push(d.query_level.clone().unwrap());
                assert!(d.query_keys.as_ref().is_some_and(|k| !k.is_empty()));
            }
            if d.command.as_deref() == Some("C-MOVE-RQ") {
                moves.push(d.move_destination.clone().unwrap());
            }
        }
    }
    levels.sort();
    assert_eq!(levels, vec!["IMAGE", "PATIENT", "SERIES", "STUDY"]);
    assert_eq!(moves.len(), 2);
    // The identifiers and C-FIND responses carry the synthetic patients; nothing of them leaks.
    assert_no_phi(&flows);
}

#[test]
fn real_capture_pynetdicom_matches_tshark() {
    // FILTER: tcp. tshark: 6 RQ, 4 AC, 2 RJ, 85 P-DATA-TF, 1 RELEASE-RQ, 1 -RP, 3 A-ABORT;
    // C-ECHO 2/2, C-FIND-RQ 2, C-FIND-RSP 5, C-STORE-RQ 13 (RSP: 13 by byte search); calling AEs
    // PYN_SCU 4, RAD_WS07 1, ROGUE_AE 1.
    let flows = replay(include_bytes!("testdata/pynetdicom.bin"));
    let c = counts(&flows);
    assert_eq!(
        c.types,
        m(&[
            ("associate_rq", 6),
            ("associate_ac", 4),
            ("associate_rj", 2),
            ("release_rq", 1),
            ("release_rp", 1),
            ("abort", 3),
            ("command", 37),
            ("association_end", 6)
        ])
    );
    assert_eq!(c.pdata, 85);
    assert_eq!(
        c.commands,
        m(&[
            ("C-ECHO-RQ", 2),
            ("C-ECHO-RSP", 2),
            ("C-FIND-RQ", 2),
            ("C-FIND-RSP", 5),
            ("C-STORE-RQ", 13),
            ("C-STORE-RSP", 13)
        ])
    );
    assert_eq!(
        c.calling,
        m(&[("PYN_SCU", 4), ("RAD_WS07", 1), ("ROGUE_AE", 1)])
    );
    assert!(c.anomalies.is_empty(), "{:?}", c.anomalies);
    let mut classes = BTreeMap::<&str, u64>::new();
    for e in flows.iter().flatten() {
        if let AppEvent::Dicom(d) = e {
            if d.command.as_deref() == Some("C-STORE-RSP") {
                *classes.entry(d.status_class.unwrap()).or_default() += 1;
            }
        }
    }
    assert!(
        classes.contains_key("warning") && classes.contains_key("failure"),
        "{classes:?}"
    );
    assert_no_phi(&flows);
}

#[test]
fn real_capture_malformed_is_reported_not_fatal() {
    // FILTER: tcp.stream in 0,2,3,5,6,7,9,14. tshark: 3 RQ, 2 AC, 1 RJ, 1 RELEASE-RQ, 4 A-ABORT, and
    // one C-STORE-RQ; it flags stream 9's P-DATA "[Malformed Packet]".
    let flows = replay(include_bytes!("testdata/malformed.bin"));
    let c = counts(&flows);
    for (k, n) in [
        ("associate_rq", 3),
        ("associate_ac", 2),
        ("associate_rj", 1),
        ("release_rq", 1),
        ("abort", 4),
    ] {
        assert_eq!(c.types.get(k), Some(&n), "{k}: {:?}", c.types);
    }
    assert_eq!(c.commands, m(&[("C-STORE-RQ", 1)]));
    assert_eq!(
        c.anomalies,
        m(&[
            ("pdata_too_short", 1),
            ("pdv_overruns_pdu", 1),
            ("unknown_pdu_type", 2),
            ("unsupported_protocol_version", 1)
        ])
    );
    // Detection by content: the HTTP request on port 104 is not DICOM, the real RQs are.
    assert_eq!(probe(TS, b"GET / HTTP/1.1\r\n"), Probe::No);
}

/// A fixture's flows as conversation turns: consecutive segments of one direction merged.
fn turns(fixture: &[u8]) -> Vec<Vec<(Direction, Vec<u8>)>> {
    let mut flows: Vec<Vec<(Direction, Vec<u8>)>> = Vec::new();
    let mut r = crate::wire::Reader::new(fixture);
    while let Some(kind) = r.u8() {
        let flow = usize::from(r.le_u16().unwrap());
        let dir = if r.u8().unwrap() == 0 { TS } else { TC };
        let _ts: [u8; 8] = r.array().unwrap();
        assert_eq!(kind, b'S', "no gaps in these fixtures");
        let len = r.le_u32().unwrap() as usize;
        let mut buf = Vec::new();
        while buf.len() < len {
            let (k, n) = (r.u8().unwrap(), r.le_u32().unwrap() as usize);
            if k == 0 {
                buf.extend_from_slice(r.take(n).unwrap());
            } else {
                buf.resize(buf.len() + n, 0);
            }
        }
        while flows.len() <= flow {
            flows.push(Vec::new());
        }
        match flows[flow].last_mut() {
            Some((d, b)) if *d == dir => b.extend_from_slice(&buf),
            _ => flows[flow].push((dir, buf)),
        }
    }
    flows
}

#[test]
fn real_captures_give_the_same_events_for_any_segmentation() {
    for fx in [
        &include_bytes!("testdata/pynetdicom.bin")[..],
        &include_bytes!("testdata/dcmtk-find-move-get.bin")[..],
        &include_bytes!("testdata/malformed.bin")[..],
    ] {
        let mut events = 0;
        for flow in turns(fx) {
            let whole = run(&flow);
            events += whole.len();
            for step in [1usize, 7, 1448] {
                let got = run_split(&flow, |_, len| vec![step; len.div_ceil(step)]);
                assert_eq!(whole, got, "chunks of {step}");
            }
        }
        assert!(events >= 20, "{events} events");
    }
}
