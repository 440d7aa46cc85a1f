use std::fmt;

/// Longest canonical name in presentation form: 255 wire octets minus the length bytes.
pub const MAX_NAME_LEN: usize = 253;
const MAX_LABEL_LEN: usize = 63;

/// A canonical domain name: lowercase ASCII with internationalized labels as A-labels, no
/// trailing dot. The root is written `.`. Bytes outside printable ASCII are not allowed
/// unless written as RFC 1035 `\DDD` escapes, so a name is always safe to print and log.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

/// Why a string is not a domain name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    #[error("empty name")]
    Empty,
    #[error("name longer than {MAX_NAME_LEN} characters")]
    TooLong,
    #[error("label longer than {MAX_LABEL_LEN} characters")]
    LabelTooLong,
    #[error("empty label (two dots in a row)")]
    EmptyLabel,
    #[error("control character or space in name")]
    ControlCharacter,
    #[error("invalid internationalized name")]
    Idna,
}

impl Name {
    /// Canonicalizes a name as found in logs or on the wire (trailing dot optional).
    ///
    /// # Errors
    /// When the input is not a valid name; see [`NameError`].
    pub fn new(input: &str) -> Result<Self, NameError> {
        if input.is_empty() {
            return Err(NameError::Empty);
        }
        if input == "." {
            return Ok(Self::root());
        }
        let body = input.strip_suffix('.').unwrap_or(input);
        let lowered = if body.is_ascii() {
            body.to_ascii_lowercase()
        } else {
            idna::domain_to_ascii(body).map_err(|_| NameError::Idna)?
        };
        // Checked after IDNA too: its mapping can turn a letter into a space.
        if lowered.bytes().any(|b| !(0x21..0x7f).contains(&b)) {
            return Err(NameError::ControlCharacter);
        }
        Self::check_shape(&lowered)?;
        Ok(Self(lowered))
    }

    fn check_shape(s: &str) -> Result<(), NameError> {
        if s.is_empty() {
            return Err(NameError::Empty);
        }
        if s.len() > MAX_NAME_LEN {
            return Err(NameError::TooLong);
        }
        for label in s.split('.') {
            if label.is_empty() {
                return Err(NameError::EmptyLabel);
            }
            // A label written with \DDD escapes is longer in text than on the wire; only
            // refuse labels that cannot fit even when every escape is counted as one octet.
            if label.len() > MAX_LABEL_LEN && unescaped_len(label) > MAX_LABEL_LEN {
                return Err(NameError::LabelTooLong);
            }
        }
        Ok(())
    }

    /// The root name, written `.`.
    #[must_use]
    pub fn root() -> Self {
        Self(".".to_owned())
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    #[must_use]
    pub fn is_root(&self) -> bool {
        self.0 == "."
    }

    /// The name with a trailing dot, as DNSDB and the passivedns log write it.
    #[must_use]
    pub fn to_absolute(&self) -> String {
        if self.is_root() {
            ".".to_owned()
        } else {
            format!("{}.", self.0)
        }
    }

    /// Labels in reverse order joined by dots (`isc.sans.org` -> `org.sans.isc`): the sort
    /// key that turns `*.sans.org` into a prefix range.
    #[must_use]
    pub fn reversed(&self) -> String {
        reverse_labels(&self.0)
    }

    /// Wraps a string already known to be canonical (read back from a store).
    #[must_use]
    pub fn from_canonical_unchecked(s: String) -> Self {
        Self(s)
    }
}

/// Reverses the dot-separated labels of a string; its own inverse.
#[must_use]
pub fn reverse_labels(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, label) in s.rsplit('.').enumerate() {
        if i > 0 {
            out.push('.');
        }
        out.push_str(label);
    }
    out
}

fn unescaped_len(label: &str) -> usize {
    let bytes = label.as_bytes();
    let (mut i, mut n) = (0, 0);
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            let digits = bytes[i + 1..]
                .iter()
                .take(3)
                .take_while(|b| b.is_ascii_digit())
                .count();
            i += if digits == 3 { 4 } else { 2 };
        } else {
            i += 1;
        }
        n += 1;
    }
    n
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({})", self.0)
    }
}

impl TryFrom<String> for Name {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, NameError> {
        Self::new(&s)
    }
}

impl From<Name> for String {
    fn from(n: Name) -> Self {
        n.0
    }
}

impl std::str::FromStr for Name {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, NameError> {
        Self::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn canonical_forms() {
        let cases = [
            ("isc.sans.org.", Ok("isc.sans.org")),
            ("ISC.Sans.ORG", Ok("isc.sans.org")),
            (".", Ok(".")),
            (
                "AAAAAO1kQA.=auth.srv.tunnel.com.",
                Ok("aaaaao1kqa.=auth.srv.tunnel.com"),
            ),
            ("bücher.example", Ok("xn--bcher-kva.example")),
            ("", Err(NameError::Empty)),
            ("a..b", Err(NameError::EmptyLabel)),
            ("a b.c", Err(NameError::ControlCharacter)),
            ("a\u{7}.c", Err(NameError::ControlCharacter)),
        ];
        for (input, want) in cases {
            let got = Name::new(input).map(|n| n.as_str().to_owned());
            assert_eq!(got, want.map(str::to_owned), "input {input:?}");
        }
        assert_eq!(Name::new(&"a".repeat(64)), Err(NameError::LabelTooLong));
        let long = vec!["abcdefghi"; 26].join(".");
        assert_eq!(Name::new(&long), Err(NameError::TooLong));
    }

    #[test]
    fn reversed_is_label_order() {
        let n = Name::new("isc.sans.org").unwrap();
        assert_eq!(n.reversed(), "org.sans.isc");
        assert_eq!(reverse_labels(&n.reversed()), "isc.sans.org");
        assert_eq!(n.to_absolute(), "isc.sans.org.");
    }

    proptest! {
        #[test]
        fn canonicalization_is_idempotent(s in "[a-zA-Z0-9_.-]{1,80}|\\PC{1,40}") {
            if let Ok(n) = Name::new(&s) {
                let again = Name::new(n.as_str()).unwrap();
                prop_assert_eq!(&again, &n);
                let abs = Name::new(&n.to_absolute()).unwrap();
                prop_assert_eq!(abs, n);
            }
        }

        #[test]
        fn reverse_is_an_involution(s in "[a-z0-9.]{0,60}") {
            prop_assert_eq!(reverse_labels(&reverse_labels(&s)), s);
        }
    }
}
