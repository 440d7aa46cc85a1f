//! Data generators and benchmark scenarios for dnsrecall.

pub mod clickhouse;
pub mod dnstap;
pub mod generator;
pub mod intel;

pub use generator::{GenConfig, GenStats, LineKind, generate};
pub mod pcapgen;
pub use pcapgen::{PcapGenConfig, PcapGenStats, generate_pcap};
pub mod scenarios;
pub mod serve;
