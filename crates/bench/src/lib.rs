//! Data generators and benchmark scenarios for dnsrecall.

pub mod generator;

pub use generator::{GenConfig, GenStats, LineKind, generate};
pub mod scenarios;
