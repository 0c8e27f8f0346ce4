//! The sensor: capture, L2–L4 decode, flows, TCP reassembly, pipeline, outputs.
