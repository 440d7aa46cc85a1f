//! Query-string parameters: parsed once, taken by name, with errors that name the
//! parameter; what nobody took can be refused (the native API) or ignored (DNSDB clients
//! send `swclient`, `version` and the like).

use dnsrecall_query::FilterSpec;

use crate::ApiError;

/// Longest parameter value accepted.
const MAX_VALUE: usize = 2048;
/// Most parameters in one request.
const MAX_PARAMS: usize = 64;

#[derive(Debug, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
    taken: Vec<bool>,
}

impl Params {
    /// # Errors
    /// 400 when the query string is malformed, too long or has too many parameters.
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = match raw {
            None | Some("") => Vec::new(),
            Some(q) => serde_urlencoded::from_str(q)
                .map_err(|e| ApiError::param("query string", e.to_string()))?,
        };
        if pairs.len() > MAX_PARAMS {
            return Err(ApiError::param(
                "query string",
                format!("more than {MAX_PARAMS} parameters"),
            ));
        }
        if let Some((k, _)) = pairs.iter().find(|(_, v)| v.len() > MAX_VALUE) {
            return Err(ApiError::param(k, format!("longer than {MAX_VALUE} bytes")));
        }
        let taken = vec![false; pairs.len()];
        Ok(Self { pairs, taken })
    }

    /// Every value of `key`, in order.
    pub fn all(&mut self, key: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (i, (k, v)) in self.pairs.iter().enumerate() {
            if k == key {
                self.taken[i] = true;
                out.push(v.clone());
            }
        }
        out
    }

    /// The value of a single-valued parameter.
    ///
    /// # Errors
    /// 400 when it is given more than once.
    pub fn one(&mut self, key: &str) -> Result<Option<String>, ApiError> {
        let mut all = self.all(key);
        match all.len() {
            0 => Ok(None),
            1 => Ok(all.pop()),
            _ => Err(ApiError::param(key, "given more than once")),
        }
    }

    /// A yes/no parameter: absent or `false`/`0`/`no` is no; empty, `true`, `1`, `yes` is yes.
    ///
    /// # Errors
    /// 400 on any other value.
    pub fn flag(&mut self, key: &str) -> Result<bool, ApiError> {
        match self.one(key)?.as_deref() {
            None | Some("false" | "0" | "no") => Ok(false),
            Some("" | "true" | "1" | "yes") => Ok(true),
            Some(v) => Err(ApiError::param(
                key,
                format!("{v:?}: expected true or false"),
            )),
        }
    }

    /// A non-negative whole number.
    ///
    /// # Errors
    /// 400 when it is not one.
    pub fn number(&mut self, key: &str) -> Result<Option<u64>, ApiError> {
        self.one(key)?
            .map(|v| {
                v.trim()
                    .parse::<u64>()
                    .map_err(|_| ApiError::param(key, format!("{v:?}: expected a whole number")))
            })
            .transpose()
    }

    /// The native filter parameters (`type`, `after`, `before`, `strict`, the four DNSDB
    /// fences, `sensor`, `sort`, `desc`).
    ///
    /// # Errors
    /// 400 on a repeated single-valued parameter or a bad flag.
    pub fn filter_spec(&mut self) -> Result<FilterSpec, ApiError> {
        Ok(FilterSpec {
            types: self.all("type"),
            after: self.one("after")?,
            before: self.one("before")?,
            strict: self.flag("strict")?,
            first_after: self.one("first_after")?,
            first_before: self.one("first_before")?,
            last_after: self.one("last_after")?,
            last_before: self.one("last_before")?,
            sensors: self.all("sensor"),
            sort: self.one("sort")?,
            desc: self.flag("desc")?,
        })
    }

    /// # Errors
    /// 400 naming the first parameter nobody took.
    pub fn reject_unknown(&self) -> Result<(), ApiError> {
        match self
            .pairs
            .iter()
            .zip(&self.taken)
            .find(|(_, taken)| !**taken)
        {
            Some(((k, _), _)) => Err(ApiError::param(
                k,
                "unknown parameter; see /api/v1/openapi.json",
            )),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn takes_and_refuses() {
        let mut p = Params::parse(Some("q=a.b&type=A&type=MX&limit=5&bogus=1")).unwrap();
        assert_eq!(p.one("q").unwrap().as_deref(), Some("a.b"));
        assert_eq!(p.all("type"), vec!["A", "MX"]);
        assert_eq!(p.number("limit").unwrap(), Some(5));
        let e = p.reject_unknown().unwrap_err();
        assert_eq!(e.parameter.as_deref(), Some("bogus"));
        let mut p = Params::parse(Some("limit=-1&desc=maybe")).unwrap();
        assert_eq!(
            p.number("limit").unwrap_err().parameter.as_deref(),
            Some("limit")
        );
        assert_eq!(
            p.flag("desc").unwrap_err().parameter.as_deref(),
            Some("desc")
        );
    }

    proptest! {
        #[test]
        fn any_query_string_is_an_answer_not_a_panic(raw in ".{0,300}") {
            if let Ok(mut p) = Params::parse(Some(&raw)) {
                let _ = p.filter_spec().map(|s| s.build(0));
                let _ = p.number("limit");
                let _ = p.reject_unknown();
            }
        }
    }
}
