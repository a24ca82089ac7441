//! OpenAPI documents: which fields a write endpoint's body takes and which
//! the server sets, read from the operation the endpoint's path matches.
//!
//! Follows the OpenAPI Specification 3.x ("Paths Object": path templates
//! with `{name}` segments; "Operation Object": `requestBody.content`,
//! `responses`; "Schema Object": `properties`, `required`, `readOnly`,
//! `allOf`; "Reference Object": `$ref` to `#/components/schemas/…`) and
//! Swagger 2.0 (the body as an `in: body` parameter, `#/definitions/…`).
//! FastAPI, springdoc, NestJS's SwaggerModule and Swashbuckle publish such
//! documents; [`super::schema_sources`] says where each does.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::api::{FieldInfo, Introspection};

/// How deep `$ref` and `allOf` are followed: enough for real documents,
/// and bounded for a document whose references loop.
const MAX_DEPTH: usize = 8;

/// The fields of the `method` operation on `path` (a request path, query
/// allowed) in `document` (JSON), read from the operation's JSON request
/// body and its first 2xx response: a request property is required when
/// the schema lists it, read-only when it says `readOnly`; a property only
/// the response has is one the server sets (read-only). `source` names the
/// document in the result. `None` when the document is not JSON, has no
/// such operation, or the operation takes no JSON object.
pub fn write_schema(
    document: &str,
    source: &str,
    method: &str,
    path: &str,
) -> Option<Introspection> {
    let doc: Value = serde_json::from_str(document).ok()?;
    let method = method.to_ascii_lowercase();
    let template = matching_template(doc.get("paths")?.as_object()?, &method, path)?;
    let operation = doc["paths"][template].get(&method)?;
    let request = request_schema(operation)?;
    let mut fields = BTreeMap::new();
    let mut request_props = Map::new();
    let mut required = Vec::new();
    collect(&doc, request, 0, &mut request_props, &mut required);
    if request_props.is_empty() {
        return None;
    }
    for (name, schema) in &request_props {
        let schema = resolve(&doc, schema, 0).unwrap_or(schema);
        fields.insert(
            name.clone(),
            FieldInfo {
                required: required.contains(name),
                read_only: schema.get("readOnly").and_then(Value::as_bool) == Some(true),
                kind: kind(schema),
            },
        );
    }
    if let Some(response) = response_schema(operation) {
        let mut response_props = Map::new();
        collect(&doc, response, 0, &mut response_props, &mut Vec::new());
        for (name, schema) in response_props {
            let schema = resolve(&doc, &schema, 0).unwrap_or(&schema).clone();
            fields.entry(name).or_insert_with(|| FieldInfo {
                required: false,
                read_only: true,
                kind: kind(&schema),
            });
        }
    }
    Some(Introspection {
        source: source.to_owned(),
        fields,
    })
}

/// The path template of `paths` with a `method` operation that `path`
/// matches, literal segments preferred over `{parameters}`; a trailing
/// slash on either side is ignored.
fn matching_template<'a>(
    paths: &'a Map<String, Value>,
    method: &str,
    path: &str,
) -> Option<&'a str> {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    paths
        .iter()
        .filter(|(_, item)| item.get(method).is_some())
        .filter_map(|(template, _)| {
            let parts: Vec<&str> = template.trim_end_matches('/').split('/').collect();
            if parts.len() != segments.len() {
                return None;
            }
            let mut parameters = 0;
            for (part, segment) in parts.iter().zip(&segments) {
                if part.starts_with('{') && part.ends_with('}') && !segment.is_empty() {
                    parameters += 1;
                } else if part != segment {
                    return None;
                }
            }
            Some((parameters, template.as_str()))
        })
        .min()
        .map(|(_, template)| template)
}

/// The JSON body's schema: OpenAPI 3's `requestBody`, or Swagger 2's
/// `in: body` parameter.
fn request_schema(operation: &Value) -> Option<&Value> {
    json_content(operation.get("requestBody")).or_else(|| {
        operation
            .get("parameters")?
            .as_array()?
            .iter()
            .find(|p| p.get("in").and_then(Value::as_str) == Some("body"))?
            .get("schema")
    })
}

/// The schema of the first 2xx response.
fn response_schema(operation: &Value) -> Option<&Value> {
    let responses = operation.get("responses")?.as_object()?;
    let (_, response) = responses.iter().find(|(code, _)| code.starts_with('2'))?;
    json_content(Some(response)).or_else(|| response.get("schema"))
}

/// The schema of a JSON media type in `content` (`application/json`, or any
/// `+json`).
fn json_content(holder: Option<&Value>) -> Option<&Value> {
    let content = holder?.get("content")?.as_object()?;
    content
        .iter()
        .find(|(media, _)| media.starts_with("application/json") || media.contains("+json"))
        .and_then(|(_, media)| media.get("schema"))
}

/// `schema` with its `$ref` followed, within the document.
fn resolve<'a>(doc: &'a Value, schema: &'a Value, depth: usize) -> Option<&'a Value> {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) if depth < MAX_DEPTH => {
            let target = doc.pointer(reference.strip_prefix('#')?)?;
            resolve(doc, target, depth + 1)
        }
        Some(_) => None,
        None => Some(schema),
    }
}

/// The properties and required names of an object schema, through `$ref`
/// and `allOf` (an array of such objects: its items'). Each reference is
/// followed once, so a document whose references loop or fan out stays
/// cheap.
fn collect(
    doc: &Value,
    schema: &Value,
    depth: usize,
    properties: &mut Map<String, Value>,
    required: &mut Vec<String>,
) {
    collect_once(doc, schema, depth, properties, required, &mut Vec::new());
}

fn collect_once<'a>(
    doc: &'a Value,
    schema: &'a Value,
    depth: usize,
    properties: &mut Map<String, Value>,
    required: &mut Vec<String>,
    seen: &mut Vec<&'a str>,
) {
    if depth >= MAX_DEPTH {
        return;
    }
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        if seen.contains(&reference) {
            return;
        }
        seen.push(reference);
    }
    let Some(schema) = resolve(doc, schema, depth) else {
        return;
    };
    if let Some(items) = schema.get("items") {
        return collect(doc, items, depth + 1, properties, required);
    }
    for part in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        collect(doc, part, depth + 1, properties, required);
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        properties.extend(props.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let names = schema.get("required").and_then(Value::as_array);
    required.extend(
        names
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned),
    );
}

/// A property's type name: its `type`, the name its `$ref` points to, or
/// `field`.
fn kind(schema: &Value) -> String {
    match schema.get("type") {
        Some(Value::String(t)) => t.clone(),
        _ => schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.rsplit('/').next())
            .unwrap_or("field")
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape FastAPI 0.165 publishes for `POST /api/rooms/{room}/messages`
    /// with `MessageIn {text}` and `response_model=MessageOut`.
    const FASTAPI: &str = r##"{"openapi":"3.1.0","paths":{"/api/rooms/{room}/messages":{"post":{"requestBody":{"required":true,"content":{"application/json":{"schema":{"$ref":"#/components/schemas/MessageIn"}}}},"responses":{"201":{"content":{"application/json":{"schema":{"$ref":"#/components/schemas/MessageOut"}}}},"422":{}}}},"/api/rooms/general/messages":{"get":{}}},"components":{"schemas":{"MessageIn":{"properties":{"text":{"type":"string"}},"type":"object","required":["text"]},"MessageOut":{"properties":{"id":{"type":"integer"},"room":{"type":"string"},"text":{"type":"string"},"sender":{"type":"string"}},"type":"object","required":["id","room","text","sender"]}}}}"##;

    #[test]
    fn a_fastapi_operation_says_the_client_sends_text_and_the_server_sets_sender() {
        let schema = write_schema(
            FASTAPI,
            "/openapi.json",
            "POST",
            "/api/rooms/general/messages?x=1",
        )
        .unwrap();
        assert_eq!(schema.source, "/openapi.json");
        let text = &schema.fields["text"];
        assert!(text.required && !text.read_only);
        let sender = &schema.fields["sender"];
        assert!(sender.read_only && !sender.required, "{schema:?}");
        assert_eq!(sender.kind, "string");
        assert!(write_schema(FASTAPI, "x", "PUT", "/api/rooms/general/messages").is_none());
        assert!(write_schema(FASTAPI, "x", "POST", "/api/rooms").is_none());
    }

    #[test]
    fn swagger_2_bodies_all_of_and_read_only() {
        let doc = r##"{"swagger":"2.0","paths":{"/messages/":{"post":{"parameters":[{"in":"body","name":"m","schema":{"$ref":"#/definitions/Message"}}],"responses":{"200":{"schema":{"$ref":"#/definitions/Message"}}}}}},"definitions":{"Base":{"properties":{"id":{"type":"integer","readOnly":true}}},"Message":{"allOf":[{"$ref":"#/definitions/Base"},{"properties":{"body":{"type":"string"}},"required":["body"]}]}}}"##;
        let schema = write_schema(doc, "/swagger.json", "post", "/messages").unwrap();
        assert!(schema.fields["id"].read_only);
        assert!(schema.fields["body"].required);
    }

    #[test]
    fn references_that_fan_out_are_followed_once() {
        // A: allOf [B, B, B, B], B: allOf [A, A, A, A]: 4^8 paths without
        // a memory of what was followed.
        let doc = r##"{"paths":{"/a":{"post":{"requestBody":{"content":{"application/json":{"schema":{"$ref":"#/components/schemas/A"}}}}}}},"components":{"schemas":{"A":{"allOf":[{"$ref":"#/components/schemas/B"},{"$ref":"#/components/schemas/B"},{"$ref":"#/components/schemas/B"},{"$ref":"#/components/schemas/B"}],"properties":{"x":{"type":"string"}}},"B":{"allOf":[{"$ref":"#/components/schemas/A"},{"$ref":"#/components/schemas/A"},{"$ref":"#/components/schemas/A"},{"$ref":"#/components/schemas/A"}],"properties":{"y":{"type":"string"}}}}}}"##;
        let schema = write_schema(doc, "x", "POST", "/a").unwrap();
        assert!(schema.fields.contains_key("x") && schema.fields.contains_key("y"));
    }

    #[test]
    fn looping_references_and_junk_end() {
        let doc = r##"{"paths":{"/a":{"post":{"requestBody":{"content":{"application/json":{"schema":{"$ref":"#/components/schemas/A"}}}}}}},"components":{"schemas":{"A":{"$ref":"#/components/schemas/A"}}}}"##;
        assert!(write_schema(doc, "x", "POST", "/a").is_none());
        assert!(write_schema("<html>", "x", "POST", "/a").is_none());
        assert!(write_schema("{\"paths\":[]}", "x", "POST", "/a").is_none());
    }
}
