//! The sensor: capture, L2–L4 decode, flows, TCP reassembly, pipeline, outputs.
//!
//! Data flows one way (ARCHITECTURE.md): [`capture`] yields frames, [`decode`] slices L2–L4,
//! [`flow`] keeps the bidirectional flow table, [`stream`] reassembles each TCP direction, [`app`]
//! hands the bytes to the protocol parsers of `iomt-parsers`, and [`engine`] ties them together into
//! [`record::Record`]s that the [`pipeline`] delivers to outputs.

#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]
#![cfg_attr(
    test,
    allow(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

pub mod app;
pub mod capture;
pub mod checksum;
pub mod cli;
pub mod cmd_eval;
pub mod cmd_inventory;
pub mod config;
pub mod decode;
pub mod engine;
pub mod eve;
pub mod flow;
pub mod modelsink;
pub mod output;
pub mod pipeline;
pub mod record;
pub mod run;
pub mod stats;
pub mod stream;
