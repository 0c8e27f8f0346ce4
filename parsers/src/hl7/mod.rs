//! Placeholder: the hl7 decoder lands in its own issue. Until then it recognises nothing.

use crate::{AppEvent, Direction, Probe, Progress, Protocol, StreamParser, Ts};
use serde::Serialize;

/// The EVE `hl7` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hl7Event {}

pub fn probe(_dir: Direction, _data: &[u8]) -> Probe {
    Probe::No
}

#[derive(Debug, Default)]
pub struct Hl7Parser {}

impl Hl7Parser {
    pub fn new() -> Self {
        Self::default()
    }
}

impl StreamParser for Hl7Parser {
    fn protocol(&self) -> Protocol {
        Protocol::Hl7
    }
    fn feed(
        &mut self,
        _dir: Direction,
        _data: &[u8],
        _ts: Ts,
        _out: &mut Vec<AppEvent>,
    ) -> Progress {
        Progress::Done
    }
    fn gap(&mut self, _dir: Direction, _len: u64, _ts: Ts, _out: &mut Vec<AppEvent>) -> Progress {
        Progress::Done
    }
    fn end(&mut self, _ts: Ts, _out: &mut Vec<AppEvent>) {}
}
