use std::fmt;

macro_rules! code_table {
    ($(#[$meta:meta])* $ty:ident, $unknown_prefix:literal, $($name:ident = $num:literal => $text:literal),+ $(,)?) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $ty(pub u16);

        impl $ty {
            $(pub const $name: Self = Self($num);)+

            /// The mnemonic, if this number has one.
            #[must_use]
            pub fn mnemonic(self) -> Option<&'static str> {
                match self.0 {
                    $($num => Some($text),)+
                    _ => None,
                }
            }

            /// Parses a mnemonic (any case), the RFC 3597 generic form or a plain number.
            #[must_use]
            pub fn parse(s: &str) -> Option<Self> {
                $(if s.eq_ignore_ascii_case($text) { return Some(Self($num)); })+
                let prefix = $unknown_prefix.len();
                let digits = match (s.get(..prefix), s.get(prefix..)) {
                    (Some(p), Some(rest)) if p.eq_ignore_ascii_case($unknown_prefix) => rest,
                    _ => s,
                };
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                digits.parse().ok().map(Self)
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.mnemonic() {
                    Some(m) => f.pad(m),
                    None => f.pad(&format!(concat!($unknown_prefix, "{}"), self.0)),
                }
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self})", stringify!($ty))
            }
        }
    };
}

code_table! {
    /// A resource record type: an open newtype, so unknown types are kept and printed as
    /// `TYPEnnn` (RFC 3597).
    RrType, "TYPE",
    A = 1 => "A", NS = 2 => "NS", MD = 3 => "MD", MF = 4 => "MF", CNAME = 5 => "CNAME",
    SOA = 6 => "SOA", MB = 7 => "MB", MG = 8 => "MG", MR = 9 => "MR", NULL = 10 => "NULL",
    WKS = 11 => "WKS", PTR = 12 => "PTR", HINFO = 13 => "HINFO", MINFO = 14 => "MINFO",
    MX = 15 => "MX", TXT = 16 => "TXT", RP = 17 => "RP", AFSDB = 18 => "AFSDB",
    X25 = 19 => "X25", ISDN = 20 => "ISDN", RT = 21 => "RT", NSAP = 22 => "NSAP",
    NSAP_PTR = 23 => "NSAP-PTR", SIG = 24 => "SIG", KEY = 25 => "KEY", PX = 26 => "PX",
    GPOS = 27 => "GPOS", AAAA = 28 => "AAAA", LOC = 29 => "LOC", NXT = 30 => "NXT",
    SRV = 33 => "SRV", NAPTR = 35 => "NAPTR", KX = 36 => "KX", CERT = 37 => "CERT",
    A6 = 38 => "A6", DNAME = 39 => "DNAME", OPT = 41 => "OPT", APL = 42 => "APL",
    DS = 43 => "DS", SSHFP = 44 => "SSHFP", IPSECKEY = 45 => "IPSECKEY", RRSIG = 46 => "RRSIG",
    NSEC = 47 => "NSEC", DNSKEY = 48 => "DNSKEY", DHCID = 49 => "DHCID", NSEC3 = 50 => "NSEC3",
    NSEC3PARAM = 51 => "NSEC3PARAM", TLSA = 52 => "TLSA", SMIMEA = 53 => "SMIMEA",
    HIP = 55 => "HIP", CDS = 59 => "CDS", CDNSKEY = 60 => "CDNSKEY",
    OPENPGPKEY = 61 => "OPENPGPKEY", CSYNC = 62 => "CSYNC", ZONEMD = 63 => "ZONEMD",
    SVCB = 64 => "SVCB", HTTPS = 65 => "HTTPS", SPF = 99 => "SPF", NID = 104 => "NID",
    L32 = 105 => "L32", L64 = 106 => "L64", LP = 107 => "LP", EUI48 = 108 => "EUI48",
    EUI64 = 109 => "EUI64", TKEY = 249 => "TKEY", TSIG = 250 => "TSIG", IXFR = 251 => "IXFR",
    AXFR = 252 => "AXFR", ANY = 255 => "ANY", URI = 256 => "URI", CAA = 257 => "CAA",
    AMTRELAY = 260 => "AMTRELAY", TA = 32768 => "TA", DLV = 32769 => "DLV",
}

impl RrType {
    /// The DNSSEC types DNSDB's `ANY-DNSSEC` selects (and plain `ANY` leaves out).
    pub const DNSSEC: [Self; 9] = [
        Self::DS,
        Self::RRSIG,
        Self::NSEC,
        Self::DNSKEY,
        Self::NSEC3,
        Self::NSEC3PARAM,
        Self::DLV,
        Self::CDS,
        Self::CDNSKEY,
    ];

    #[must_use]
    pub fn is_dnssec(self) -> bool {
        Self::DNSSEC.contains(&self)
    }
}

code_table! {
    /// A DNS response code, as kept for negative answers (NXDOMAIN, SERVFAIL, ...).
    Rcode, "RCODE",
    NOERROR = 0 => "NOERROR", FORMERR = 1 => "FORMERR", SERVFAIL = 2 => "SERVFAIL",
    NXDOMAIN = 3 => "NXDOMAIN", NOTIMP = 4 => "NOTIMP", REFUSED = 5 => "REFUSED",
    YXDOMAIN = 6 => "YXDOMAIN", YXRRSET = 7 => "YXRRSET", NXRRSET = 8 => "NXRRSET",
    NOTAUTH = 9 => "NOTAUTH", NOTZONE = 10 => "NOTZONE", DSOTYPENI = 11 => "DSOTYPENI",
    BADVERS = 16 => "BADVERS", BADKEY = 17 => "BADKEY", BADTIME = 18 => "BADTIME",
    BADMODE = 19 => "BADMODE", BADNAME = 20 => "BADNAME", BADALG = 21 => "BADALG",
    BADTRUNC = 22 => "BADTRUNC", BADCOOKIE = 23 => "BADCOOKIE",
}

impl Rcode {
    /// Parses the rcode names passivedns writes in place of an answer (it spells NOTIMP
    /// `NOTIMPL`). Plain numbers are not accepted here: they could be real rdata.
    #[must_use]
    pub fn from_passivedns(s: &str) -> Option<Self> {
        if s == "NOTIMPL" {
            return Some(Self::NOTIMP);
        }
        if s.bytes().all(|b| b.is_ascii_uppercase()) {
            Self::parse(s).filter(|r| r.0 != 0)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print() {
        let cases = [
            ("A", Some(1)),
            ("aaaa", Some(28)),
            ("TYPE65534", Some(65534)),
            ("type1", Some(1)),
            ("1", Some(1)),
            ("NSAP-PTR", Some(23)),
            ("BOGUS", None),
            ("TYPE", None),
            ("TYPE99999", None),
            ("", None),
        ];
        for (s, want) in cases {
            assert_eq!(RrType::parse(s).map(|t| t.0), want, "{s}");
        }
        assert_eq!(RrType(65534).to_string(), "TYPE65534");
        assert_eq!(RrType::HTTPS.to_string(), "HTTPS");
        assert!(RrType::RRSIG.is_dnssec());
        assert_eq!(Rcode::from_passivedns("NXDOMAIN"), Some(Rcode::NXDOMAIN));
        assert_eq!(Rcode::from_passivedns("NOTIMPL"), Some(Rcode::NOTIMP));
        assert_eq!(Rcode::from_passivedns("NOERROR"), None);
        assert_eq!(Rcode::from_passivedns("3"), None);
    }
}
