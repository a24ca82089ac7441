//! Django REST Framework's JSON errors, read by structure, not by wording,
//! so they are understood in any language:
//! - validation: `{"field": ["message", ...], ...}`, nested for nested
//!   serializers, with `non_field_errors` for object-level errors;
//! - everything else (authentication, permission, CSRF under
//!   `SessionAuthentication`, throttling, 404): `{"detail": "message"}`.

use std::collections::BTreeMap;

use super::api::{FieldInfo, Introspection};

use serde_json::Value;

/// A DRF error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DrfError {
    /// Validation errors by field (`non_field_errors` included as a field).
    /// Nested fields are joined with dots: `expediteur.username`.
    Fields(BTreeMap<String, Vec<String>>),
    /// A `{"detail": ...}` error.
    Detail(String),
}

impl DrfError {
    /// Parses a DRF error body; `None` for anything else.
    pub fn parse(body: &str) -> Option<DrfError> {
        let value: Value = serde_json::from_str(body).ok()?;
        let object = value.as_object()?;
        if let Some(Value::String(detail)) = object.get("detail") {
            return Some(DrfError::Detail(detail.clone()));
        }
        // DRF's field errors are lists (or, for nested serializers,
        // objects) under each field; a top-level string (`{"error": "…"}`)
        // is some other framework's envelope.
        if object.values().any(Value::is_string) {
            return None;
        }
        let mut fields = BTreeMap::new();
        collect(&value, "", &mut fields)?;
        (!fields.is_empty()).then_some(DrfError::Fields(fields))
    }

    /// True for DRF's CSRF failure (`CSRF Failed: ...`, also in
    /// translations, which keep the acronym).
    pub fn is_csrf(&self) -> bool {
        matches!(self, DrfError::Detail(d) if d.contains("CSRF"))
    }
}

/// Adds the field errors in `value` under `prefix`; `None` if `value` is not
/// shaped like DRF validation errors.
fn collect(value: &Value, prefix: &str, out: &mut BTreeMap<String, Vec<String>>) -> Option<()> {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let name = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                collect(inner, &name, out)?;
            }
            Some(())
        }
        Value::Array(items) if items.iter().all(Value::is_string) => {
            let messages = items.iter().filter_map(Value::as_str).map(str::to_owned);
            out.entry(prefix.to_owned()).or_default().extend(messages);
            Some(())
        }
        Value::String(s) if !prefix.is_empty() => {
            out.entry(prefix.to_owned()).or_default().push(s.clone());
            Some(())
        }
        _ => None,
    }
}

/// The fields DRF's `OPTIONS` answer describes (`SimpleMetadata`:
/// `actions.POST`, or `PUT`); `None` when it describes no write action.
pub fn options_schema(body: &str) -> Option<Introspection> {
    let value: Value = serde_json::from_str(body).ok()?;
    let actions = value.get("actions")?;
    let post = actions
        .get("POST")
        .or_else(|| actions.get("PUT"))?
        .as_object()?;
    let fields = post
        .iter()
        .map(|(name, info)| {
            let flag = |key: &str| info.get(key).and_then(Value::as_bool).unwrap_or(false);
            let kind = info.get("type").and_then(Value::as_str).unwrap_or("field");
            let field = FieldInfo {
                required: flag("required"),
                read_only: flag("read_only"),
                kind: kind.to_owned(),
            };
            (name.clone(), field)
        })
        .collect();
    Some(Introspection {
        source: "OPTIONS".to_owned(),
        fields,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn options_metadata_describes_the_serializer() {
        let body = r#"{"name":"Message List","actions":{"POST":{"id":{"type":"integer","required":false,"read_only":true},"expediteur":{"type":"field","required":true,"read_only":false}}}}"#;
        let i = options_schema(body).unwrap();
        assert!(i.fields["id"].read_only);
        assert!(i.fields["expediteur"].required && !i.fields["expediteur"].read_only);
        assert_eq!(options_schema(r#"{"name":"x"}"#), None);
    }

    use super::*;

    #[test]
    fn field_errors_in_any_language() {
        let e = DrfError::parse(r#"{"message":["Ce champ est obligatoire."]}"#).unwrap();
        assert_eq!(
            e,
            DrfError::Fields(BTreeMap::from([(
                "message".to_owned(),
                vec!["Ce champ est obligatoire.".to_owned()]
            )]))
        );
        let nested =
            DrfError::parse(r#"{"expediteur":{"username":["x"]},"non_field_errors":["y"]}"#)
                .unwrap();
        let DrfError::Fields(f) = nested else {
            panic!()
        };
        assert_eq!(
            f.keys().collect::<Vec<_>>(),
            ["expediteur.username", "non_field_errors"]
        );
    }

    #[test]
    fn detail_errors_and_csrf() {
        let e = DrfError::parse(r#"{"detail":"CSRF Failed: CSRF token missing."}"#).unwrap();
        assert!(e.is_csrf());
        let auth = DrfError::parse(r#"{"detail":"Authentication credentials were not provided."}"#)
            .unwrap();
        assert!(!auth.is_csrf());
    }

    #[test]
    fn other_json_is_not_a_drf_error() {
        assert_eq!(DrfError::parse(r#"{"id":3,"message":"cc"}"#), None);
        assert_eq!(DrfError::parse("[1,2]"), None);
        assert_eq!(DrfError::parse("not json"), None);
    }
}
