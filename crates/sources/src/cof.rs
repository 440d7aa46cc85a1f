//! Passive DNS Common Output Format (draft-dulaunoy-dnsop-passive-dns-cof) as NDJSON:
//! one aggregated record per line, `rdata` a string or an array of strings (one
//! [`Tuple`] per element, as DNSDB and CIRCL write RRsets).
//!
//! `time_first`/`time_last` are the sensor's times; when both are absent the zone-file
//! times `zone_time_first`/`zone_time_last` stand in. `bailiwick` is validated but the
//! model's [`Tuple`] has no place for it, so it is not kept.

use dnsrecall_model::{Tuple, TupleKey, TupleValue};

use crate::fields;
use crate::json::{self, Value};
use crate::{LineContext, LineError, Reason, Record};

const KEYS: [&str; 10] = [
    "rrname",
    "rrtype",
    "rdata",
    "time_first",
    "time_last",
    "count",
    "bailiwick",
    "sensor_id",
    "zone_time_first",
    "zone_time_last",
];
const RRNAME: usize = 0;
const RRTYPE: usize = 1;
const RDATA: usize = 2;
const TIME_FIRST: usize = 3;
const TIME_LAST: usize = 4;
const COUNT: usize = 5;
const BAILIWICK: usize = 6;
const SENSOR_ID: usize = 7;
const ZONE_TIME_FIRST: usize = 8;
const ZONE_TIME_LAST: usize = 9;

pub(crate) fn parse(
    line: &[u8],
    ctx: &LineContext,
    out: &mut Vec<Record>,
) -> Result<(), LineError> {
    let mut slots: [Option<Value<'_>>; KEYS.len()] = [const { None }; KEYS.len()];
    json::read_object(line, &KEYS, &mut slots)?;

    let rrname = fields::name(
        KEYS[RRNAME],
        fields::string(KEYS[RRNAME], fields::require(KEYS[RRNAME], &slots[RRNAME])?)?,
    )?;
    let rrtype = fields::rrtype(KEYS[RRTYPE], fields::require(KEYS[RRTYPE], &slots[RRTYPE])?)?;
    let rdata = fields::require(KEYS[RDATA], &slots[RDATA])?;

    let (first_key, last_key) = match (&slots[TIME_FIRST], &slots[TIME_LAST]) {
        (None, None) => (ZONE_TIME_FIRST, ZONE_TIME_LAST),
        _ => (TIME_FIRST, TIME_LAST),
    };
    let time_first = fields::epoch_secs(
        KEYS[first_key],
        fields::require(KEYS[first_key], &slots[first_key])?,
    )?;
    let time_last = fields::epoch_secs(
        KEYS[last_key],
        fields::require(KEYS[last_key], &slots[last_key])?,
    )?;
    if time_first > time_last {
        return Err(LineError::new(
            Reason::BadTime,
            format!(
                "{} {time_first} is after {} {time_last}",
                KEYS[first_key], KEYS[last_key]
            ),
        ));
    }
    let value = TupleValue {
        time_first,
        time_last,
        count: fields::count(KEYS[COUNT], slots[COUNT].as_ref())?,
        ttl: None,
    };
    fields::optional_name(KEYS[BAILIWICK], slots[BAILIWICK].as_ref())?;
    // The record's own sensor wins over the one given on the command line.
    let sensor_id = match fields::sensor(KEYS[SENSOR_ID], slots[SENSOR_ID].as_ref())? {
        Some(s) => Some(s),
        None => ctx.sensor_id.clone(),
    };

    let mut push = |text: &str| -> Result<(), LineError> {
        out.push(Record::Tuple(Tuple {
            key: TupleKey {
                sensor_id: sensor_id.clone(),
                rrname: rrname.clone(),
                rrtype,
                rdata: fields::rdata(KEYS[RDATA], rrtype, text)?,
            },
            value,
        }));
        Ok(())
    };
    match rdata {
        Value::Str(text) => push(text),
        Value::List(items) if items.is_empty() => {
            Err(LineError::new(Reason::BadRdata, "rdata: empty array"))
        }
        Value::List(items) => items
            .iter()
            .try_for_each(|item| push(fields::string("rdata element", item)?)),
        other => Err(fields::wrong_type(
            KEYS[RDATA],
            "a string or an array of strings",
            other,
        )),
    }
}
