//! Record data in master-file presentation format.
//!
//! The `domain` crate parses the record data of the types it knows (and so checks their
//! structure); its `Display` is used where it already writes the master-file form (TXT,
//! HINFO, CAA, DNSKEY, NSEC3, ...). Names, timestamps, digests and SVCB parameters are
//! written here so the text is what a zone file and tshark show: names with a trailing dot
//! and RFC 1035 escapes, RRSIG times as `YYYYMMDDHHMMSS`, digests in lowercase hex. Types
//! `domain` does not know get their own writer (LOC, URI, SPF, AFSDB, RT, KX, EUI48,
//! EUI64) or the RFC 3597 generic form `\# len hex`.
//!
//! Input here is self-contained record data: names inside it were decompressed by
//! [`crate::dns`] before, so nothing refers to the rest of the message.

use std::fmt::Write as _;

use dnsrecall_model::RrType;
use domain::base::iana::Rtype;
use domain::base::name::ParsedName;
use domain::base::rdata::ParseRecordData;
use domain::dep::octseq::parse::Parser;
use domain::rdata::AllRecordData;
use domain::utils::base64;

use crate::link::{array, be16, be32};

type Data<'a> = AllRecordData<&'a [u8], ParsedName<&'a [u8]>>;

/// How rendering went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rendered {
    /// The type's own presentation format (or RFC 3597 for a type without one).
    Typed,
    /// The data did not parse for its type: written in the RFC 3597 form instead.
    Malformed,
}

/// Writes `rdata` of type `rrtype` to `out` (which is cleared first).
pub(crate) fn render_rdata(rrtype: u16, rdata: &[u8], out: &mut String) -> Rendered {
    out.clear();
    if rdata.is_empty() {
        // No type has an empty presentation form (TXT needs one string); tshark and
        // ldns write `\# 0` as well.
        generic(rdata, out);
        return Rendered::Typed;
    }
    let ok = match RrType(rrtype) {
        RrType::SPF => spf(rdata, out),
        RrType::URI => uri(rdata, out),
        RrType::LOC => loc(rdata, out),
        RrType::AFSDB | RrType::RT | RrType::KX => pref_and_name(rdata, out),
        RrType::EUI48 if rdata.len() == 6 => {
            hex_dashed(rdata, out);
            true
        }
        RrType::EUI64 if rdata.len() == 8 => {
            hex_dashed(rdata, out);
            true
        }
        RrType::EUI48 | RrType::EUI64 => false,
        RrType::SVCB | RrType::HTTPS => svcb(rdata, out),
        _ => match with_domain(rrtype, rdata, out) {
            Some(ok) => ok,
            None => {
                generic(rdata, out);
                return Rendered::Typed;
            }
        },
    };
    if ok {
        Rendered::Typed
    } else {
        out.clear();
        generic(rdata, out);
        Rendered::Malformed
    }
}

/// Parses with `domain` and writes the result. `None` when `domain` has no type for it.
fn with_domain(rrtype: u16, rdata: &[u8], out: &mut String) -> Option<bool> {
    let mut parser = Parser::from_ref(rdata);
    let data = match Data::parse_rdata(Rtype::from_int(rrtype), &mut parser) {
        Ok(Some(d)) => d,
        Ok(None) => return None,
        Err(_) => return Some(false),
    };
    if parser.remaining() != 0 {
        return Some(false);
    }
    Some(write_data(&data, out).is_ok())
}

fn write_data(data: &Data<'_>, out: &mut String) -> std::fmt::Result {
    match data {
        AllRecordData::A(a) => write!(out, "{}", a.addr()),
        AllRecordData::Aaaa(a) => write!(out, "{}", a.addr()),
        AllRecordData::Cname(n) => name(n.cname(), out),
        AllRecordData::Ns(n) => name(n.nsdname(), out),
        AllRecordData::Ptr(n) => name(n.ptrdname(), out),
        AllRecordData::Dname(n) => name(n.dname(), out),
        AllRecordData::Mb(n) => name(n.madname(), out),
        AllRecordData::Md(n) => name(n.madname(), out),
        AllRecordData::Mf(n) => name(n.madname(), out),
        AllRecordData::Mg(n) => name(n.madname(), out),
        AllRecordData::Mr(n) => name(n.newname(), out),
        AllRecordData::Mx(mx) => {
            write!(out, "{} ", mx.preference())?;
            name(mx.exchange(), out)
        }
        AllRecordData::Soa(soa) => {
            name(soa.mname(), out)?;
            out.push(' ');
            name(soa.rname(), out)?;
            write!(
                out,
                " {} {} {} {} {}",
                soa.serial(),
                soa.refresh().as_secs(),
                soa.retry().as_secs(),
                soa.expire().as_secs(),
                soa.minimum().as_secs()
            )
        }
        AllRecordData::Minfo(m) => {
            name(m.rmailbx(), out)?;
            out.push(' ');
            name(m.emailbx(), out)
        }
        AllRecordData::Rp(rp) => {
            name(rp.mbox(), out)?;
            out.push(' ');
            name(rp.txt(), out)
        }
        AllRecordData::Srv(srv) => {
            write!(out, "{} {} {} ", srv.priority(), srv.weight(), srv.port())?;
            name(srv.target(), out)
        }
        AllRecordData::Naptr(n) => {
            write!(
                out,
                "{} {} {} {} {} ",
                n.order(),
                n.preference(),
                n.flags().display_quoted(),
                n.services().display_quoted(),
                n.regexp().display_quoted()
            )?;
            name(n.replacement(), out)
        }
        AllRecordData::Txt(t) => write!(out, "{t}"),
        AllRecordData::Hinfo(h) => write!(out, "{h}"),
        AllRecordData::Caa(c) => write!(out, "{c}"),
        AllRecordData::Dnskey(k) => write!(out, "{k}"),
        AllRecordData::Cdnskey(k) => write!(out, "{k}"),
        AllRecordData::Nsec3(n) => write!(out, "{n}"),
        AllRecordData::Nsec3param(n) => write!(out, "{n}"),
        AllRecordData::Ds(ds) => {
            write!(
                out,
                "{} {} {} ",
                ds.key_tag(),
                ds.algorithm().to_int(),
                ds.digest_type().to_int()
            )?;
            hex(ds.digest(), out);
            Ok(())
        }
        AllRecordData::Cds(ds) => {
            write!(
                out,
                "{} {} {} ",
                ds.key_tag(),
                ds.algorithm().to_int(),
                ds.digest_type().to_int()
            )?;
            hex(ds.digest(), out);
            Ok(())
        }
        AllRecordData::Sshfp(s) => {
            write!(
                out,
                "{} {} ",
                s.algorithm().to_int(),
                s.fingerprint_type().to_int()
            )?;
            hex(s.fingerprint(), out);
            Ok(())
        }
        AllRecordData::Tlsa(t) => {
            write!(
                out,
                "{} {} {} ",
                t.usage().to_int(),
                t.selector().to_int(),
                t.matching_type().to_int()
            )?;
            hex(t.data(), out);
            Ok(())
        }
        AllRecordData::Rrsig(sig) => {
            write!(
                out,
                "{} {} {} {} ",
                RrType(sig.type_covered().to_int()),
                sig.algorithm().to_int(),
                sig.labels(),
                sig.original_ttl().as_secs()
            )?;
            timestamp(sig.expiration().into_int(), out);
            out.push(' ');
            timestamp(sig.inception().into_int(), out);
            write!(out, " {} ", sig.key_tag())?;
            name(sig.signer_name(), out)?;
            out.push(' ');
            base64::display(sig.signature(), out)
        }
        AllRecordData::Nsec(nsec) => {
            name(nsec.next_name(), out)?;
            for t in nsec.types().iter() {
                write!(out, " {}", RrType(t.to_int()))?;
            }
            Ok(())
        }
        AllRecordData::Openpgpkey(k) => base64::display(k.key(), out),
        // NULL has no presentation format (RFC 1035 §3.3.10); everything else that
        // `domain` parses but is not listed (ZONEMD, IPSECKEY, ...) is written the RFC
        // 3597 way too, which is always valid.
        _ => Err(std::fmt::Error),
    }
    .or_else(|_| {
        // Unlisted types are not malformed: write the generic form.
        out.clear();
        generic(data_bytes(data).unwrap_or_default(), out);
        Ok(())
    })
}

/// The raw bytes of the variants written in the generic form.
fn data_bytes<'a>(data: &Data<'a>) -> Option<&'a [u8]> {
    match data {
        AllRecordData::Null(n) => Some(n.data()),
        AllRecordData::Unknown(u) => Some(u.data()),
        _ => None,
    }
}

/// Writes a name (from decompressed data) with a trailing dot and RFC 1035 escapes.
fn name(n: &ParsedName<&[u8]>, out: &mut String) -> std::fmt::Result {
    let mut any = false;
    for label in n.iter() {
        if label.is_root() {
            break;
        }
        write_label(label.as_slice(), out);
        out.push('.');
        any = true;
    }
    if !any {
        out.push('.');
    }
    Ok(())
}

/// Writes one label: printable ASCII as it is, `.` and `\` escaped with a backslash,
/// everything else (space, control characters, non-ASCII octets) as `\DDD`.
pub(crate) fn write_label(label: &[u8], out: &mut String) {
    for &b in label {
        match b {
            b'.' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x21..=0x7e => out.push(char::from(b)),
            _ => push_decimal_escape(b, out),
        }
    }
}

fn push_decimal_escape(b: u8, out: &mut String) {
    out.push('\\');
    out.push(char::from(b'0' + b / 100));
    out.push(char::from(b'0' + (b / 10) % 10));
    out.push(char::from(b'0' + b % 10));
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex(bytes: &[u8], out: &mut String) {
    out.reserve(bytes.len() * 2);
    for &b in bytes {
        for nibble in [b >> 4, b & 0xf] {
            out.push(char::from(
                HEX.get(usize::from(nibble)).copied().unwrap_or(b'?'),
            ));
        }
    }
}

fn hex_dashed(bytes: &[u8], out: &mut String) {
    for (i, &b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push('-');
        }
        hex(&[b], out);
    }
}

/// RFC 3597 §5: `\# <length> <hex>` (no hex at all for empty data).
pub(crate) fn generic(rdata: &[u8], out: &mut String) {
    let _ = write!(out, "\\# {}", rdata.len());
    if !rdata.is_empty() {
        out.push(' ');
        hex(rdata, out);
    }
}

/// A quoted character-string with master-file escapes (same rules as `domain`'s TXT).
fn quoted(bytes: &[u8], out: &mut String) {
    out.push('"');
    for &b in bytes {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7e => out.push(char::from(b)),
            _ => push_decimal_escape(b, out),
        }
    }
    out.push('"');
}

/// SPF (RFC 7208) has TXT's format: parsed and written by `domain`'s TXT type.
fn spf(rdata: &[u8], out: &mut String) -> bool {
    with_domain(RrType::TXT.0, rdata, out).unwrap_or_default()
}

/// URI (RFC 7553): priority, weight, and the rest of the data as one quoted string.
fn uri(rdata: &[u8], out: &mut String) -> bool {
    let (Some(prio), Some(weight), Some(target)) = (be16(rdata, 0), be16(rdata, 2), rdata.get(4..))
    else {
        return false;
    };
    if target.is_empty() {
        return false;
    }
    let _ = write!(out, "{prio} {weight} ");
    quoted(target, out);
    true
}

/// AFSDB, RT and KX: a 16-bit number and a name, all uncompressed here.
fn pref_and_name(rdata: &[u8], out: &mut String) -> bool {
    let Some(pref) = be16(rdata, 0) else {
        return false;
    };
    let Some(rest) = rdata.get(2..) else {
        return false;
    };
    let mut parser = Parser::from_ref(rest);
    let Ok(target) = ParsedName::parse(&mut parser) else {
        return false;
    };
    if parser.remaining() != 0 {
        return false;
    }
    let _ = write!(out, "{pref} ");
    name(&target, out).is_ok()
}

/// SVCB and HTTPS (RFC 9460 §2.1): priority, target, then each `key=value`.
fn svcb(rdata: &[u8], out: &mut String) -> bool {
    let Some(prio) = be16(rdata, 0) else {
        return false;
    };
    let Some(rest) = rdata.get(2..) else {
        return false;
    };
    let mut parser = Parser::from_ref(rest);
    let Ok(target) = ParsedName::parse(&mut parser) else {
        return false;
    };
    let _ = write!(out, "{prio} ");
    if name(&target, out).is_err() {
        return false;
    }
    let Some(mut params) = rest.get(parser.pos()..) else {
        return false;
    };
    while !params.is_empty() {
        let (Some(key), Some(len)) = (be16(params, 0), be16(params, 2)) else {
            return false;
        };
        let end = 4 + usize::from(len);
        let Some(value) = params.get(4..end) else {
            return false;
        };
        out.push(' ');
        if !svc_param(key, value, out) {
            return false;
        }
        params = params.get(end..).unwrap_or_default();
    }
    true
}

fn svc_param_name(key: u16, out: &mut String) {
    let known = match key {
        0 => "mandatory",
        1 => "alpn",
        2 => "no-default-alpn",
        3 => "port",
        4 => "ipv4hint",
        5 => "ech",
        6 => "ipv6hint",
        7 => "dohpath",
        8 => "ohttp",
        _ => "",
    };
    if known.is_empty() {
        let _ = write!(out, "key{key}");
    } else {
        out.push_str(known);
    }
}

fn svc_param(key: u16, value: &[u8], out: &mut String) -> bool {
    svc_param_name(key, out);
    match key {
        // mandatory: a list of keys.
        0 => list::<2>(value, out, |k, out| {
            svc_param_name(u16::from_be_bytes(k), out);
        }),
        1 => alpn(value, out),
        // no-default-alpn: no value.
        2 => value.is_empty(),
        3 => match array::<2>(value, 0).filter(|_| value.len() == 2) {
            Some(port) => {
                let _ = write!(out, "={}", u16::from_be_bytes(port));
                true
            }
            None => false,
        },
        4 => list::<4>(value, out, |a, out| {
            let _ = write!(out, "{}", std::net::Ipv4Addr::from(a));
        }),
        5 if !value.is_empty() => {
            out.push('=');
            base64::display(value, out).is_ok()
        }
        6 => list::<16>(value, out, |a, out| {
            let _ = write!(out, "{}", std::net::Ipv6Addr::from(a));
        }),
        5 => false,
        _ => {
            if !value.is_empty() {
                out.push('=');
                quoted(value, out);
            }
            true
        }
    }
}

/// `=item,item,...` from fixed-size items; false when the value is empty or not a
/// whole number of items.
fn list<const N: usize>(
    value: &[u8],
    out: &mut String,
    mut item: impl FnMut([u8; N], &mut String),
) -> bool {
    if value.is_empty() || !value.len().is_multiple_of(N) {
        return false;
    }
    out.push('=');
    for (i, chunk) in value.chunks_exact(N).enumerate() {
        if i > 0 {
            out.push(',');
        }
        if let Ok(a) = <[u8; N]>::try_from(chunk) {
            item(a, out);
        }
    }
    true
}

/// alpn: a comma-separated list of length-prefixed ids; commas and backslashes inside an
/// id are escaped (RFC 9460 Appendix A.1).
fn alpn(value: &[u8], out: &mut String) -> bool {
    out.push('=');
    let mut rest = value;
    let mut first = true;
    while let Some((&len, tail)) = rest.split_first() {
        let Some(id) = tail.get(..usize::from(len)).filter(|id| !id.is_empty()) else {
            return false;
        };
        if !first {
            out.push(',');
        }
        first = false;
        for &b in id {
            match b {
                b',' | b'\\' => {
                    out.push_str("\\\\");
                    out.push(char::from(b));
                }
                b'"' => out.push_str("\\\""),
                0x21..=0x7e => out.push(char::from(b)),
                _ => push_decimal_escape(b, out),
            }
        }
        rest = tail.get(usize::from(len)..).unwrap_or_default();
    }
    !first
}

/// LOC (RFC 1876 §3): `d m s.sss N|S d m s.sss E|W alt size hp vp` with metres.
fn loc(rdata: &[u8], out: &mut String) -> bool {
    let Some([0, size, hp, vp]) = array::<4>(rdata, 0).filter(|_| rdata.len() == 16) else {
        return false;
    };
    let (Some(lat), Some(lon), Some(alt)) = (be32(rdata, 4), be32(rdata, 8), be32(rdata, 12))
    else {
        return false;
    };
    let (Some(size), Some(hp), Some(vp)) = (precision_cm(size), precision_cm(hp), precision_cm(vp))
    else {
        return false;
    };
    coordinate(lat, 'N', 'S', out);
    out.push(' ');
    coordinate(lon, 'E', 'W', out);
    out.push(' ');
    metres(i64::from(alt) - 10_000_000, out);
    for p in [size, hp, vp] {
        out.push(' ');
        metres(p, out);
    }
    true
}

/// A LOC precision byte: mantissa (high nibble) times ten to the exponent, in cm.
fn precision_cm(b: u8) -> Option<i64> {
    let (mantissa, exponent) = (i64::from(b >> 4), u32::from(b & 0xf));
    if mantissa > 9 || exponent > 9 {
        return None;
    }
    Some(mantissa * 10_i64.pow(exponent))
}

fn coordinate(raw: u32, positive: char, negative: char, out: &mut String) {
    let centre = 1_u32 << 31;
    let (hemisphere, ms) = if raw >= centre {
        (positive, raw - centre)
    } else {
        (negative, centre - raw)
    };
    let (deg, rest) = (ms / 3_600_000, ms % 3_600_000);
    let (min, rest) = (rest / 60_000, rest % 60_000);
    let (sec, frac) = (rest / 1000, rest % 1000);
    let _ = write!(out, "{deg} {min} {sec}.{frac:03} {hemisphere}");
}

fn metres(cm: i64, out: &mut String) {
    let sign = if cm < 0 { "-" } else { "" };
    let abs = cm.unsigned_abs();
    let (m, c) = (abs / 100, abs % 100);
    if c == 0 {
        let _ = write!(out, "{sign}{m}m");
    } else {
        let _ = write!(out, "{sign}{m}.{c:02}m");
    }
}

/// An RRSIG time (RFC 4034 §3.2) as `YYYYMMDDHHMMSS` UTC.
fn timestamp(secs: u32, out: &mut String) {
    let days = i64::from(secs / 86_400);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let _ = write!(
        out,
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    );
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(t: RrType, rdata: &[u8]) -> (String, Rendered) {
        let mut s = String::new();
        let r = render_rdata(t.0, rdata, &mut s);
        (s, r)
    }

    #[test]
    fn presentation_formats() {
        let ok = Rendered::Typed;
        let cases: &[(RrType, &[u8], &str, Rendered)] = &[
            (RrType::A, &[192, 0, 2, 1], "192.0.2.1", ok),
            (RrType::A, &[192, 0, 2], "\\# 3 c00002", Rendered::Malformed),
            (RrType::CNAME, b"\x03Www\x07Example\x00", "Www.Example.", ok),
            (RrType::CNAME, b"\x00", ".", ok),
            (RrType::PTR, b"\x04a b\x01\x00", "a\\032b\\001.", ok),
            (RrType::PTR, b"\x03a.b\x00", "a\\.b.", ok),
            (RrType::MX, b"\x00\x0a\x02mx\x00", "10 mx.", ok),
            (
                RrType::SOA,
                b"\x02ns\x00\x02hm\x00\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03\x00\x00\x00\x04\x00\x00\x00\x05",
                "ns. hm. 1 2 3 4 5",
                ok,
            ),
            (RrType::TXT, b"\x02hi\x00\x03a\"b", "\"hi\" \"\" \"a\\\"b\"", ok),
            (RrType::SPF, b"\x06v=spf1", "\"v=spf1\"", ok),
            (RrType::TXT, b"\x05hi", "\\# 3 056869", Rendered::Malformed),
            (RrType(65280), b"\xde\xad", "\\# 2 dead", ok),
            (RrType::NULL, b"\x01\x02", "\\# 2 0102", ok),
            (RrType::MG, b"", "\\# 0", ok),
            (
                RrType::SSHFP,
                b"\x01\x01\xAB\xCD",
                "1 1 abcd",
                ok,
            ),
            (RrType::DS, b"\x33\x22\x08\x02\xAB", "13090 8 2 ab", ok),
            (
                RrType::URI,
                b"\x00\x0a\x00\x05http://x",
                "10 5 \"http://x\"",
                ok,
            ),
            (
                RrType::LOC,
                &[
                    0x00, 0x12, 0x15, 0x13, 0x88, 0x05, 0x02, 0x50, 0x65, 0xd2, 0xd4, 0x00,
                    0x00, 0x98, 0x96, 0x80,
                ],
                "37 22 26.000 N 121 59 28.000 W 0m 1m 1000m 10m",
                ok,
            ),
            (
                RrType::HTTPS,
                b"\x00\x01\x00\x00\x01\x00\x06\x02h3\x02h2\x00\x04\x00\x04\x01\x02\x03\x04",
                "1 . alpn=h3,h2 ipv4hint=1.2.3.4",
                ok,
            ),
            (RrType::SVCB, b"\x00\x00\x03foo\x00", "0 foo.", ok),
            (RrType::EUI48, b"\x00\x11\x22\x33\x44\x55", "00-11-22-33-44-55", ok),
            (RrType::NSEC, b"\x00\x00\x01\x40", ". A", ok),
            (RrType::NSEC, b"\x00", ".", ok),
            (RrType::DNSKEY, b"\x01\x00\x03\x08\x01\x02\x03", "256 3 8 AQID", ok),
            (RrType::CAA, b"\x00\x05issueca.example", "0 issue \"ca.example\"", ok),
            (RrType::HINFO, b"\x03x86\x05Linux", "\"x86\" \"Linux\"", ok),
            (
                RrType::NAPTR,
                b"\x00\x64\x00\x0a\x01s\x07SIP+D2T\x00\x04_sip\x04_tcp\x00",
                "100 10 \"s\" \"SIP+D2T\" \"\" _sip._tcp.",
                ok,
            ),
            (RrType::SRV, b"\x00\x01\x00\x02\x13\xc4\x01s\x00", "1 2 5060 s.", ok),
            (RrType::TLSA, b"\x03\x01\x01\xab\xcd", "3 1 1 abcd", ok),
            (RrType::NSEC3PARAM, b"\x01\x00\x00\x0a\x00", "1 0 10 -", ok),
            (RrType::AFSDB, b"\x00\x01\x03afs\x00", "1 afs.", ok),
            (RrType::SOA, b"\x02ns\x00", "\\# 4 026e7300", Rendered::Malformed),
        ];
        for (t, rdata, want, how) in cases {
            let (got, r) = render(*t, rdata);
            assert_eq!((got.as_str(), r), (*want, *how), "{t} {rdata:?}");
        }
    }

    #[test]
    fn rrsig_times_and_base64() {
        let mut rdata = vec![0, 1, 8, 2];
        rdata.extend_from_slice(&86_400_u32.to_be_bytes());
        rdata.extend_from_slice(&1_571_204_870_u32.to_be_bytes());
        rdata.extend_from_slice(&0_u32.to_be_bytes());
        rdata.extend_from_slice(&56_575_u16.to_be_bytes());
        rdata.extend_from_slice(b"\x07example\x03com\x00");
        rdata.extend_from_slice(&[1, 2, 3]);
        let (got, r) = render(RrType::RRSIG, &rdata);
        assert_eq!(r, Rendered::Typed);
        assert_eq!(
            got,
            "A 8 2 86400 20191016054750 19700101000000 56575 example.com. AQID"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]

        /// Any bytes as the data of any type: rendered or written generically, never a
        /// panic, and the generic form is exactly the bytes.
        #[test]
        fn any_rdata_renders(
            t in proptest::prop_oneof![0_u16..=110, 248_u16..=262, proptest::prelude::any::<u16>()],
            rdata in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..96),
        ) {
            let mut s = String::new();
            if render_rdata(t, &rdata, &mut s) == Rendered::Malformed {
                let mut g = String::new();
                generic(&rdata, &mut g);
                proptest::prop_assert_eq!(s, g);
            }
        }
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(18_262), (2020, 1, 1));
        assert_eq!(civil_from_days(49_710), (2106, 2, 7));
    }
}
