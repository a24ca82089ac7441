//! The comparison of the two send paths of one action: the REST body's
//! fields against the WebSocket payload's against the object the upstream
//! saved (as it broadcast or listed it), and the REST request's context
//! (cookies, CSRF header, Authorization, Content-Type, Origin, Host) against
//! the WebSocket handshake's.

use serde::Serialize;
use serde_json::{Map, Value};

use super::attempt::Attempt;
use super::context::RequestContext;
use crate::stacks::Introspection;

/// One field across the paths.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldRow {
    /// The field name.
    pub name: String,
    /// Its value in the REST body.
    pub rest: Option<Value>,
    /// Its value in the WebSocket payload.
    pub ws: Option<Value>,
    /// Its value in the saved object.
    pub saved: Option<Value>,
}

/// A field the REST body uses that the saved object does not know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnknownField {
    /// The REST body's field name (`contenu`).
    pub name: String,
    /// The saved object's field that holds the same value (`message`).
    pub probably: Option<String>,
}

/// A field whose JSON type differs between the REST body and the saved
/// object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TypeChange {
    /// The field.
    pub name: String,
    /// Its type in the REST body.
    pub rest: &'static str,
    /// Its type in the saved object.
    pub saved: &'static str,
}

/// One request-context item on both paths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContextRow {
    /// What is compared.
    pub item: &'static str,
    /// On the REST request.
    pub rest: String,
    /// On the WebSocket handshake.
    pub ws: String,
}

/// Everything that differs between the paths.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Comparison {
    /// Every field seen on any side.
    pub fields: Vec<FieldRow>,
    /// Fields the saved object has that the REST body never supplied (the
    /// WebSocket consumer fills them from the connection or the URL).
    pub missing_in_rest: Vec<String>,
    /// Fields the REST body uses that the saved object does not know.
    pub unknown_in_rest: Vec<UnknownField>,
    /// Fields whose type differs.
    pub type_changes: Vec<TypeChange>,
    /// Request context, REST against the WebSocket handshake; only the rows
    /// that differ.
    pub context: Vec<ContextRow>,
}

/// Compares a REST attempt with the WebSocket attempt of the same action
/// and the saved object.
pub fn compare(
    rest: &Attempt,
    ws: Option<&Attempt>,
    saved: Option<&Map<String, Value>>,
    introspection: Option<&Introspection>,
) -> Comparison {
    let empty = Map::new();
    let ws_fields = ws.map_or(&empty, |w| &w.fields);
    let saved = saved.unwrap_or(&empty);
    let mut names: Vec<&String> = rest
        .fields
        .keys()
        .chain(ws_fields.keys())
        .chain(saved.keys())
        .collect();
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(*n));
    let fields = names
        .iter()
        .map(|name| FieldRow {
            name: (*name).clone(),
            rest: rest.fields.get(*name).cloned(),
            ws: ws_fields.get(*name).cloned(),
            saved: saved.get(*name).cloned(),
        })
        .collect();
    let missing_in_rest = saved
        .keys()
        .filter(|k| !rest.fields.contains_key(*k) && !matches!(k.as_str(), "id" | "pk" | "uuid"))
        .cloned()
        .collect();
    let known = |k: &str| {
        saved.contains_key(k)
            || ws_fields.contains_key(k)
            || introspection.is_some_and(|i| i.fields.contains_key(k))
    };
    let unknown_in_rest = rest
        .fields
        .iter()
        // Without a saved object or the serializer's fields, nothing is known.
        .filter(|(k, _)| !(known(k) || saved.is_empty() && introspection.is_none()))
        .map(|(k, v)| UnknownField {
            name: k.clone(),
            probably: saved
                .iter()
                .chain(ws_fields.iter())
                .find(|(_, sv)| *sv == v && v.is_string())
                .map(|(sk, _)| sk.clone()),
        })
        .collect();
    let type_changes = rest
        .fields
        .iter()
        .filter_map(|(k, v)| {
            let s = saved.get(k)?;
            (kind(v) != kind(s) && !s.is_null()).then(|| TypeChange {
                name: k.clone(),
                rest: kind(v),
                saved: kind(s),
            })
        })
        .collect();
    Comparison {
        fields,
        missing_in_rest,
        unknown_in_rest,
        type_changes,
        context: ws
            .map(|w| context_rows(&rest.context, &w.context))
            .unwrap_or_default(),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The context items that differ between the REST request and the
/// WebSocket handshake.
fn context_rows(rest: &RequestContext, ws: &RequestContext) -> Vec<ContextRow> {
    let list = |v: &[String]| {
        if v.is_empty() {
            "none".to_owned()
        } else {
            v.join(", ")
        }
    };
    let yes = |b: bool| if b { "sent" } else { "not sent" }.to_owned();
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".to_owned());
    let mut rest_cookies = rest.cookies.clone();
    let mut ws_cookies = ws.cookies.clone();
    rest_cookies.sort();
    ws_cookies.sort();
    let rows = [
        ("cookies", list(&rest_cookies), list(&ws_cookies)),
        (
            "Authorization",
            opt(&rest.authorization),
            opt(&ws.authorization),
        ),
        (
            "token in the query",
            yes(rest.query_token),
            yes(ws.query_token),
        ),
        ("CSRF header", yes(rest.csrf_header), yes(ws.csrf_header)),
        ("Origin", opt(&rest.origin), opt(&ws.origin)),
        ("Host", opt(&rest.host), opt(&ws.host)),
    ];
    rows.into_iter()
        // A WebSocket handshake never carries a CSRF header; only show it
        // when the REST request lacks one too (a CSRF problem).
        .filter(|(item, r, w)| r != w && !(*item == "CSRF header" && rest.csrf_header))
        .map(|(item, rest, ws)| ContextRow { item, rest, ws })
        .collect()
}
