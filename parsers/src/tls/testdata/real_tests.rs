// Included by tls/tests.rs. Expected values come from tshark 4.0.17's TLS dissector on the same pcaps:
//   tshark -r tls13_loopback.pcap -Y "tls.handshake.type==1 || tls.handshake.type==2" -T fields \
//     -e tls.handshake.type -e tls.handshake.extensions_server_name -e tls.handshake.ciphersuite \
//     -e tls.handshake.extensions_alpn_str -e tls.handshake.extensions.supported_version \
//     -e tls.handshake.extension.type -e tls.handshake.sig_hash_alg
// tls13: CH sni monitor.icu.test, ciphers 0x1302,0x1303,0x1301,0x00ff, ALPN h2,http/1.1, versions
//        0x0304, extensions 0,11,10,35,16,22,23,13,43,45,51; SH cipher 0x1302, version 0x0304,
//        extensions 43,51 (ALPN is in the encrypted EncryptedExtensions in TLS 1.3).
// tls12: CH sni pump7.ward3.test, ciphers 0xc02c,0x00ff, ALPN http/1.1, extensions
//        0,11,10,35,16,22,23,13; SH cipher 0xc02c, ALPN http/1.1, extensions 65281,11,35,16,23.
// tshark 4.0 has no tls.handshake.ja4 field (added in 4.2): the JA4/JA4S strings below were computed
// from those tshark fields by an independent 15-line Python script (hashlib.sha256) following the
// FoxIO spec; the JA4S extension hash of "002b,0033" (a56c5b993250) also equals the spec's example.

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

#[test]
fn real_openssl_handshake_matches_tshark() {
    let s = load_hex(include_str!("tls13_loopback.hex"));
    assert_eq!(crate::detect(ToServer, &s[0].1, 8443), crate::Detect::Found(Protocol::Tls));
    let out = run(&s, &one_shot);
    assert_eq!(anomaly_kinds(&out), Vec::<&str>::new());
    let ev = tls_events(&out);
    let ch = ev[0];
    assert_eq!(ch.kind, "client_hello");
    assert_eq!(ch.sni.as_deref(), Some("monitor.icu.test"));
    assert_eq!(ch.alpn_offered, ["h2", "http/1.1"]);
    assert_eq!(ch.client_versions, ["TLS 1.3"]);
    assert_eq!(ch.extensions, [0, 11, 10, 35, 16, 22, 23, 13, 43, 45, 51]);
    assert_eq!(
        ch.cipher_suites,
        ["TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256", "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"]
    );
    assert_eq!(ch.ja4.as_deref(), Some("t13d0411h2_16476d049b0b_78f1d400d464"));
    let sh = ev[1];
    assert_eq!(sh.kind, "server_hello");
    assert_eq!(sh.version.as_deref(), Some("TLS 1.3"));
    assert_eq!(sh.cipher_suite.as_deref(), Some("TLS_AES_256_GCM_SHA384"));
    assert_eq!(sh.alpn, None);
    assert_eq!(sh.ja4s.as_deref(), Some("t130200_1302_a56c5b993250"));
    assert_eq!(ev.last().unwrap().kind, "session_end");
    all_splits_equal(&s);

    let s = load_hex(include_str!("tls12_loopback.hex"));
    let out = run(&s, &one_shot);
    assert_eq!(anomaly_kinds(&out), Vec::<&str>::new());
    let ev = tls_events(&out);
    assert_eq!(ev[0].sni.as_deref(), Some("pump7.ward3.test"));
    assert_eq!(ev[0].client_versions, ["TLS 1.2"]);
    assert_eq!(ev[0].ja4.as_deref(), Some("t12d0208h1_6a7d5ebe9983_e7e480e5a997"));
    assert_eq!(ev[1].version.as_deref(), Some("TLS 1.2"));
    assert_eq!(ev[1].cipher_suite.as_deref(), Some("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"));
    assert_eq!(ev[1].alpn.as_deref(), Some("http/1.1"));
    assert_eq!(ev[1].extensions, [65281, 11, 35, 16, 23]);
    assert_eq!(ev[1].ja4s.as_deref(), Some("t1205h1_c02c_1ece00aee4e9"));
    assert_eq!(ev.iter().map(|e| e.kind).collect::<Vec<_>>(), ["client_hello", "server_hello", "session_end"]);
    all_splits_equal(&s);
}
