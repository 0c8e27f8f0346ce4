#![no_main]
// The netid datagram decoders (parsers/src/netid): the first input byte selects the decoder, the rest is
// one frame's payload. Besides "no panic", checks the documented bounds on every event.
use iomt_parsers::netid::{
    self, NameBuf, NetIdEvent, MAX_ADDRS, MAX_LIST, MAX_PRL, MAX_STR, MAX_TXT,
};
use iomt_parsers::AppEvent;

fn check(out: &[AppEvent]) {
    let s = |v: &str| assert!(v.len() <= MAX_STR && !v.chars().any(char::is_control));
    let o = |v: &Option<String>| v.as_deref().map(s);
    for e in out {
        let AppEvent::NetId(e) = e else { continue };
        match e {
            NetIdEvent::Arp(a) => {
                s(&a.sender_mac);
                s(&a.target_mac);
            }
            NetIdEvent::Lldp(l) | NetIdEvent::Cdp(l) => {
                [
                    &l.chassis_id,
                    &l.port_id,
                    &l.system_name,
                    &l.system_description,
                    &l.platform,
                ]
                .into_iter()
                .chain([&l.software_version])
                .for_each(|v| {
                    o(v);
                });
                assert!(l.mgmt_addrs.len() <= MAX_ADDRS);
            }
            NetIdEvent::Dhcp(d) => {
                [&d.hostname, &d.vendor_class, &d.client_id, &d.fqdn]
                    .into_iter()
                    .for_each(|v| {
                        o(v);
                    });
                assert!(d.param_request_list.len() <= MAX_PRL);
            }
            NetIdEvent::Mdns(m) => {
                for l in [&m.services, &m.instances, &m.hostnames, &m.txt] {
                    l.iter().for_each(|v| s(v));
                }
                assert!(m.services.len() <= MAX_LIST && m.addrs.len() <= MAX_LIST);
                assert!(m.txt.len() <= MAX_TXT);
            }
        }
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let mut out = Vec::new();
    match sel % 6 {
        0 => netid::arp(body, &mut out),
        1 => netid::lldp(body, &mut out),
        2 => {
            let _ = netid::looks_like_cdp(body);
            netid::cdp(body, &mut out)
        }
        3 => netid::dhcp(body, &mut out),
        4 => netid::mdns(body, &mut out),
        _ => {
            let mut name = NameBuf::default();
            let start = usize::from(body.first().copied().unwrap_or(0));
            if let Ok(end) = netid::read_name(body, start, &mut name) {
                assert!(end <= body.len() && name.as_bytes().len() <= 255);
            }
        }
    }
    check(&out);
});
