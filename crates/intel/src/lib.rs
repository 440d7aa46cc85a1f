//! Threat intel for dnsrecall: IOC feeds (MISP, RPZ, lists), the matcher, retro-hunts
//! over the store, live alerts and reports.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod alerts;
pub mod detect;
pub mod feeds;
pub mod hunt;
pub mod ioc;
pub mod list;
pub mod matcher;
pub mod misp;
pub mod report;
pub mod rpz;

pub use detect::detect;
pub use ioc::{BadEntry, FeedFormat, Ioc, IocMeta, Parsed, Target};
pub use list::parse_list;
pub use misp::{FeedEvent, parse_manifest};
pub use rpz::parse_rpz;

/// Why a whole feed document could not be read (single bad entries go to
/// [`Parsed::bad`] instead).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// Not JSON where JSON was expected.
    #[error("not JSON at {place}: {reason}")]
    Json { place: String, reason: String },
    /// Readable, but not the expected shape (no attribute list, no CSV `type` column ...).
    #[error("unexpected document shape at {place}: {reason}")]
    Shape { place: String, reason: String },
    /// A MISP feed manifest lists events; its indicators are in the event files.
    #[error(
        "a MISP feed manifest holds no indicators: load the feed with the feed loader \
         (manifest.json plus one UUID.json per event), or parse each event file as misp-event"
    )]
    FeedManifest,
}

/// Parses one feed document. `origin` is the RPZ zone name when the file has no
/// `$ORIGIN`, and for the other formats the source name put in `meta.event` of list
/// entries (MISP formats name their events themselves).
///
/// # Errors
/// When the whole document cannot be read; see [`FormatError`]. [`FeedFormat::MispFeed`]
/// always fails: the manifest is read with [`parse_manifest`] and each event file with
/// [`FeedFormat::MispEvent`].
pub fn parse(format: FeedFormat, text: &str, origin: Option<&str>) -> Result<Parsed, FormatError> {
    match format {
        FeedFormat::MispAttributes => misp::parse_attributes(text),
        FeedFormat::MispEvent => misp::parse_events(text),
        FeedFormat::MispFeed => Err(FormatError::FeedManifest),
        FeedFormat::MispCsv => misp::parse_csv(text),
        FeedFormat::MispText => Ok(misp::parse_text(text, origin)),
        FeedFormat::Rpz => rpz::parse_rpz(text, origin),
        FeedFormat::List => Ok(list::parse_list(text, origin)),
    }
}
