use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::{Name, NameError, RrType};

/// Longest rdata text accepted: the hex of a maximal (65,535 octet) RR plus framing.
pub const MAX_RDATA_LEN: usize = 140_000;

/// Record data in master-file presentation format, canonicalized: addresses in their
/// shortest standard form and names inside the data (targets of CNAME, NS, MX, ...)
/// lowercased without the trailing dot. Free text (TXT, HINFO, ...) keeps its case.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rdata(String);

/// Why a string is not valid rdata for its type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RdataError {
    #[error("empty rdata")]
    Empty,
    #[error("rdata longer than {MAX_RDATA_LEN} characters")]
    TooLong,
    #[error("control character in rdata")]
    ControlCharacter,
    #[error("not an IPv4 address")]
    BadIpv4,
    #[error("not an IPv6 address")]
    BadIpv6,
    #[error("bad name in rdata: {0}")]
    BadName(NameError),
}

/// Where names sit inside the presentation form of a type's rdata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameSlots {
    /// No names (or none worth indexing).
    None,
    /// The whole rdata is one name (CNAME, NS, PTR, DNAME, ...).
    Whole,
    /// The last token is the name (MX, SRV, KX, ...: passivedns writes only that token).
    Last,
    /// The token at this index from the start, when present (SOA mname, SVCB target).
    Nth(usize),
}

impl NameSlots {
    #[must_use]
    pub fn of(rrtype: RrType) -> Self {
        match rrtype {
            RrType::NS
            | RrType::CNAME
            | RrType::PTR
            | RrType::DNAME
            | RrType::MD
            | RrType::MF
            | RrType::MB
            | RrType::MG
            | RrType::MR
            | RrType::NSAP_PTR => Self::Whole,
            RrType::MX | RrType::SRV | RrType::KX | RrType::AFSDB | RrType::RT | RrType::NAPTR => {
                Self::Last
            }
            RrType::SOA | RrType::RP | RrType::NSEC | RrType::MINFO => Self::Nth(0),
            RrType::SVCB | RrType::HTTPS => Self::Nth(1),
            _ => Self::None,
        }
    }
}

impl Rdata {
    /// Canonicalizes presentation-format rdata of the given type.
    ///
    /// # Errors
    /// When the text is empty, too long, holds control characters, or an address or name
    /// in it is invalid.
    pub fn new(rrtype: RrType, input: &str) -> Result<Self, RdataError> {
        let text = input.trim();
        if text.is_empty() {
            return Err(RdataError::Empty);
        }
        if text.len() > MAX_RDATA_LEN {
            return Err(RdataError::TooLong);
        }
        if text.chars().any(char::is_control) {
            return Err(RdataError::ControlCharacter);
        }
        let canonical = match rrtype {
            RrType::A => text
                .parse::<Ipv4Addr>()
                .map_err(|_| RdataError::BadIpv4)?
                .to_string(),
            RrType::AAAA => text
                .parse::<Ipv6Addr>()
                .map_err(|_| RdataError::BadIpv6)?
                .to_string(),
            _ => canonicalize_names(rrtype, text)?,
        };
        Ok(Self(canonical))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps text already known to be canonical (read back from a store).
    #[must_use]
    pub fn from_canonical_unchecked(s: String) -> Self {
        Self(s)
    }

    /// The name this rdata points at, if its type carries one in an indexable place.
    #[must_use]
    pub fn target_name(&self, rrtype: RrType) -> Option<Name> {
        let token = match NameSlots::of(rrtype) {
            NameSlots::None => return None,
            NameSlots::Whole => self.0.as_str(),
            NameSlots::Last => self.0.rsplit(' ').next()?,
            NameSlots::Nth(i) => self.0.split(' ').nth(i)?,
        };
        Name::new(token).ok()
    }

    /// The rdata as passivedns and DNSDB print it: names inside with a trailing dot.
    #[must_use]
    pub fn to_absolute(&self, rrtype: RrType) -> String {
        map_name_token(rrtype, &self.0, |t| {
            if t == "." || t.ends_with('.') {
                t.to_owned()
            } else {
                format!("{t}.")
            }
        })
    }
}

fn canonicalize_names(rrtype: RrType, text: &str) -> Result<String, RdataError> {
    let mut err = None;
    let out = map_name_token(rrtype, text, |t| match Name::new(t) {
        Ok(n) => n.as_str().to_owned(),
        Err(e) => {
            err = Some(RdataError::BadName(e));
            String::new()
        }
    });
    match err {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// Rewrites the name token(s) of `text` with `f`, leaving the rest as it is.
fn map_name_token(rrtype: RrType, text: &str, mut f: impl FnMut(&str) -> String) -> String {
    match NameSlots::of(rrtype) {
        NameSlots::None => text.to_owned(),
        NameSlots::Whole => f(text),
        NameSlots::Last => match text.rsplit_once(' ') {
            Some((head, last)) => format!("{head} {}", f(last)),
            None => f(text),
        },
        NameSlots::Nth(i) => {
            let mut parts: Vec<String> = text.split(' ').map(str::to_owned).collect();
            if let Some(p) = parts.get_mut(i) {
                *p = f(p);
            }
            // SOA and RP carry a second name (rname / txt domain) right after the first.
            if matches!(rrtype, RrType::SOA | RrType::RP | RrType::MINFO)
                && let Some(p) = parts.get_mut(i + 1)
            {
                *p = f(p);
            }
            parts.join(" ")
        }
    }
}

impl fmt::Display for Rdata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Rdata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rdata({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_rdata() {
        let cases: &[(RrType, &str, Result<&str, RdataError>)] = &[
            (RrType::A, "204.51.94.153", Ok("204.51.94.153")),
            (RrType::A, "204.51.94", Err(RdataError::BadIpv4)),
            (RrType::AAAA, "2001:DB8:0:0::1", Ok("2001:db8::1")),
            (
                RrType::CNAME,
                "Upload.PMTPA.wikimedia.org.",
                Ok("upload.pmtpa.wikimedia.org"),
            ),
            (
                RrType::MX,
                "10 Mail.Example.COM.",
                Ok("10 mail.example.com"),
            ),
            (
                RrType::MX,
                "alt2.aspmx.l.google.com.",
                Ok("alt2.aspmx.l.google.com"),
            ),
            (RrType::SRV, "0 5 5060 SIP.x.org.", Ok("0 5 5060 sip.x.org")),
            (
                RrType::SOA,
                "NS1.x.de. Host.x.de. 1 2 3 4 5",
                Ok("ns1.x.de host.x.de 1 2 3 4 5"),
            ),
            (RrType::TXT, "\"Hello World\"", Ok("\"Hello World\"")),
            (RrType::TXT, "a\u{1}b", Err(RdataError::ControlCharacter)),
            (RrType::HTTPS, "1 . alpn=h2", Ok("1 . alpn=h2")),
            (RrType::NS, "", Err(RdataError::Empty)),
        ];
        for (t, input, want) in cases {
            let got = Rdata::new(*t, input).map(|r| r.as_str().to_owned());
            assert_eq!(got, want.clone().map(str::to_owned), "{t} {input:?}");
        }
    }

    #[test]
    fn targets_and_absolute_form() {
        let mx = Rdata::new(RrType::MX, "10 mail.example.com").unwrap();
        assert_eq!(
            mx.target_name(RrType::MX).unwrap().as_str(),
            "mail.example.com"
        );
        assert_eq!(mx.to_absolute(RrType::MX), "10 mail.example.com.");
        let cname = Rdata::new(RrType::CNAME, "a.example.").unwrap();
        assert_eq!(cname.to_absolute(RrType::CNAME), "a.example.");
        let a = Rdata::new(RrType::A, "1.2.3.4").unwrap();
        assert_eq!(a.target_name(RrType::A), None);
        assert_eq!(a.to_absolute(RrType::A), "1.2.3.4");
    }
}
