//! Indicators of compromise as every feed format turns into them.

use std::net::IpAddr;

use dnsrecall_model::Name;
use serde::{Deserialize, Serialize};

/// What an indicator matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// A domain: the name and (unless `exact`) its subdomains, as query names and as
    /// names inside answers (CNAME, NS, MX ... targets).
    Domain { name: Name, exact: bool },
    /// Addresses `lo..=hi` (one address, a CIDR prefix or a range; one family), matched
    /// against A and AAAA answers.
    Addresses { lo: IpAddr, hi: IpAddr },
    /// RPZ `rpz-nsdname`: a name server name (and subdomains unless `exact`), matched
    /// against NS answers' targets.
    NsName { name: Name, exact: bool },
    /// RPZ `rpz-nsip`: name server addresses, matched against A/AAAA answers of names that
    /// are NS targets (approximated: A/AAAA answers of any name).
    NsAddresses { lo: IpAddr, hi: IpAddr },
}

/// Where an indicator came from and what its source says about it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IocMeta {
    /// MISP event id (or uuid when there is no id), RPZ zone origin, list file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// MISP event title (`info`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_info: Option<String>,
    /// MISP attribute category ("Network activity", ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// MISP attribute type (`domain`, `ip-dst`, `url`, ...), RPZ trigger kind, `list`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_type: Option<String>,
    /// MISP `to_ids`.
    #[serde(default)]
    pub to_ids: bool,
    /// MISP tags (attribute and event), RPZ nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Epoch seconds: MISP attribute timestamp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    /// RPZ action (NXDOMAIN, NODATA, PASSTHRU, DROP, TCP-ONLY, local data, CNAME target).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// The value as the feed wrote it (a URL, `domain|ip`, an RPZ owner name ...).
    pub original: String,
    /// Where in the source: `line 12`, `Attribute[3]`, `Object[2].Attribute[0]`.
    pub place: String,
}

/// One indicator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ioc {
    pub target: Target,
    pub meta: IocMeta,
}

/// An entry a feed holds that could not be used, with its place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadEntry {
    pub place: String,
    pub reason: String,
}

/// What parsing one feed source gave.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parsed {
    pub iocs: Vec<Ioc>,
    /// Entries that were wrong (counted and reported; the rest is used).
    pub bad: Vec<BadEntry>,
    /// Entries of kinds that do not concern DNS (hashes, file names ...), counted only.
    pub ignored: u64,
}

/// Feed formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeedFormat {
    /// `/attributes/restSearch` JSON: `{"response":{"Attribute":[...]}}`.
    MispAttributes,
    /// One MISP event (`{"Event":{...}}`), or a list of them (`/events/restSearch`).
    MispEvent,
    /// A MISP feed: a directory or URL with `manifest.json` and one `UUID.json` per event.
    MispFeed,
    /// MISP CSV export (`uuid,event_id,category,type,value,...` header).
    MispCsv,
    /// MISP text export: one value per line.
    MispText,
    /// An RPZ zone file.
    Rpz,
    /// One domain, address or prefix per line; hosts-file lines; `#` comments.
    List,
}

impl FeedFormat {
    pub const ALL: [Self; 7] = [
        Self::MispAttributes,
        Self::MispEvent,
        Self::MispFeed,
        Self::MispCsv,
        Self::MispText,
        Self::Rpz,
        Self::List,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MispAttributes => "misp-attributes",
            Self::MispEvent => "misp-event",
            Self::MispFeed => "misp-feed",
            Self::MispCsv => "misp-csv",
            Self::MispText => "misp-text",
            Self::Rpz => "rpz",
            Self::List => "list",
        }
    }
}

impl std::fmt::Display for FeedFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for FeedFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown feed format {s:?}: expected one of {}",
                    Self::ALL.map(Self::as_str).join(", ")
                )
            })
    }
}
