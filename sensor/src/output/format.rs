//! Syslog message formats (`--syslog-format`): RFC 5424 with the alert as structured data, CEF
//! (ArcSight), LEEF 2.0 (QRadar) and JSON (the EVE alert line). Every format travels inside an RFC 5424
//! header (`<PRI>1 TIMESTAMP HOST iomt-sensor PROCID MSGID`), so any RFC 5424 receiver parses the header
//! and hands the body (CEF, LEEF, JSON) to its parser.

use crate::record::rfc3339;
use iomt_models::Alert;
use std::fmt::Write;

/// Private enterprise number used in the structured-data ID `iomt@32473` (RFC 5612's documentation PEN).
pub const SD_ID: &str = "iomt@32473";
pub const APP_NAME: &str = "iomt-sensor";
const VENDOR: &str = "iomt";
const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Rfc5424,
    Cef,
    Leef,
    Json,
}

impl Format {
    pub fn parse(s: &str) -> Result<Format, String> {
        match s {
            "rfc5424" => Ok(Format::Rfc5424),
            "cef" => Ok(Format::Cef),
            "leef" => Ok(Format::Leef),
            "json" => Ok(Format::Json),
            _ => Err(format!(
                "unknown syslog format {s:?} (known: rfc5424, cef, leef, json)"
            )),
        }
    }
}

/// Alert severity (1–10) to syslog severity (0 emergency … 7 debug), index = alert severity - 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeverityMap(pub [u8; 10]);

impl Default for SeverityMap {
    /// 1–2 informational, 3–4 notice, 5–6 warning, 7–8 error, 9–10 critical.
    fn default() -> Self {
        SeverityMap([6, 6, 5, 5, 4, 4, 3, 3, 2, 2])
    }
}

impl SeverityMap {
    /// Ten comma-separated syslog severities (0–7), for alert severities 1 to 10.
    pub fn parse(s: &str) -> Result<SeverityMap, String> {
        let v: Vec<&str> = s.split(',').map(str::trim).collect();
        if v.len() != 10 {
            return Err(format!(
                "expected 10 comma-separated syslog severities (0-7) for alert severities 1..10, got {}",
                v.len()
            ));
        }
        let mut m = [0u8; 10];
        for (slot, x) in m.iter_mut().zip(v) {
            *slot = match x.parse::<u8>() {
                Ok(n) if n <= 7 => n,
                _ => return Err(format!("{x:?} is not a syslog severity (0-7)")),
            };
        }
        Ok(SeverityMap(m))
    }

    pub fn map(&self, alert_severity: u8) -> u8 {
        let i = usize::from(alert_severity.clamp(1, 10)).saturating_sub(1);
        self.0.get(i).copied().unwrap_or(4)
    }
}

/// Syslog facility by name (`local0`…`local7`, `user`, `daemon`, `auth`, `security`, …) or number 0–23.
pub fn parse_facility(s: &str) -> Result<u8, String> {
    const NAMES: [&str; 24] = [
        "kern",
        "user",
        "mail",
        "daemon",
        "auth",
        "syslog",
        "lpr",
        "news",
        "uucp",
        "cron",
        "authpriv",
        "ftp",
        "ntp",
        "security",
        "console",
        "solaris-cron",
        "local0",
        "local1",
        "local2",
        "local3",
        "local4",
        "local5",
        "local6",
        "local7",
    ];
    if let Some(i) = NAMES.iter().position(|n| *n == s) {
        return u8::try_from(i).map_err(|e| e.to_string());
    }
    match s.parse::<u8>() {
        Ok(n) if n <= 23 => Ok(n),
        _ => Err(format!(
            "unknown syslog facility {s:?} (a name such as local0 or daemon, or 0-23)"
        )),
    }
}

/// What a formatter needs besides the alert.
#[derive(Debug, Clone)]
pub struct Header {
    pub facility: u8,
    pub severity: SeverityMap,
    pub hostname: String,
    pub procid: String,
}

impl Header {
    pub fn local(facility: u8, severity: SeverityMap) -> Header {
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "-".into());
        Header {
            facility,
            severity,
            hostname: header_field(&hostname, 255),
            procid: std::process::id().to_string(),
        }
    }
}

/// A header field: printable US-ASCII without spaces, at most `max` characters, `-` when empty.
fn header_field(s: &str, max: usize) -> String {
    let v: String = s
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if v.is_empty() {
        "-".into()
    } else {
        v
    }
}

/// RFC 5424 PARAM-VALUE escaping: `"`, `\` and `]` get a backslash.
pub fn sd_escape(s: &str, out: &mut String) {
    for c in s.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
}

/// CEF header field escaping: `\` and `|`; line breaks become spaces.
pub fn cef_header_escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '\\' | '|' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
}

/// CEF extension value escaping: `\`, `=` and line breaks (`\n`, `\r`).
pub fn cef_ext_escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '\\' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

/// LEEF header fields: `|` and `\` escaped with a backslash; LEEF attribute values: the tab delimiter
/// and line breaks become spaces (LEEF has no escape for the delimiter).
fn leef_header_escape(s: &str, out: &mut String) {
    cef_header_escape(s, out)
}

fn leef_value(s: &str, out: &mut String) {
    for c in s.chars() {
        out.push(if matches!(c, '\t' | '\r' | '\n') {
            ' '
        } else {
            c
        });
    }
}

/// The alert's fields as (key, value) pairs, in a fixed order (absent optional fields are left out).
pub fn alert_fields(a: &Alert) -> Vec<(&'static str, String)> {
    let mut v = vec![
        ("id", a.id.clone()),
        ("kind", a.kind.clone()),
        ("severity", a.severity.to_string()),
        ("device_ip", a.device_ip.to_string()),
    ];
    if let Some(p) = a.peer_ip {
        v.push(("peer_ip", p.to_string()));
    }
    if let Some(p) = &a.protocol {
        v.push(("protocol", p.clone()));
    }
    v.push(("expected", a.evidence.expected.clone()));
    v.push(("seen", a.evidence.seen.clone()));
    v.push(("count", a.count.to_string()));
    v
}

/// One syslog message (no framing, no trailing newline). `eve_line` is the alert's EVE JSON line
/// (used by the JSON format).
pub fn format(fmt: Format, h: &Header, a: &Alert, eve_line: &str) -> String {
    let mut m = String::with_capacity(512);
    let pri = u16::from(h.facility)
        .saturating_mul(8)
        .saturating_add(u16::from(h.severity.map(a.severity)));
    let _ = write!(
        m,
        "<{pri}>1 {} {} {APP_NAME} {} {} ",
        rfc3339(a.ts),
        h.hostname,
        h.procid,
        header_field(&a.kind, 32)
    );
    match fmt {
        Fmt::Rfc5424 => {
            m.push('[');
            m.push_str(SD_ID);
            for (k, v) in alert_fields(a) {
                let _ = write!(m, " {k}=\"");
                sd_escape(&v, &mut m);
                m.push('"');
            }
            m.push_str("] ");
            m.push_str(&one_line(&a.summary));
        }
        Fmt::Cef => {
            m.push_str("- ");
            m.push_str("CEF:0|");
            for f in [VENDOR, APP_NAME, VERSION, &a.kind, &one_line(&a.summary)] {
                cef_header_escape(f, &mut m);
                m.push('|');
            }
            let _ = write!(m, "{}|", a.severity.min(10));
            let ms = a.ts.0 / 1_000_000;
            let mut ext: Vec<(&str, String)> = vec![
                ("rt", ms.to_string()),
                ("externalId", a.id.clone()),
                ("dst", a.device_ip.to_string()),
            ];
            if let Some(p) = a.peer_ip {
                ext.push(("src", p.to_string()));
            }
            if let Some(p) = &a.protocol {
                ext.push(("app", p.clone()));
            }
            ext.push(("cnt", a.count.to_string()));
            ext.push(("cs1Label", "expected".into()));
            ext.push(("cs1", a.evidence.expected.clone()));
            ext.push(("cs2Label", "seen".into()));
            ext.push(("cs2", a.evidence.seen.clone()));
            ext.push(("msg", a.summary.clone()));
            for (i, (k, v)) in ext.iter().enumerate() {
                if i > 0 {
                    m.push(' ');
                }
                m.push_str(k);
                m.push('=');
                cef_ext_escape(v, &mut m);
            }
        }
        Fmt::Leef => {
            m.push_str("- ");
            m.push_str("LEEF:2.0|");
            for f in [VENDOR, APP_NAME, VERSION, &a.kind] {
                leef_header_escape(f, &mut m);
                m.push('|');
            }
            m.push_str("x09|");
            let mut attrs: Vec<(&str, String)> = vec![
                ("devTime", leef_time(a)),
                ("cat", a.kind.clone()),
                ("sev", a.severity.to_string()),
                ("externalId", a.id.clone()),
                ("dst", a.device_ip.to_string()),
            ];
            if let Some(p) = a.peer_ip {
                attrs.push(("src", p.to_string()));
            }
            if let Some(p) = &a.protocol {
                attrs.push(("app", p.clone()));
            }
            attrs.push(("count", a.count.to_string()));
            attrs.push(("expected", a.evidence.expected.clone()));
            attrs.push(("seen", a.evidence.seen.clone()));
            attrs.push(("summary", a.summary.clone()));
            for (i, (k, v)) in attrs.iter().enumerate() {
                if i > 0 {
                    m.push('\t');
                }
                m.push_str(k);
                m.push('=');
                leef_value(v, &mut m);
            }
        }
        Fmt::Json => {
            m.push_str("- ");
            m.push_str(eve_line.trim_end());
        }
    }
    m
}

use Format as Fmt;

/// LEEF's default `devTime` format, `MMM dd yyyy HH:mm:ss.SSS zzz`, in UTC.
fn leef_time(a: &Alert) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = rfc3339(a.ts); // 2026-11-23T17:30:51.123456Z
    let month = t
        .get(5..7)
        .and_then(|m| m.parse::<usize>().ok())
        .and_then(|m| MONTHS.get(m.saturating_sub(1)))
        .copied()
        .unwrap_or("Jan");
    format!(
        "{month} {} {} {} UTC",
        t.get(8..10).unwrap_or("01"),
        t.get(0..4).unwrap_or("1970"),
        t.get(11..23).unwrap_or("00:00:00.000")
    )
}

fn one_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use iomt_models::Evidence;
    use iomt_parsers::Ts;

    fn alert() -> Alert {
        Alert {
            id: "00ab".into(),
            ts: Ts(1_795_455_051_123_456_000),
            kind: "dicom_bulk_query".into(),
            severity: 7,
            device_ip: "10.0.0.5".parse().unwrap(),
            peer_ip: Some("10.0.0.9".parse().unwrap()),
            protocol: Some("dicom".into()),
            summary: "a|b\\c=d\ne".into(),
            evidence: Evidence {
                expected: "x\"y]z\\".into(),
                seen: "p=q|r".into(),
            },
            count: 3,
        }
    }

    fn hdr() -> Header {
        Header {
            facility: 16,
            severity: SeverityMap::default(),
            hostname: "sensor1".into(),
            procid: "42".into(),
        }
    }

    #[test]
    fn rfc5424_escapes_sd_values() {
        let m = format(Format::Rfc5424, &hdr(), &alert(), "");
        // local0 (16) * 8 + error (3) = 131
        assert!(m.starts_with(
            "<131>1 2026-11-23T17:30:51.123456Z sensor1 iomt-sensor 42 dicom_bulk_query [iomt@32473 id=\"00ab\""
        ), "{m}");
        assert!(
            m.contains(" expected=\"x\\\"y\\]z\\\\\" seen=\"p=q|r\""),
            "{m}"
        );
        assert!(m.ends_with("] a|b\\c=d e"), "{m}");
    }

    #[test]
    fn cef_escapes_header_and_extension() {
        let m = format(Format::Cef, &hdr(), &alert(), "");
        assert!(m.contains("CEF:0|iomt|iomt-sensor|"), "{m}");
        assert!(
            m.contains("|dicom_bulk_query|a\\|b\\\\c=d e|7|rt=1795455051123 "),
            "{m}"
        );
        assert!(m.contains(" cs2=p\\=q|r "), "{m}");
        assert!(m.ends_with(" msg=a|b\\\\c\\=d\\ne"), "{m}");
    }

    #[test]
    fn leef_is_tab_delimited() {
        let m = format(Format::Leef, &hdr(), &alert(), "");
        assert!(m.contains("LEEF:2.0|iomt|iomt-sensor|"), "{m}");
        assert!(m.contains("|dicom_bulk_query|x09|devTime=Nov 23 2026 17:30:51.123 UTC\tcat=dicom_bulk_query\t"), "{m}");
        assert!(m.ends_with("\tsummary=a|b\\c=d e"), "{m}");
    }

    #[test]
    fn severity_map_and_facility() {
        let s = SeverityMap::default();
        assert_eq!(
            (s.map(1), s.map(5), s.map(10), s.map(0), s.map(99)),
            (6, 4, 2, 6, 2)
        );
        assert!(SeverityMap::parse("1,2,3").is_err());
        assert_eq!(SeverityMap::parse("7,7,7,7,7,0,0,0,0,0").unwrap().map(6), 0);
        assert_eq!(parse_facility("local4"), Ok(20));
        assert_eq!(parse_facility("3"), Ok(3));
        assert!(parse_facility("nope").is_err());
    }
}
