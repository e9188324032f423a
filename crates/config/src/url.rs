//! [`Url`]: a URL parsed the way Go's `net/url.Parse` splits it.
//!
//! Only the split and the errors Prometheus's configuration can surface are
//! reproduced: a scheme must start with a letter, a port must be numeric,
//! control characters are rejected. The password never prints.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A parsed URL.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Url {
    /// `http`, `https`, ... (lower-cased); empty for a relative reference.
    pub scheme: String,
    /// The user name from `user:password@`.
    pub username: String,
    /// The password from `user:password@`.
    pub password: Option<crate::Secret>,
    /// `host` or `host:port` (IPv6 in brackets).
    pub host: String,
    /// The path, as written.
    pub path: String,
    /// The query without `?`.
    pub query: String,
    /// The fragment without `#`.
    pub fragment: String,
    /// Everything after the scheme of a URL without `//` (`mailto:x`).
    pub opaque: String,
}

/// Why a URL did not parse (Go's texts).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("parse \"{input}\": {reason}")]
pub struct UrlError {
    input: String,
    reason: String,
}

impl Url {
    /// Parses like Go's `url.Parse`.
    pub fn parse(s: &str) -> Result<Url, UrlError> {
        let err = |reason: &str| UrlError {
            input: s.to_owned(),
            reason: reason.to_owned(),
        };
        if s.bytes().any(|b| b < 0x20 || b == 0x7f) {
            return Err(err("net/url: invalid control character in URL"));
        }
        let mut u = Url::default();
        let (rest, fragment) = s.split_once('#').unwrap_or((s, ""));
        u.fragment = fragment.to_owned();
        let mut rest = rest;
        // Scheme.
        if let Some(i) = rest.find(':') {
            let candidate = &rest[..i];
            let valid = candidate.bytes().enumerate().all(|(j, c)| {
                c.is_ascii_alphabetic() || (j > 0 && (c.is_ascii_digit() || b"+-.".contains(&c)))
            });
            if i == 0 {
                return Err(err("missing protocol scheme"));
            }
            if valid {
                u.scheme = candidate.to_ascii_lowercase();
                rest = &rest[i + 1..];
            }
        }
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        u.query = query.to_owned();
        if !u.scheme.is_empty() && !rest.starts_with('/') {
            u.opaque = rest.to_owned();
            return Ok(u);
        }
        if u.scheme.is_empty() {
            let first = rest.split('/').next().unwrap_or("");
            if first.contains(':') {
                return Err(err("first path segment in URL cannot contain colon"));
            }
        }
        if let Some(after) = rest.strip_prefix("//") {
            let end = after.find('/').unwrap_or(after.len());
            let mut authority = &after[..end];
            u.path = after[end..].to_owned();
            if let Some(i) = authority.rfind('@') {
                let info = &authority[..i];
                authority = &authority[i + 1..];
                match info.split_once(':') {
                    Some((user, pass)) => {
                        u.username = user.to_owned();
                        u.password = Some(crate::Secret::new(pass));
                    }
                    None => u.username = info.to_owned(),
                }
            }
            let port = if authority.starts_with('[') {
                match authority.find(']') {
                    Some(i) => &authority[i + 1..],
                    None => return Err(err("missing ']' in host")),
                }
            } else {
                authority.rfind(':').map_or("", |i| &authority[i..])
            };
            if let Some(digits) = port.strip_prefix(':') {
                if !digits.bytes().all(|c| c.is_ascii_digit()) {
                    return Err(err(&format!("invalid port \"{port}\" after host")));
                }
            } else if !port.is_empty() {
                return Err(err(&format!("invalid port \"{port}\" after host")));
            }
            if authority.contains(' ') {
                return Err(err("invalid character \" \" in host name"));
            }
            u.host = authority.to_owned();
        } else {
            u.path = rest.to_owned();
        }
        Ok(u)
    }

    /// The host without the port (and without IPv6 brackets).
    pub fn hostname(&self) -> &str {
        let h = self.host.as_str();
        if let Some(rest) = h.strip_prefix('[') {
            return rest.split(']').next().unwrap_or(rest);
        }
        h.rsplit_once(':').map_or(h, |(host, _)| host)
    }
}

impl fmt::Display for Url {
    /// The URL with any password shown as `xxxxx`, like Go's `Redacted`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.scheme.is_empty() {
            write!(f, "{}:", self.scheme)?;
        }
        if !self.opaque.is_empty() {
            f.write_str(&self.opaque)?;
        } else {
            if !self.host.is_empty() || !self.username.is_empty() || !self.scheme.is_empty() {
                f.write_str("//")?;
                if !self.username.is_empty() || self.password.is_some() {
                    f.write_str(&self.username)?;
                    if self.password.is_some() {
                        f.write_str(":xxxxx")?;
                    }
                    f.write_str("@")?;
                }
                f.write_str(&self.host)?;
            }
            f.write_str(&self.path)?;
        }
        if !self.query.is_empty() {
            write!(f, "?{}", self.query)?;
        }
        if !self.fragment.is_empty() {
            write!(f, "#{}", self.fragment)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Url({self})")
    }
}

impl<'de> Deserialize<'de> for Url {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Url, D::Error> {
        let s = crate::de::scalar_string(d)?;
        Url::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Url {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, want: Result<(&str, &str, &str), &str>) {
        let got = Url::parse(input)
            .map(|u| (u.scheme.clone(), u.host.clone(), u.path.clone()))
            .map_err(|e| e.to_string());
        let want = want
            .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()))
            .map_err(str::to_owned);
        assert_eq!(got, want, "{input}");
    }

    #[test]
    fn parses_like_go() {
        check(
            "http://a:9090/api/v1/write",
            Ok(("http", "a:9090", "/api/v1/write")),
        );
        check("HTTPS://[::1]:80", Ok(("https", "[::1]:80", "")));
        check("/relative", Ok(("", "", "/relative")));
        check("localhost:9090", Ok(("localhost", "", "")));
        check("://x", Err("parse \"://x\": missing protocol scheme"));
        check(
            "http://a:x/",
            Err("parse \"http://a:x/\": invalid port \":x\" after host"),
        );
        check(
            "1:2",
            Err("parse \"1:2\": first path segment in URL cannot contain colon"),
        );
        let u = Url::parse("http://u:p@h/x").unwrap_or_default();
        assert_eq!(u.to_string(), "http://u:xxxxx@h/x");
        assert_eq!(u.hostname(), "h");
    }
}
