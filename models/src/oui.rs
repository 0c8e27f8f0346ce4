//! MAC vendor lookup from the IEEE OUI registry (MA-L assignments).
//!
//! Reads Debian's `ieee-data` package (`/usr/share/ieee-data/oui.csv`, or the file named by
//! `IOMT_OUI_CSV`) once, on first use; machines without it fall back to a small built-in table of
//! medical-device and common infrastructure vendors.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Built-in fallback (MA-L prefix, organisation), from the IEEE registry.
const FALLBACK: &[([u8; 3], &str)] = &[
    ([0x44, 0x4B, 0x5D], "GE Healthcare"),
    ([0x00, 0x09, 0x5C], "Philips Medical Systems"),
    ([0x00, 0x10, 0x5D], "Draeger Medical"),
    ([0x00, 0xA0, 0x37], "Mindray DS USA, Inc."),
    ([0x00, 0xA0, 0x9A], "NIHON KOHDEN AMERICA"),
    ([0x9C, 0xC8, 0xAE], "Becton, Dickinson and Company"),
    ([0xDC, 0xA6, 0x32], "Raspberry Pi Trading Ltd"),
    ([0x00, 0x1C, 0x14], "VMware, Inc."),
    ([0x00, 0x50, 0x56], "VMware, Inc."),
    ([0x52, 0x54, 0x00], "QEMU virtual NIC"),
];

static TABLE: OnceLock<HashMap<[u8; 3], String>> = OnceLock::new();

fn load() -> HashMap<[u8; 3], String> {
    let path = std::env::var("IOMT_OUI_CSV")
        .unwrap_or_else(|_| "/usr/share/ieee-data/oui.csv".to_string());
    let mut map = HashMap::new();
    if let Ok(text) = std::fs::read_to_string(&path) {
        for line in text.lines().skip(1) {
            let fields = csv_fields(line, 3);
            if let (Some(hex), Some(org)) = (fields.get(1), fields.get(2)) {
                if let Some(p) = parse_prefix(hex) {
                    map.insert(p, org.trim().to_string());
                }
            }
        }
    }
    if map.is_empty() {
        for (p, org) in FALLBACK {
            map.insert(*p, (*org).to_string());
        }
    }
    map
}

/// The first `n` fields of a CSV line (RFC 4180 quoting).
fn csv_fields(line: &str, n: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(n);
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(std::mem::take(&mut cur));
                if out.len() == n {
                    return out;
                }
            }
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn parse_prefix(hex: &str) -> Option<[u8; 3]> {
    let hex = hex.trim();
    if hex.len() != 6 {
        return None;
    }
    let mut p = [0u8; 3];
    for (i, b) in p.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(p)
}

/// The registered organisation of a MAC's OUI; `None` for locally administered or unknown MACs.
pub fn vendor(mac: [u8; 6]) -> Option<&'static str> {
    if mac[0] & 0x02 != 0 {
        return None; // locally administered: no OUI
    }
    let t = TABLE.get_or_init(load);
    t.get(&[mac[0], mac[1], mac[2]]).map(String::as_str)
}

/// `aa:bb:cc:dd:ee:ff`.
pub fn mac_string(m: [u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quoting() {
        let f = csv_fields(r#"MA-L,00E004,"PMC-SIERRA, INC.","addr""#, 3);
        assert_eq!(f, vec!["MA-L", "00E004", "PMC-SIERRA, INC."]);
    }

    #[test]
    fn known_vendor_and_local_mac() {
        assert_eq!(
            vendor([0x00, 0x10, 0x5D, 1, 2, 3]).map(|v| v.contains("Draeger")),
            Some(true)
        );
        assert_eq!(vendor([0x0E, 0x20, 1, 2, 3, 4]), None);
        assert_eq!(mac_string([0, 1, 2, 0xab, 4, 5]), "00:01:02:ab:04:05");
    }
}
