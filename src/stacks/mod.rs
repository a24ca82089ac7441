//! Stacks: what each backend framework's error responses say, and the
//! words of its advice.
//!
//! The diagnosis decides what went wrong from generic facts (a send that
//! failed, the field the database refused, the field a validator wanted);
//! a stack module reads its framework's error pages into an
//! [`ErrorReport`] and puts a [`Situation`] into its framework's words.
//! Django's pages ([`django`]) and DRF's JSON errors and `OPTIONS`
//! description ([`drf`]) live here too; Django's advice is still written by
//! the diagnosis rules, in the words the first version gave it.
//!
//! Adding a framework: one file with its `parse`, one line in
//! [`parse_framework`], one `StackId` and, where it has words of its own,
//! an arm in [`advice()`] (the words live side by side in `advice.rs`).

mod advice;
pub mod api;
pub mod aspnet;
pub mod db;
pub mod django;
pub mod drf;
pub mod express;
pub mod fastapi;
pub mod flask;
pub mod generic;
pub mod laravel;
pub mod openapi;
pub mod page;
pub mod phoenix;
pub mod python_traceback;
pub mod rails;
pub mod spring;

pub use advice::advice;
pub use api::{
    Advice, DbError, DbErrorKind, ErrorReport, FieldError, FieldInfo, FieldPlace, Frame,
    Introspection, Situation, StackId,
};

/// Reads an error response (status 400 or more) with the first stack that
/// recognises it, then the generic formats; `None` when none does.
pub fn parse(status: u16, body: &str) -> Option<ErrorReport> {
    parse_framework(status, body).or_else(|| generic::parse(body))
}

/// Reads an error response with the framework modules only (no generic
/// format), for callers that try framework formats of their own (DRF's)
/// before the generic ones.
pub fn parse_framework(status: u16, body: &str) -> Option<ErrorReport> {
    fastapi::parse(status, body)
        .or_else(|| express::parse(body))
        .or_else(|| flask::parse(body))
        .or_else(|| rails::parse(body))
        .or_else(|| spring::parse(body))
        .or_else(|| laravel::parse(body))
        .or_else(|| aspnet::parse(body))
        .or_else(|| phoenix::parse(body))
}

/// The framework a response's headers name: `Server: uvicorn` (Starlette,
/// FastAPI), `X-Powered-By: Express`, `Server: daphne` or `WSGIServer`
/// (Django's servers), `Server: Werkzeug` (Flask), `X-Runtime` (Rails),
/// `Server: Kestrel` (ASP.NET Core); generic when none does.
pub fn detect(headers: &[(String, String)]) -> StackId {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.to_ascii_lowercase())
    };
    let server = get("server").unwrap_or_default();
    let powered = get("x-powered-by").unwrap_or_default();
    if powered.contains("express") {
        StackId::Express
    } else if server.contains("uvicorn") || server.contains("hypercorn") {
        StackId::Fastapi
    } else if server.contains("daphne") || server.contains("wsgiserver") {
        StackId::Django
    } else if server.contains("werkzeug") {
        StackId::Flask
    } else if get("x-runtime").is_some() {
        StackId::Rails
    } else if server.contains("kestrel") {
        StackId::Aspnet
    } else {
        StackId::Generic
    }
}

/// Where an upstream describes its write endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaSource {
    /// `OPTIONS` on the endpoint itself, answered by DRF's `SimpleMetadata`.
    Options,
    /// An OpenAPI document (JSON) at this path.
    OpenApi(&'static str),
}

/// Where `stack` publishes the description of its endpoints, most likely
/// first: DRF answers `OPTIONS`; FastAPI serves `/openapi.json`
/// (`FastAPI(openapi_url=...)`'s default); springdoc `/v3/api-docs`;
/// NestJS's `SwaggerModule.setup("api", …)` `/api-json`; Swashbuckle
/// `/swagger/v1/swagger.json` and `Microsoft.AspNetCore.OpenApi`
/// `/openapi/v1.json`; flask-smorest `/openapi.json` and flask-restx
/// `/swagger.json`; Laravel's Scramble `/docs/api.json`; Phoenix's
/// open_api_spex, by its guide, `/api/openapi`. An unknown stack gets all
/// the common ones.
pub fn schema_sources(stack: StackId) -> &'static [SchemaSource] {
    use SchemaSource::{OpenApi, Options};
    match stack {
        StackId::Django => &[Options, OpenApi("/openapi.json")],
        StackId::Fastapi => &[OpenApi("/openapi.json")],
        StackId::Spring => &[OpenApi("/v3/api-docs")],
        StackId::Express => &[OpenApi("/api-json"), OpenApi("/openapi.json")],
        StackId::Aspnet => &[
            OpenApi("/swagger/v1/swagger.json"),
            OpenApi("/openapi/v1.json"),
        ],
        StackId::Flask => &[OpenApi("/openapi.json"), OpenApi("/swagger.json")],
        StackId::Laravel => &[OpenApi("/docs/api.json")],
        StackId::Phoenix => &[OpenApi("/api/openapi")],
        StackId::Rails => &[],
        StackId::Generic => &[
            Options,
            OpenApi("/openapi.json"),
            OpenApi("/v3/api-docs"),
            OpenApi("/swagger.json"),
            OpenApi("/api-json"),
        ],
    }
}
