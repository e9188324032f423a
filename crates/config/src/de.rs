//! Deserialization helpers shared by the sections: Go-like scalar reading,
//! a generic YAML value for sections kept as written, and the Go type names
//! used in "field X not found in type T" errors.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

/// Reads any scalar as its text, as Go's YAML decoder does for `string`
/// fields (`5` is `"5"`); `null` is the empty string.
pub(crate) fn scalar_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<ScalarText>::deserialize(d)?
        .map(|s| s.0)
        .unwrap_or_default())
}

/// A scalar read as text.
struct ScalarText(String);

impl<'de> Deserialize<'de> for ScalarText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ScalarText, D::Error> {
        d.deserialize_string(ScalarVisitor).map(ScalarText)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_unit<E: de::Error>(self) -> Result<String, E> {
        Ok(String::new())
    }
}

/// A `String` field: any scalar as text, `null` as empty.
pub(crate) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    scalar_string(d)
}

/// An unsigned integer field as Go's YAML decoder reads a `uint`: a plain
/// integer; quoted strings and negative numbers are type errors.
pub(crate) fn uint<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an unsigned integer")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<u64>, E> {
            Ok(Some(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<u64>, E> {
            u64::try_from(v)
                .map(Some)
                .map_err(|_| E::custom(format!("cannot unmarshal !!int `{v}` into uint")))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Option<u64>, E> {
            if v >= 0.0 && v.fract() == 0.0 && v < 1.8e19 {
                // Checked to be a whole number in range.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                return Ok(Some(v as u64));
            }
            Err(E::custom(format!(
                "cannot unmarshal !!float `{v}` into uint"
            )))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<u64>, E> {
            Err(E::custom(format!("cannot unmarshal !!str `{v}` into uint")))
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Option<u64>, E> {
            Err(E::custom(format!(
                "cannot unmarshal !!bool `{v}` into uint"
            )))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Option<u64>, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Option<u64>, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<u64>, D::Error> {
            d.deserialize_any(V)
        }
    }
    d.deserialize_any(V)
}

/// A list field where `null` is the empty list.
pub(crate) fn null_list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// A list of strings where each scalar is read as text and `null` is the
/// empty list.
pub(crate) fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<Option<ScalarText>>>::deserialize(d)?
        .unwrap_or_default()
        .into_iter()
        .map(|s| s.map(|s| s.0).unwrap_or_default())
        .collect())
}

/// A YAML value kept as written, for sections Ember parses but does not run.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Yaml {
    /// `null` or an empty value.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A non-negative integer too large for `i64`.
    UInt(u64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    String(String),
    /// A sequence.
    Seq(Vec<Yaml>),
    /// A mapping, in the order written (keys as text).
    Map(Vec<(String, Yaml)>),
}

impl Yaml {
    /// The value under `key` if this is a mapping.
    pub fn get(&self, key: &str) -> Option<&Yaml> {
        match self {
            Yaml::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Yaml {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Yaml, D::Error> {
        d.deserialize_any(YamlVisitor)
    }
}

struct YamlVisitor;

impl<'de> Visitor<'de> for YamlVisitor {
    type Value = Yaml;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Yaml, E> {
        Ok(Yaml::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Yaml, E> {
        Ok(Yaml::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Yaml, E> {
        Ok(i64::try_from(v).map_or(Yaml::UInt(v), Yaml::Int))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Yaml, E> {
        Ok(Yaml::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Yaml, E> {
        Ok(Yaml::String(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Yaml, E> {
        Ok(Yaml::String(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Yaml, E> {
        Ok(Yaml::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Yaml, E> {
        Ok(Yaml::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Yaml, D::Error> {
        Yaml::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Yaml, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(Yaml::Seq(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Yaml, A::Error> {
        let mut out = Vec::new();
        while let Some(k) = map.next_key::<Option<ScalarText>>()? {
            let v = map.next_value()?;
            out.push((k.map(|k| k.0).unwrap_or_default(), v));
        }
        Ok(Yaml::Map(out))
    }
}

/// The Go type name Prometheus's YAML decoder names in "field X not found
/// in type T", keyed by the first field our struct declares (each struct's
/// first field is chosen to be unique among the structs of this crate).
pub(crate) fn go_type_for_first_field(first: &str) -> &'static str {
    match first {
        "global" => "config.plain",
        "scrape_interval" => "config.plain",
        "job_name" => "config.ScrapeConfig",
        "source_labels" => "relabel.plain",
        "targets" => {
            "struct { Targets []string \"yaml:\\\"targets\\\"\"; Labels model.LabelSet \"yaml:\\\"labels\\\"\" }"
        }
        "files" => "file.plain",
        "refresh_interval" => "http.plain",
        "scrape_configs" => "config.ScrapeConfigs",
        "sigv4" => "config.AlertmanagerConfig",
        "username" => "config.plain",
        "type" => "config.plain",
        "client_id" => "config.OAuth2",
        "ca" => "config.plain",
        "alert_relabel_configs" => "config.plain",
        "url" => "config.plain",
        "capacity" => "config.QueueConfig",
        "send" => "config.MetadataConfig",
        "tsdb" => "config.StorageConfig",
        "out_of_order_time_window" => "config.plain",
        "client_type" => "config.plain",
        "region" => "sigv4.SigV4Config",
        "cloud" => "azuread.AzureADConfig",
        "credentials_file" => "googleiam.Config",
        "promote_all_resource_attributes" => "config.plain",
        "gogc" => "config.plain",
        "values" => "config.Header",
        _ => "config.plain",
    }
}
