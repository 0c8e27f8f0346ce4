//! Helpers shared by the parsers' tests.

/// Cuts `b` into pieces whose lengths cycle through `cuts` (the last piece may be shorter).
pub(crate) fn split_by(cuts: &[usize], b: &[u8]) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    let mut rest = b;
    let mut k = 0;
    while !rest.is_empty() {
        let n = cuts[k % cuts.len()].min(rest.len());
        v.push(rest[..n].to_vec());
        rest = &rest[n..];
        k += 1;
    }
    v
}
