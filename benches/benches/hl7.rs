//! The hl7 parser alone: a realistic MLLP conversation of device results (ORU^R01 with 12 OBX each,
//! IHE PCD-01 style) and admissions (ADT^A01 with PID/NK1/PV1), each acknowledged by the other side,
//! fed message by message in alternating directions. Reported as bytes/s and as messages/s (ACKs
//! counted as messages).
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use iomt_parsers::hl7::Hl7Parser;
use iomt_parsers::{Direction, StreamParser, Ts};

fn framed(m: &str) -> Vec<u8> {
    let mut v = vec![0x0b];
    v.extend_from_slice(m.as_bytes());
    v.extend_from_slice(&[0x1c, 0x0d]);
    v
}

fn oru(i: usize) -> String {
    let mut m = format!(
        "MSH|^~\\&|PAT_MON^ACDE48234567ABCD^EUI-64|ICU|DOC|HOSP|20240315101500+0100||ORU^R01^ORU_R01|PCD{i:06}|P|2.6|||NE|AL||UNICODE UTF-8|||IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO\r\
PID|||PT{i:06}^^^HOSP^MR||SYNTHLAST^SYNTHFIRST^^^^^L||19700101|F\r\
PV1||I|ICU^BED{}\r\
OBR|1|PCD{i:06}^PAT_MON|PCD{i:06}^PAT_MON|182777000^monitoring of patient^SCT|||20240315101500\r",
        i % 20
    );
    let codes = [
        (
            "150456",
            "MDC_PULS_OXIM_SAT_O2",
            "262688^MDC_DIM_PERCENT^MDC",
        ),
        (
            "147842",
            "MDC_ECG_HEART_RATE",
            "264864^MDC_DIM_BEAT_PER_MIN^MDC",
        ),
        (
            "150021",
            "MDC_PRESS_BLD_NONINV_SYS",
            "266016^MDC_DIM_MMHG^MDC",
        ),
        (
            "150022",
            "MDC_PRESS_BLD_NONINV_DIA",
            "266016^MDC_DIM_MMHG^MDC",
        ),
        ("151562", "MDC_RESP_RATE", "264928^MDC_DIM_RESP_PER_MIN^MDC"),
        ("150344", "MDC_TEMP", "268192^MDC_DIM_DEGC^MDC"),
    ];
    for k in 0..12 {
        let (code, name, unit) = codes[k % codes.len()];
        m.push_str(&format!(
            "OBX|{}|NM|{code}^{name}^MDC|1.1.1.{k}|{}|{unit}|||||R|||20240315101500+0100||||ACDE48234567ABCD^^ACDE48234567ABCD^EUI-64\r",
            k + 1,
            60 + (i + k) % 40
        ));
    }
    m
}

fn adt(i: usize) -> String {
    format!(
        "MSH|^~\\&|ADT1|GOOD HEALTH HOSPITAL|GHH LAB, INC.|GOOD HEALTH HOSPITAL|20240315101500||ADT^A01^ADT_A01|ADT{i:06}|P|2.5\r\
EVN|A01|20240315101500\r\
PID|1||PATID{i:06}^^^GOOD HEALTH HOSPITAL^MR||SYNTHLAST^SYNTHFIRST^A^III||19610615|M||C|2222 HOME STREET^^GREENSBORO^NC^27401-1020|GL|(555) 555-2004\r\
NK1|1|SYNTHKIN^NELDA^W|SPO^SPOUSE||||NK^NEXT OF KIN\r\
PV1|1|I|2000^2012^01||||004777^ATTEND^AARON^A|||SUR||||ADM|A0\r"
    )
}

fn ack(i: usize, id: &str, trigger: &str) -> String {
    format!(
        "MSH|^~\\&|DOC|HOSP|PAT_MON|ICU|20240315101501||ACK^{trigger}^ACK|ACK{i:06}|P|2.6\rMSA|AA|{id}\r"
    )
}

/// (direction, framed bytes) in conversation order.
fn conversation(n: usize) -> Vec<(Direction, Vec<u8>)> {
    let mut v = Vec::new();
    for i in 0..n {
        if i % 10 == 9 {
            v.push((Direction::ToServer, framed(&adt(i))));
            v.push((
                Direction::ToClient,
                framed(&ack(i, &format!("ADT{i:06}"), "A01")),
            ));
        } else {
            v.push((Direction::ToServer, framed(&oru(i))));
            v.push((
                Direction::ToClient,
                framed(&ack(i, &format!("PCD{i:06}"), "R01")),
            ));
        }
    }
    v
}

fn run(conv: &[(Direction, Vec<u8>)], out: &mut Vec<iomt_parsers::AppEvent>) -> usize {
    let mut p = Hl7Parser::new();
    for (i, (dir, m)) in conv.iter().enumerate() {
        let _ = p.feed(*dir, m, Ts(i as u64 * 1_000_000), out);
    }
    p.end(Ts(u64::MAX / 2), out);
    out.len()
}

fn bench(c: &mut Criterion) {
    let conv = conversation(1000);
    let bytes: usize = conv.iter().map(|(_, m)| m.len()).sum();
    let mut out = Vec::with_capacity(4096);
    // Sanity: every message decoded, every ACK paired.
    assert_eq!(run(&conv, &mut out), conv.len() + 1);
    let mut g = c.benchmark_group("hl7");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("conversation_bytes", |b| {
        b.iter_batched_ref(Vec::new, |out| run(&conv, out), BatchSize::SmallInput)
    });
    g.throughput(Throughput::Elements(conv.len() as u64));
    g.bench_function("conversation_messages", |b| {
        b.iter_batched_ref(Vec::new, |out| run(&conv, out), BatchSize::SmallInput)
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
