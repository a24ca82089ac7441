//! The REST rules, most specific first: CSRF, credentials, field names,
//! validation, a NOT NULL column the server never sets, an error after
//! saving, any other server error.

use std::collections::HashSet;

use serde_json::Value;

use super::{Facts, RestCase};
use crate::diagnose::attempt::Attempt;
use crate::diagnose::compare::UnknownField;
use crate::diagnose::error_body::ErrorBody;
use crate::diagnose::finding::{Code, Finding};
use crate::stacks::drf::DrfError;
use crate::stacks::Introspection;
use crate::stacks::{Advice, DbErrorKind, FieldPlace, Situation, StackId};
use std::collections::BTreeMap;

/// `csrf-failed`: Django's CSRF page or DRF's `CSRF Failed`.
pub(super) fn csrf_failed(case: &RestCase<'_>) -> Option<Finding> {
    if !case.error.is_some_and(ErrorBody::is_csrf) {
        return None;
    }
    if let Some(advice) = stack_advice(case, Situation::Csrf) {
        let mut f = case.finding(
            Code::CsrfFailed,
            "The REST path is refused by the CSRF check".to_owned(),
            advice.next_step,
        );
        f.suggestion = advice.suggestion;
        f.explanation.push("The WebSocket handshake is not CSRF-checked, which is why that path works with the same session.".to_owned());
        return Some(f);
    }
    let ctx = &case.attempt.context;
    let origin_host = ctx
        .origin
        .as_deref()
        .map(|o| o.split("://").nth(1).unwrap_or(o));
    let (why, next) = if origin_host.is_some() && origin_host != ctx.host.as_deref() {
        (
            format!(
                "the request's Origin ({}) does not match its Host ({}): Django's CSRF check compares them",
                ctx.origin.as_deref().unwrap_or(""),
                ctx.host.as_deref().unwrap_or("none")
            ),
            "keep the browser's Host when proxying (wsdiag does unless --rewrite-host; in a dev-server proxy, turn off changeOrigin), or add the frontend's origin to CSRF_TRUSTED_ORIGINS".to_owned(),
        )
    } else if !ctx.csrf_header {
        (
            "the request carries no X-CSRFToken header, which session authentication requires for writes".to_owned(),
            "send the csrftoken cookie's value as the X-CSRFToken header (axios: xsrfCookieName = 'csrftoken', xsrfHeaderName = 'X-CSRFToken')".to_owned(),
        )
    } else {
        (
            "the CSRF token sent does not match the csrftoken cookie (a stale token after login rotates it?)".to_owned(),
            "read the csrftoken cookie again after logging in and send that value as X-CSRFToken".to_owned(),
        )
    };
    let mut f = case.finding(
        Code::CsrfFailed,
        format!("The REST path is refused by the CSRF check: {why}"),
        next,
    );
    f.explanation.push("The WebSocket handshake is not CSRF-checked, which is why that path works with the same session.".to_owned());
    Some(f)
}

/// `credentials-missing`: 401/403 on REST while only the WebSocket carries
/// credentials.
pub(super) fn credentials_missing(case: &RestCase<'_>) -> Option<Finding> {
    let refused = matches!(case.status, Some(401 | 403));
    let ws_has = case.ws.is_some_and(|w| w.context.has_credentials());
    if !refused || case.attempt.context.has_credentials() {
        return None;
    }
    let title = if ws_has {
        "The REST request carries no credentials, while the WebSocket handshake does".to_owned()
    } else {
        "The REST request carries no credentials".to_owned()
    };
    let mut f = case.finding(
        Code::CredentialsMissing,
        title,
        "send the same credentials with the REST call: the session cookie (fetch: credentials: 'include'; axios: withCredentials: true) or the Authorization header".to_owned(),
    );
    if let Some(ws) = case.ws {
        f.explanation.push(format!(
            "The WebSocket handshake sent cookies [{}]{}{}.",
            ws.context.cookies.join(", "),
            if ws.context.query_token {
                " and a token in the query"
            } else {
                ""
            },
            ws.context
                .authorization
                .as_deref()
                .map(|a| format!(" and Authorization: {a}"))
                .unwrap_or_default(),
        ));
    }
    Some(f)
}

/// The body fields a validator says are missing or invalid: DRF's
/// serializer errors, or a stack's (pydantic's `loc`, NestJS's messages,
/// `errors: {field: […]}`).
fn field_errors(case: &RestCase<'_>) -> Option<BTreeMap<String, Vec<String>>> {
    match (case.status, case.error) {
        (Some(400), Some(ErrorBody::Drf(DrfError::Fields(fields)))) => Some(fields.clone()),
        (Some(400 | 422), Some(ErrorBody::Report(r))) => {
            let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for f in r
                .fields
                .iter()
                .filter(|f| f.place == FieldPlace::Body && !f.field.is_empty())
            {
                out.entry(f.field.clone())
                    .or_default()
                    .push(f.message.clone());
            }
            (!out.is_empty()).then_some(out)
        }
        _ => None,
    }
}

/// The case's advice in its stack's words, when the stack has them (not
/// Django, whose rules keep their own).
fn stack_advice(case: &RestCase<'_>, situation: Situation<'_>) -> Option<Advice> {
    crate::stacks::advice(case.stack, situation)
}

/// The finding with the stack's words for `situation` as its next step and
/// suggestion, or `django` (next step, suggestion) for Django.
fn finding_with_advice(
    case: &RestCase<'_>,
    code: Code,
    title: String,
    situation: Situation<'_>,
    django: (String, Option<String>),
) -> Finding {
    match stack_advice(case, situation) {
        Some(advice) => {
            let mut f = case.finding(code, title, advice.next_step);
            f.suggestion = advice.suggestion;
            f
        }
        None => {
            let mut f = case.finding(code, title, django.0);
            f.suggestion = django.1;
            f
        }
    }
}

/// `rest-content-type`: JSON sent with a content type the framework does
/// not parse (`fetch` with a string body sends `text/plain;charset=UTF-8`):
/// a 415, or a validator that found no object in the body.
pub(super) fn content_type(case: &RestCase<'_>) -> Option<Finding> {
    let sent = case.attempt.context.content_type.as_deref();
    let form = sent.is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let json_body = !case.attempt.fields.is_empty() && !form;
    let not_json = !sent.is_some_and(|t| t == "application/json" || t.ends_with("+json"));
    let refused_whole_body = match case.error {
        Some(ErrorBody::Report(r)) => r
            .fields
            .iter()
            .any(|f| f.place == FieldPlace::Body && f.field.is_empty()),
        _ => false,
    };
    if !(json_body && not_json && (case.status == Some(415) || refused_whole_body)) {
        return None;
    }
    let sent = case
        .attempt
        .context
        .content_type_sent
        .as_deref()
        .or(sent)
        .unwrap_or("no Content-Type");
    let mut f = case.finding(
        Code::RestContentType,
        format!("The REST request sends JSON as `{sent}`, which the server does not parse as JSON"),
        "send the header `Content-Type: application/json` with the JSON body (fetch: headers: {'Content-Type': 'application/json'}; a string body alone is sent as text/plain)".to_owned(),
    );
    f.explanation.push(
        "The WebSocket path has no content type to get wrong, which is why it works.".to_owned(),
    );
    Some(f)
}

/// `rest-unknown-field`: 400 for a required field while the body sends a
/// name the serializer does not know.
pub(super) fn unknown_field(
    case: &RestCase<'_>,
    introspection: Option<&Introspection>,
) -> Option<Finding> {
    let errors = field_errors(case)?;
    let comparison = case.comparison.as_ref();
    let unknown = comparison
        .map(|c| c.unknown_in_rest.clone())
        .unwrap_or_default();
    // Without the other path's names, the serializer's own field list
    // decides (DRF's OPTIONS), else the one field the validator did not
    // ask for.
    let unknown = match (unknown.is_empty(), introspection) {
        (false, _) => unknown,
        (true, Some(introspection)) => case
            .attempt
            .fields
            .keys()
            .filter(|k| !introspection.fields.contains_key(*k))
            .map(|k| UnknownField {
                name: k.clone(),
                probably: None,
            })
            .collect(),
        (true, None) => sent_instead(case, &errors).into_iter().collect(),
    };
    let first = unknown.first()?;
    let expected = first.probably.clone().or_else(|| {
        errors
            .keys()
            .find(|k| !case.attempt.fields.contains_key(*k))
            .cloned()
    })?;
    let situation = Situation::BodyFieldName {
        sent: &first.name,
        expected: &expected,
    };
    let django = (
        format!("rename `{}` to `{expected}` in the frontend's REST call", first.name),
        Some(format!(
            "or accept both names in the serializer: {} = serializers.CharField(source=\"{expected}\", write_only=True, required=False)",
            first.name
        )),
    );
    let mut f = finding_with_advice(
        case,
        Code::RestUnknownField,
        format!(
            "The REST body sends `{}`, a field the validator does not know; it expects `{expected}`",
            first.name
        ),
        situation,
        django,
    );
    if let Some(messages) = errors.get(&expected) {
        f.explanation.push(format!(
            "{}: {expected}: {}",
            validator(case),
            messages.join(" ")
        ));
    }
    if case.ws.is_some_and(|w| w.fields.contains_key(&expected)) {
        f.explanation.push(format!(
            "The WebSocket path sends `{expected}`, which is why it works."
        ));
    }
    Some(f)
}

/// The validator's name for people: DRF, or the stack's.
fn validator(case: &RestCase<'_>) -> &'static str {
    match case.error.map(ErrorBody::stack) {
        Some(StackId::Fastapi) => "pydantic",
        Some(StackId::Django) => "DRF",
        _ => "the validator",
    }
}

/// Without the other path's field names: the one body field the validator
/// did not ask for, when it asks for a field the body lacks (the body sends
/// `text`, the model wants `content`). The field carrying the content wins
/// when the body has several.
fn sent_instead(
    case: &RestCase<'_>,
    errors: &BTreeMap<String, Vec<String>>,
) -> Option<UnknownField> {
    let fields = &case.attempt.fields;
    errors.keys().find(|k| !fields.contains_key(*k))?;
    let extra: Vec<&String> = fields.keys().filter(|k| !errors.contains_key(*k)).collect();
    let content = case.attempt.content.as_deref();
    let pick = match extra.as_slice() {
        [one] => Some(*one),
        many => many
            .iter()
            .copied()
            .find(|k| fields.get(*k).and_then(Value::as_str).map(str::trim) == content),
    }?;
    Some(UnknownField {
        name: pick.clone(),
        probably: None,
    })
}

/// `rest-validation-failed`: any other 400 with field errors.
pub(super) fn validation_failed(case: &RestCase<'_>) -> Option<Finding> {
    let errors = field_errors(case)?;
    let fields: Vec<&str> = errors.keys().map(String::as_str).collect();
    let mut f = case.finding(
        Code::RestValidationFailed,
        format!("The REST body fails validation on {}", fields.join(", ")),
        "send the fields as the validator expects them (see the messages), or compare with the WebSocket payload".to_owned(),
    );
    for (field, messages) in &errors {
        f.explanation.push(format!(
            "{}: {field}: {}",
            validator(case),
            messages.join(" ")
        ));
    }
    Some(f)
}

/// The column a NOT NULL violation names, for SQLite, PostgreSQL and
/// MySQL (read by `stacks::db`).
fn not_null_column(message: &str) -> Option<String> {
    crate::stacks::db::parse(message)
        .filter(|e| e.kind == DbErrorKind::NotNull)
        .and_then(|e| e.column)
}

/// The Django field behind a column: `expediteur_id` is the foreign key
/// `expediteur`.
fn field_of(column: &str) -> &str {
    column.strip_suffix("_id").unwrap_or(column)
}

/// True for a value that is a user: an object with `username` or `email`.
fn is_user(value: Option<&Value>) -> bool {
    value
        .and_then(Value::as_object)
        .is_some_and(|o| o.contains_key("username") || o.contains_key("email"))
}

/// Field names that hold the user who wrote something.
const USER_FIELDS: [&str; 7] = [
    "user",
    "author",
    "owner",
    "sender",
    "created_by",
    "expediteur",
    "auteur",
];

/// What the server would set `field` to, as Python.
fn server_value(case: &RestCase<'_>, field: &str) -> String {
    if is_user(case.saved_value(field)) || USER_FIELDS.contains(&field) {
        "self.request.user".to_owned()
    } else {
        format!("<the {field} the server knows>")
    }
}

/// `save(ARGS)` in `source` with `field=value` added, when the line has one.
fn with_save_argument(source: &str, field: &str, value: &str) -> Option<String> {
    let at = source.find(".save(")? + ".save(".len();
    let close = at + source[at..].rfind(')')?;
    let args = source[at..close].trim();
    let sep = if args.is_empty() { "" } else { ", " };
    Some(format!(
        "{}{args}{sep}{field}={value}{}",
        &source[..at],
        &source[close..]
    ))
}

/// `rest-missing-server-field`: a NOT NULL violation on a field the REST
/// path never sets.
pub(super) fn missing_server_field(
    case: &RestCase<'_>,
    introspection: Option<&Introspection>,
) -> Option<Finding> {
    let error = case.error?;
    let column = not_null_column(error.message()?)?;
    let django = error.stack() == StackId::Django;
    let field = if django {
        field_of(&column)
    } else {
        column.as_str()
    }
    .to_owned();
    let value = server_value(case, &field);
    let user = is_user(case.saved_value(&field)) || value == "self.request.user";
    let mut f = finding_with_advice(
        case,
        Code::RestMissingServerField,
        format!("The REST path never sets `{field}`, so the database refuses to save the message"),
        Situation::ServerFieldNotSet { field: &field, user },
        (
            format!("set `{field}` on the server in the view's perform_create: serializer.save({field}={value})"),
            None,
        ),
    );
    if let Some(saved) = case.saved_value(&field) {
        f.explanation.push(format!(
            "The WebSocket {} fills `{field}` from the connection (saved as {saved}): that is why that path works.",
            if django { "consumer" } else { "handler" }
        ));
    }
    if !case.attempt.fields.contains_key(&field) {
        f.explanation.push(format!(
            "The REST body {} does not carry `{field}`, and the {} does not set it.",
            Value::Object(case.attempt.fields.clone()),
            if django { "view" } else { "route" }
        ));
    }
    f.explanation
        .extend(schema_says(introspection, &field, django));
    if !django {
        return Some(f);
    }
    let location = f.location.clone();
    f.suggestion = location
        .as_ref()
        .filter(|l| l.function == "perform_create" || l.source.contains(".save("))
        .and_then(|l| with_save_argument(&l.source, &field, &value))
        .map(|line| format!("{line}\n(and declare `{field}` read-only in the serializer, so clients never have to send it)"));
    Some(f)
}

/// What the upstream's own description of the endpoint says about
/// `field`: DRF's `OPTIONS`, or its OpenAPI document.
fn schema_says(introspection: Option<&Introspection>, field: &str, django: bool) -> Option<String> {
    let schema = introspection?;
    let info = schema.fields.get(field);
    let source = &schema.source;
    Some(match info {
        Some(info) if info.read_only && django => format!(
            "{source} says `{field}` is read-only: the serializer ignores client values, so only the view can set it."
        ),
        Some(info) if info.required && django => format!(
            "{source} says `{field}` is required and writable: the serializer expects the client to send it; make it read-only and set it on the server instead."
        ),
        Some(info) if info.read_only => format!(
            "The API description ({source}) has `{field}` only as a value the server sets: clients are not meant to send it, so the route must set it."
        ),
        Some(info) if info.required => format!(
            "The API description ({source}) requires the client to send `{field}`: either the client sends it, or the route sets it and the request schema drops it."
        ),
        Some(_) => return None,
        None => format!(
            "The API description ({source}) does not mention `{field}` for this endpoint: the server is meant to set it."
        ),
    })
}

/// What the events after a failed REST write show about whether it saved
/// anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Saved {
    /// A new object with the REST content appeared (event `seq`): an id no
    /// event before the request showed and no WebSocket send produced.
    New(u64),
    /// A later broadcast or list (event `seq`) shows the content only in
    /// objects known already (the WebSocket's message): nothing was saved.
    Nothing(u64),
    /// Nothing after the request says either way.
    Unknown,
}

/// The ids of the objects in `value`, at any depth, that hold `content` in
/// Whether the REST attempt saved its content, by the proof the events give
/// (see [`Saved`]): an object holding the content under an id that no
/// earlier event showed and no WebSocket send produced.
pub(super) fn saved_by(facts: &Facts<'_>, attempt: &Attempt) -> Saved {
    let Some(content) = attempt.content.as_deref() else {
        return Saved::Unknown;
    };
    let shown = facts.reading.shown_with(content);
    let earlier: HashSet<String> = shown
        .iter()
        .filter(|s| s.seq < attempt.seq)
        .map(|s| s.id.to_string())
        .collect();
    let known = |id: &Value| {
        let id = id.to_string();
        facts.ws_saved_ids.contains(&id) || earlier.contains(&id)
    };
    let mut only_known = None;
    for later in shown.iter().filter(|s| s.seq > attempt.seq) {
        if !known(&later.id) {
            return Saved::New(later.seq);
        }
        only_known.get_or_insert(later.seq);
    }
    only_known.map_or(Saved::Unknown, Saved::Nothing)
}

/// `rest-error-after-save`: a 5xx although the object was saved.
pub(super) fn error_after_save(case: &RestCase<'_>, facts: &Facts<'_>) -> Option<Finding> {
    if !case.is_server_error() {
        return None;
    }
    let Saved::New(seen) = saved_by(facts, case.attempt) else {
        return None;
    };
    let where_ = case
        .error
        .and_then(ErrorBody::location)
        .map(|l| format!(" in {} ({}:{})", l.function, l.file, l.line))
        .unwrap_or_default();
    let response_field = match case.error {
        Some(ErrorBody::Report(r)) => r
            .fields
            .iter()
            .find(|f| f.place == FieldPlace::Response)
            .map(|f| f.field.as_str()),
        _ => None,
    };
    let mut f = finding_with_advice(
        case,
        Code::RestErrorAfterSave,
        format!("The REST path saved the message, then failed while building its response{where_}"),
        Situation::ErrorAfterSave {
            field: response_field,
        },
        (
            "fix the response serializer at the line above; until then, do not retry a POST that got a 500 without checking the list first".to_owned(),
            None,
        ),
    );
    if let Some(field) = response_field {
        f.explanation.push(format!(
            "The response schema requires `{field}`, which the saved object lacks: the error is raised after the handler returned."
        ));
    }
    f.evidence.push(seen);
    f.evidence.sort_unstable();
    f.explanation.push(format!(
        "The saved message appears after the request (event {seen}), so the write succeeded: the client sees a 500, and a retry would save it twice."
    ));
    Some(f)
}

/// The property an error says was read on nothing: `reading 'name'` of a
/// JavaScript `TypeError` on undefined, or a Python `'NoneType' object has
/// no attribute 'name'`.
fn read_on_nothing(message: &str) -> Option<&str> {
    fn quoted(s: &str) -> Option<&str> {
        s.split(['\'', '"']).nth(1)
    }
    if message.contains("of undefined") || message.contains("of null") {
        return message
            .split("(reading ")
            .nth(1)
            .and_then(quoted)
            .or_else(|| {
                message
                    .split("Cannot read property ")
                    .nth(1)
                    .and_then(quoted)
            });
    }
    message
        .split("'NoneType' object has no attribute ")
        .nth(1)
        .and_then(quoted)
}

/// `rest-body-not-parsed`: a 5xx reading a body field on nothing: the
/// route has no parsed body (Express without `express.json()`).
pub(super) fn body_not_parsed(case: &RestCase<'_>) -> Option<Finding> {
    let property = read_on_nothing(case.error?.message()?)?;
    if !case.is_server_error() || !case.attempt.fields.contains_key(property) {
        return None;
    }
    let mut f = finding_with_advice(
        case,
        Code::RestBodyNotParsed,
        format!("The REST route reads `{property}` from a body it never parsed"),
        Situation::BodyNotParsed,
        ("parse the request body before reading it".to_owned(), None),
    );
    f.explanation.push(format!(
        "The request sent {} as {}, but the route's body is empty: no body parser handles it.",
        Value::Object(case.attempt.fields.clone()),
        case.attempt
            .context
            .content_type
            .as_deref()
            .unwrap_or("a body without Content-Type")
    ));
    Some(f)
}

/// `rest-user-missing`: a 5xx reading a property of the user on nothing,
/// while the WebSocket path knows the user (its handshake authenticates).
pub(super) fn user_missing(case: &RestCase<'_>) -> Option<Finding> {
    let property = read_on_nothing(case.error?.message()?)?;
    if !case.is_server_error() || case.attempt.fields.contains_key(property) {
        return None;
    }
    let field = case
        .comparison
        .as_ref()
        .and_then(|c| {
            c.missing_in_rest
                .iter()
                .find(|k| is_user(case.saved_value(k)) || USER_FIELDS.contains(&k.as_str()))
        })
        .cloned()?;
    let mut f = finding_with_advice(
        case,
        Code::RestUserMissing,
        format!("The REST route has no authenticated user, so it cannot set `{field}` (it read `{property}` on nothing)"),
        Situation::UserMissing { field: &field },
        (format!("require authentication on this view so that `request.user` is set, then save `{field}` from it"), None),
    );
    if let Some(saved) = case.saved_value(&field) {
        f.explanation.push(format!(
            "The WebSocket path authenticates in its handshake and saved `{field}` as {saved}."
        ));
    }
    Some(f)
}

/// `rest-server-error`: any other 5xx, with the likely cause from the
/// comparison when there is one.
pub(super) fn server_error(
    case: &RestCase<'_>,
    introspection: Option<&Introspection>,
) -> Option<Finding> {
    if !case.is_server_error() {
        return None;
    }
    let suspects: Vec<String> = case
        .comparison
        .as_ref()
        .map(|c| {
            c.missing_in_rest
                .iter()
                .filter(|k| {
                    is_user(case.saved_value(k))
                        || USER_FIELDS.contains(&k.as_str())
                        || introspection
                            .and_then(|i| i.fields.get(*k))
                            .is_some_and(|f| f.required && !f.read_only)
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let generic = case.error.is_some_and(ErrorBody::details_in_log);
    let title = match suspects.first() {
        Some(field) => format!("The REST path fails with a server error; likely cause: it never sets `{field}`, which the WebSocket path fills from the connection"),
        None => "The REST path fails with a server error".to_owned(),
    };
    let in_log = generic
        .then(|| stack_advice(case, Situation::DetailsInLog))
        .flatten();
    let next = if let Some(advice) = in_log {
        advice.next_step
    } else if generic {
        "the traceback is only in the server's log (DEBUG=False): find this request there, or reproduce with DEBUG=True; `wsdiag probe` sends the same message both ways".to_owned()
    } else {
        "read the exception and the line above; compare the REST body with the WebSocket payload below".to_owned()
    };
    let mut f = case.finding(Code::RestServerError, title, next);
    if let Some(ErrorBody::Other(quoted)) = case.error {
        f.explanation.push(format!(
            "wsdiag does not recognise the framework of this error page; it begins: {quoted}"
        ));
    }
    for field in &suspects {
        let value = server_value(case, field);
        let saved = case
            .saved_value(field)
            .map(Value::to_string)
            .unwrap_or_default();
        let situation = Situation::ServerFieldNotSet {
            field,
            user: value == "self.request.user",
        };
        let fix = match stack_advice(case, situation) {
            Some(advice) => format!("To try: {}.", advice.next_step),
            None => format!("Try serializer.save({field}={value}) in perform_create."),
        };
        f.explanation.push(format!(
            "The saved object has `{field}` ({saved}), which the REST body never supplies; if the server does not set it, saving fails. {fix}"
        ));
        let django = case.stack == StackId::Django;
        f.explanation
            .extend(schema_says(introspection, field, django));
    }
    Some(f)
}

/// `rest-failed`: what no other rule explains.
pub(super) fn rest_failed(case: &RestCase<'_>) -> Finding {
    let what = case
        .status
        .map_or("no response".to_owned(), |s| format!("HTTP {s}"));
    case.finding(
        Code::RestFailed,
        format!("The REST path fails ({what})"),
        "read the error above and the upstream's log for this request".to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_null_columns_of_three_databases() {
        assert_eq!(
            not_null_column("NOT NULL constraint failed: chat_message.expediteur_id").as_deref(),
            Some("expediteur_id")
        );
        assert_eq!(
            not_null_column("null value in column \"expediteur_id\" of relation \"chat_message\" violates not-null constraint").as_deref(),
            Some("expediteur_id")
        );
        assert_eq!(
            not_null_column("(1048, \"Column 'expediteur_id' cannot be null\")").as_deref(),
            Some("expediteur_id")
        );
        assert_eq!(field_of("expediteur_id"), "expediteur");
    }

    #[test]
    fn the_sender_is_added_to_the_save_call() {
        assert_eq!(
            with_save_argument("message = serializer.save(conversation=conversation)", "expediteur", "self.request.user").as_deref(),
            Some("message = serializer.save(conversation=conversation, expediteur=self.request.user)")
        );
        assert_eq!(
            with_save_argument("serializer.save()", "user", "self.request.user").as_deref(),
            Some("serializer.save(user=self.request.user)")
        );
    }
}
