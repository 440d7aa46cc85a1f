//! Field conversions shared by the formats: every untrusted string goes through the
//! model's constructors, every number through a range check, and each failure names its
//! field.

use std::cell::Cell;
use std::net::IpAddr;
use std::sync::Arc;

use dnsrecall_model::{Name, NameError, Rcode, Rdata, RdataError, RrType, SensorId};

use crate::json::Value;
use crate::{LineError, Reason};

/// First second not accepted: 2200-01-01T00:00:00Z. Anything later (or before 1970) is a
/// corrupt or hostile timestamp, not an observation.
pub const MAX_EPOCH_SECS: i64 = 7_258_118_400;
/// Largest count accepted on one line (about `u32::MAX * 1000`): far above any real
/// sighting count, far below where summing many lines could overflow a `u64`.
pub const MAX_COUNT: u64 = 1 << 42;
/// Longest sensor name (`hostname`, `sensor_id`) accepted.
pub const MAX_SENSOR_ID_LEN: usize = 255;

pub(crate) fn require<'a, 'de>(
    field: &str,
    slot: &'a Option<Value<'de>>,
) -> Result<&'a Value<'de>, LineError> {
    slot.as_ref()
        .ok_or_else(|| LineError::new(Reason::MissingField, format!("{field} is missing")))
}

pub(crate) fn wrong_type(field: &str, want: &str, v: &Value<'_>) -> LineError {
    LineError::new(
        Reason::WrongType,
        format!("{field}: expected {want}, found {}", v.kind()),
    )
}

/// A string field (numbers are not accepted where text belongs).
pub(crate) fn string<'a>(field: &str, v: &'a Value<'_>) -> Result<&'a str, LineError> {
    match v {
        Value::Str(s) => Ok(s),
        other => Err(wrong_type(field, "a string", other)),
    }
}

/// An integer written as a JSON number or as a string of digits. Fractions are floored
/// when `floor` is set (timestamps) and refused otherwise.
fn integer(field: &str, v: &Value<'_>, reason: Reason, floor: bool) -> Result<i128, LineError> {
    let from_float = |f: f64, text: &str| {
        if !f.is_finite() {
            Err(LineError::field(reason, field, text, "not a finite number"))
        } else if floor {
            // `as` saturates: an absurd value becomes an out-of-range one, checked later.
            Ok(f.floor() as i128)
        } else if f.fract() == 0.0 {
            Ok(f as i128)
        } else {
            Err(LineError::field(reason, field, text, "not a whole number"))
        }
    };
    match v {
        Value::UInt(u) => Ok(i128::from(*u)),
        Value::Int(i) => Ok(i128::from(*i)),
        Value::Float(f) => from_float(*f, &f.to_string()),
        Value::Str(s) => match s.parse::<i128>() {
            Ok(n) => Ok(n),
            Err(_) => match s.parse::<f64>() {
                Ok(f) => from_float(f, s),
                Err(_) => Err(LineError::field(reason, field, s, "not a number")),
            },
        },
        other => Err(wrong_type(field, "a number", other)),
    }
}

/// Epoch seconds within 1970..2200.
pub(crate) fn epoch_secs(field: &str, v: &Value<'_>) -> Result<i64, LineError> {
    let n = integer(field, v, Reason::BadTime, true)?;
    check_epoch(field, n)
}

pub(crate) fn check_epoch(field: &str, n: i128) -> Result<i64, LineError> {
    match i64::try_from(n) {
        Ok(s) if (0..MAX_EPOCH_SECS).contains(&s) => Ok(s),
        _ => Err(LineError::new(
            Reason::BadTime,
            format!("{field} {n}: outside 1970..2200"),
        )),
    }
}

/// Microseconds within a second (passivedns's `timestamp_ms`, which is really µs).
pub(crate) fn micros_part(field: &str, v: Option<&Value<'_>>) -> Result<i64, LineError> {
    let Some(v) = v else { return Ok(0) };
    let n = integer(field, v, Reason::BadTime, false)?;
    match i64::try_from(n) {
        Ok(us) if (0..1_000_000).contains(&us) => Ok(us),
        _ => Err(LineError::new(
            Reason::BadTime,
            format!("{field} {n}: not within 0..999999 microseconds"),
        )),
    }
}

/// A sighting count: 1 when absent, else within `1..=MAX_COUNT`.
pub(crate) fn count(field: &str, v: Option<&Value<'_>>) -> Result<u64, LineError> {
    let Some(v) = v else { return Ok(1) };
    let n = integer(field, v, Reason::BadCount, false)?;
    match u64::try_from(n) {
        Ok(c) if (1..=MAX_COUNT).contains(&c) => Ok(c),
        _ => Err(LineError::new(
            Reason::BadCount,
            format!("{field} {n}: not within 1..={MAX_COUNT}"),
        )),
    }
}

/// A TTL within `0..=u32::MAX`, `None` when absent.
pub(crate) fn ttl(field: &str, v: Option<&Value<'_>>) -> Result<Option<u32>, LineError> {
    let Some(v) = v else { return Ok(None) };
    let n = integer(field, v, Reason::BadTtl, false)?;
    u32::try_from(n).map(Some).map_err(|_| {
        LineError::new(
            Reason::BadTtl,
            format!("{field} {n}: not within 0..={}", u32::MAX),
        )
    })
}

pub(crate) fn name(field: &str, s: &str) -> Result<Name, LineError> {
    Name::new(s).map_err(|e| {
        let reason = match e {
            NameError::TooLong => Reason::NameTooLong,
            NameError::ControlCharacter => Reason::ControlCharacter,
            _ => Reason::BadName,
        };
        LineError::field(reason, field, s, e)
    })
}

/// An optional name (COF `bailiwick`): validated when present.
pub(crate) fn optional_name(field: &str, v: Option<&Value<'_>>) -> Result<Option<Name>, LineError> {
    match v {
        None => Ok(None),
        Some(v) => name(field, string(field, v)?).map(Some),
    }
}

pub(crate) fn rdata(field: &str, rrtype: RrType, s: &str) -> Result<Rdata, LineError> {
    Rdata::new(rrtype, s).map_err(|e| {
        let reason = match e {
            RdataError::ControlCharacter | RdataError::BadName(NameError::ControlCharacter) => {
                Reason::ControlCharacter
            }
            _ => Reason::BadRdata,
        };
        LineError::field(reason, field, s, format_args!("{e} for type {rrtype}"))
    })
}

/// A record type: a mnemonic, `TYPEnnn` or a number (as a string or a JSON number).
pub(crate) fn rrtype(field: &str, v: &Value<'_>) -> Result<RrType, LineError> {
    match v {
        Value::Str(s) => RrType::parse(s)
            .ok_or_else(|| LineError::field(Reason::UnknownType, field, s, "unknown record type")),
        Value::UInt(n) => u16::try_from(*n).map(RrType).map_err(|_| {
            LineError::new(
                Reason::UnknownType,
                format!("{field} {n}: not a 16-bit type"),
            )
        }),
        other => Err(wrong_type(field, "a type name or number", other)),
    }
}

/// A class: `IN` (the default when absent), `CS`, `CH`, `HS`, `NONE`, `ANY`, `CLASSnnn` or
/// a number (passivedns prints classes it has no name for as numbers).
pub(crate) fn class(field: &str, v: Option<&Value<'_>>) -> Result<u16, LineError> {
    let Some(v) = v else { return Ok(1) };
    let parsed = match v {
        Value::Str(s) => parse_class(s),
        Value::UInt(n) => u16::try_from(*n).ok(),
        other => return Err(wrong_type(field, "a class name", other)),
    };
    parsed.ok_or_else(|| match v {
        Value::Str(s) => LineError::field(Reason::BadClass, field, s, "unknown class"),
        _ => LineError::new(Reason::BadClass, format!("{field}: not a 16-bit class")),
    })
}

fn parse_class(s: &str) -> Option<u16> {
    const NAMES: [(&str, u16); 6] = [
        ("IN", 1),
        ("CS", 2),
        ("CH", 3),
        ("HS", 4),
        ("NONE", 254),
        ("ANY", 255),
    ];
    if let Some(&(_, n)) = NAMES.iter().find(|(m, _)| s.eq_ignore_ascii_case(m)) {
        return Some(n);
    }
    let digits = match s.get(..5) {
        Some(p) if p.eq_ignore_ascii_case("CLASS") => s.get(5..)?,
        _ => s,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A client or server address; absent or empty means unknown.
pub(crate) fn address(field: &str, v: Option<&Value<'_>>) -> Result<Option<IpAddr>, LineError> {
    let Some(v) = v else { return Ok(None) };
    address_str(field, string(field, v)?)
}

pub(crate) fn address_str(field: &str, s: &str) -> Result<Option<IpAddr>, LineError> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|_| LineError::field(Reason::BadAddress, field, s, "not an IP address"))
}

/// A sensor name; absent or empty means "not given". Validated, then shared: consecutive
/// lines from one sensor get the same `Arc` instead of an allocation each.
pub(crate) fn sensor(field: &str, v: Option<&Value<'_>>) -> Result<SensorId, LineError> {
    let Some(v) = v else { return Ok(None) };
    let s = string(field, v)?;
    if s.is_empty() {
        return Ok(None);
    }
    if s.len() > MAX_SENSOR_ID_LEN {
        return Err(LineError::field(
            Reason::BadSensorId,
            field,
            s,
            format_args!("longer than {MAX_SENSOR_ID_LEN} bytes"),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(LineError::field(
            Reason::BadSensorId,
            field,
            s,
            "control character",
        ));
    }
    Ok(Some(shared_sensor(s)))
}

thread_local! {
    static LAST_SENSOR: Cell<Option<Arc<str>>> = const { Cell::new(None) };
}

fn shared_sensor(s: &str) -> Arc<str> {
    LAST_SENSOR.with(|last| {
        let arc = match last.take() {
            Some(a) if &*a == s => a,
            _ => Arc::from(s),
        };
        last.set(Some(Arc::clone(&arc)));
        arc
    })
}

/// The rcode passivedns writes in place of an answer for an error response: a name
/// (`NXDOMAIN`, `NOTIMPL`, ...) or `UNKNOWN-ERROR-n` for codes it has no name for.
pub(crate) fn error_rcode(answer: &str) -> Option<Rcode> {
    if let Some(n) = answer.strip_prefix("UNKNOWN-ERROR-") {
        return n.parse::<u16>().ok().filter(|&n| n != 0).map(Rcode);
    }
    Rcode::from_passivedns(answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn s(x: &str) -> Value<'_> {
        Value::Str(Cow::Borrowed(x))
    }

    #[test]
    fn integers() {
        assert_eq!(epoch_secs("t", &Value::Float(1.9)).unwrap(), 1);
        assert_eq!(epoch_secs("t", &s("1553714372")).unwrap(), 1_553_714_372);
        assert_eq!(epoch_secs("t", &s("12.7")).unwrap(), 12);
        let bad_times = [
            Value::Int(-1),
            Value::UInt(MAX_EPOCH_SECS as u64),
            Value::Float(f64::NAN),
            Value::Float(1e300),
            s("abc"),
            s("inf"),
        ];
        for v in bad_times {
            assert_eq!(
                epoch_secs("t", &v).unwrap_err().reason,
                Reason::BadTime,
                "{v:?}"
            );
        }
        assert_eq!(
            epoch_secs("t", &Value::Bool(true)).unwrap_err().reason,
            Reason::WrongType
        );
        assert_eq!(count("c", None).unwrap(), 1);
        assert_eq!(count("c", Some(&s("7"))).unwrap(), 7);
        assert_eq!(count("c", Some(&Value::Float(3.0))).unwrap(), 3);
        for v in [
            Value::UInt(0),
            Value::Int(-2),
            Value::Float(1.5),
            Value::UInt(u64::MAX),
        ] {
            assert_eq!(
                count("c", Some(&v)).unwrap_err().reason,
                Reason::BadCount,
                "{v:?}"
            );
        }
        assert_eq!(ttl("ttl", Some(&Value::UInt(0))).unwrap(), Some(0));
        assert_eq!(
            ttl("ttl", Some(&Value::UInt(1 << 32))).unwrap_err().reason,
            Reason::BadTtl
        );
        assert_eq!(
            micros_part("us", Some(&Value::UInt(999_999))).unwrap(),
            999_999
        );
        assert_eq!(
            micros_part("us", Some(&Value::UInt(1_000_000)))
                .unwrap_err()
                .reason,
            Reason::BadTime
        );
    }

    #[test]
    fn classes() {
        let cases = [
            ("IN", Some(1)),
            ("in", Some(1)),
            ("CH", Some(3)),
            ("HS", Some(4)),
            ("NONE", Some(254)),
            ("ANY", Some(255)),
            ("CLASS32", Some(32)),
            ("254", Some(254)),
            ("CLASS", None),
            ("CLASS99999", None),
            ("XX", None),
            ("", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_class(input), want, "{input}");
        }
        assert_eq!(class("class", None).unwrap(), 1);
        assert_eq!(
            class("class", Some(&s("XX"))).unwrap_err().reason,
            Reason::BadClass
        );
    }

    #[test]
    fn rcodes() {
        assert_eq!(error_rcode("NXDOMAIN"), Some(Rcode::NXDOMAIN));
        assert_eq!(error_rcode("NOTIMPL"), Some(Rcode::NOTIMP));
        assert_eq!(error_rcode("UNKNOWN-ERROR-11"), Some(Rcode(11)));
        assert_eq!(error_rcode("UNKNOWN-ERROR-0"), None);
        assert_eq!(error_rcode("1.2.3.4"), None);
    }

    #[test]
    fn sensors_are_shared_and_checked() {
        let a = sensor("hostname", Some(&s("sensor-1"))).unwrap().unwrap();
        let b = sensor("hostname", Some(&s("sensor-1"))).unwrap().unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(sensor("hostname", Some(&s(""))).unwrap(), None);
        let long = "x".repeat(MAX_SENSOR_ID_LEN + 1);
        for bad in ["a\nb", long.as_str()] {
            assert_eq!(
                sensor("hostname", Some(&s(bad))).unwrap_err().reason,
                Reason::BadSensorId
            );
        }
    }
}
