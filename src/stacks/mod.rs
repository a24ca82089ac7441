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
//! an arm in [`advice`] (the words live beside the others in this file, so
//! the stacks' advice can be read side by side).

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

/// The advice for `situation` in `stack`'s words; neutral words when the
/// stack is not recognised. `None` for Django, whose rules give their own.
pub fn advice(stack: StackId, situation: Situation<'_>) -> Option<Advice> {
    let words = match stack {
        StackId::Django => return None,
        StackId::Fastapi => fastapi_advice(situation),
        StackId::Express => express_advice(situation),
        StackId::Flask => flask_advice(situation),
        StackId::Rails => rails_advice(situation),
        StackId::Laravel => laravel_advice(situation),
        StackId::Spring => spring_advice(situation),
        StackId::Aspnet => aspnet_advice(situation),
        StackId::Phoenix => phoenix_advice(situation),
        StackId::Generic => neutral_advice(situation),
    };
    Some(words)
}

fn advice_of(next_step: String, suggestion: Option<String>) -> Advice {
    Advice {
        next_step,
        suggestion,
    }
}

/// FastAPI's words: dependencies, models, `response_model`.
fn fastapi_advice(situation: Situation<'_>) -> Advice {
    match situation {
        Situation::ServerFieldNotSet { field, user: true } | Situation::UserMissing { field } => advice_of(
            format!("set `{field}` in the route from the authenticated user: declare the dependency `user: User = Depends(get_current_user)` on this route as the WebSocket endpoint does, and pass `{field}=user.name`"),
            Some(format!("async def create_message(..., user: User = Depends(get_current_user)):\n    message = Message(..., {field}=user.name)")),
        ),
        Situation::ServerFieldNotSet { field, user: false } => advice_of(
            format!("set `{field}` in the route handler before `db.commit()`; the WebSocket endpoint sets it, the REST route does not"),
            None,
        ),
        Situation::ErrorAfterSave { field } => advice_of(
            format!("make the route's `response_model` match what the handler returns{}: the message is saved before the response fails, so a retry saves it twice", field.map(|f| format!(" (it requires `{f}`, which the saved object lacks)")).unwrap_or_default()),
            field.map(|f| format!("rename `{f}` in the response model to the attribute the object has, or declare it `{f}: str | None = None`")),
        ),
        Situation::BodyFieldName { sent, expected } => advice_of(
            format!("send `{expected}` instead of `{sent}` in the frontend's REST call, or let the body model accept both names"),
            Some(format!("{expected}: str = Field(validation_alias=AliasChoices(\"{expected}\", \"{sent}\"))")),
        ),
        Situation::BodyNotParsed => advice_of(
            "send the body as JSON with `Content-Type: application/json`: FastAPI parses a body model only from JSON".to_owned(),
            None,
        ),
        Situation::DetailsInLog => advice_of(
            "the traceback is only in the server's log (uvicorn's output): find this request there, or run with `FastAPI(debug=True)` while debugging".to_owned(),
            None,
        ),
        Situation::Csrf => neutral_advice(situation),
        Situation::CorsRefused { origin } => advice_of(
            format!("add the CORS middleware with the frontend's origin: `app.add_middleware(CORSMiddleware, allow_origins=[\"{origin}\"], allow_methods=[\"*\"], allow_headers=[\"*\"], allow_credentials=True)`"),
            Some("from fastapi.middleware.cors import CORSMiddleware".to_owned()),
        ),
    }
}

/// Express's words: middleware, `req.body`, `req.user`.
fn express_advice(situation: Situation<'_>) -> Advice {
    match situation {
        Situation::ServerFieldNotSet { field, .. } | Situation::UserMissing { field } => advice_of(
            format!("set `{field}` in the route handler from the authenticated user, and mount the authentication middleware on this route (the Socket.IO connection authenticates in its handshake; the REST route has no `req.user`)"),
            Some(format!("router.post('/api/...', requireAuth, (req, res) => save({{ ...req.body, {field}: req.user.name }}))")),
        ),
        Situation::BodyNotParsed => advice_of(
            "mount the JSON body parser for this route (`app.use(express.json())` before the router): without it `req.body` is undefined".to_owned(),
            Some("app.use(express.json());".to_owned()),
        ),
        Situation::ErrorAfterSave { .. } => advice_of(
            "fix the code that builds the response after saving (the line above): the message is saved, so a retry saves it twice".to_owned(),
            None,
        ),
        Situation::BodyFieldName { sent, expected } => advice_of(
            format!("send `{expected}` instead of `{sent}` in the frontend's REST call, or read both in the route"),
            None,
        ),
        Situation::DetailsInLog => advice_of(
            "the stack trace is only in the server's log (NODE_ENV=production hides it): find this request there, or run without NODE_ENV=production while debugging".to_owned(),
            None,
        ),
        Situation::Csrf => neutral_advice(situation),
        Situation::CorsRefused { origin } => advice_of(
            format!("mount the cors middleware before the routes, with the frontend's origin: `app.use(cors({{ origin: '{origin}', credentials: true }}))` (npm: cors)"),
            None,
        ),
    }
}

/// Flask's words: `request.get_json()`, the login manager's `current_user`.
fn flask_advice(situation: Situation<'_>) -> Advice {
    match situation {
        Situation::ServerFieldNotSet { field, .. } | Situation::UserMissing { field } => advice_of(
            format!("set `{field}` in the view from the logged-in user (`current_user` with `@login_required` on the view, as the socket handler knows its user)"),
            Some(format!("message = Message(..., {field}=current_user.name)")),
        ),
        Situation::BodyNotParsed => advice_of(
            "send the body with `Content-Type: application/json`: `request.get_json()` returns None otherwise".to_owned(),
            None,
        ),
        Situation::BodyFieldName { sent, expected } => advice_of(
            format!("send `{expected}` instead of `{sent}` in the frontend's REST call, or read both in the view"),
            Some(format!("data.get(\"{expected}\") or data.get(\"{sent}\")")),
        ),
        other => neutral_advice(other),
    }
}

/// Rails' words: strong parameters, `current_user`, `before_action`.
fn rails_advice(situation: Situation<'_>) -> Advice {
    match situation {
        Situation::ServerFieldNotSet { field, .. } | Situation::UserMissing { field } => advice_of(
            format!("set `{field}` in the controller from the signed-in user (`before_action :authenticate_user!`, then `{field}: current_user`), as the ActionCable connection identifies `current_user`"),
            Some(format!("@message = Message.create!(message_params.merge({field}: current_user))")),
        ),
        Situation::BodyFieldName { sent, expected } => advice_of(
            format!("send the parameters Rails requires (`{expected}`) instead of `{sent}`: `params.require(:{expected})` refuses the request otherwise"),
            None,
        ),
        Situation::Csrf => advice_of(
            "send the token of the page's `csrf-token` meta tag as the X-CSRF-Token header (Rails UJS and @rails/request.js do), or for a token-authenticated API controller use `protect_from_forgery with: :null_session`".to_owned(),
            None,
        ),
        other => neutral_advice(other),
    }
}

/// Words for a stack wsdiag does not recognise.
fn neutral_advice(situation: Situation<'_>) -> Advice {
    match situation {
        Situation::ServerFieldNotSet { field, .. } | Situation::UserMissing { field } => advice_of(
            format!("set `{field}` on the server from the authenticated user before saving, as the WebSocket path does"),
            None,
        ),
        Situation::ErrorAfterSave { .. } => advice_of(
            "fix the code that builds the response after saving: the message is saved, so a retry saves it twice".to_owned(),
            None,
        ),
        Situation::BodyFieldName { sent, expected } => advice_of(
            format!("send `{expected}` instead of `{sent}` in the frontend's REST call"),
            None,
        ),
        Situation::BodyNotParsed => advice_of(
            "make sure the server parses this route's body (a JSON body parser, `Content-Type: application/json`)".to_owned(),
            None,
        ),
        Situation::DetailsInLog => advice_of(
            "the details are only in the server's log: find this request there".to_owned(),
            None,
        ),
        Situation::Csrf => advice_of(
            "send the CSRF token the server issued with the write (its cookie's value in the header it expects), or exempt this API route from the CSRF check if it is authenticated by a token".to_owned(),
            None,
        ),
        Situation::CorsRefused { origin } => advice_of(
            format!("answer the preflight for this route with `Access-Control-Allow-Origin: {origin}` (and the methods and headers it asks for), or serve the frontend from the same origin through a dev-server proxy"),
            None,
        ),
    }
}

/// Spring Boot's words: `@RequestBody`, the authenticated principal,
/// `server.error.*` properties, Spring Security's CSRF and CORS (the Spring
/// Boot and Spring Security reference documentation).
fn spring_advice(situation: Situation<'_>) -> Advice {
    match situation {
        Situation::ServerFieldNotSet { field, .. } | Situation::UserMissing { field } => advice_of(
            format!("set `{field}` in the controller from the authenticated user (an `@AuthenticationPrincipal` or `Principal` parameter), as the WebSocket session carries its user; do not expect it in the request body"),
            Some(format!("public Message create(@RequestBody MessageDto body, Principal principal) {{ message.set{}(principal.getName()); ... }}", capitalized(field))),
        ),
        Situation::BodyNotParsed => advice_of(
            "send the body with `Content-Type: application/json` and take it as an `@RequestBody` parameter: Spring reads a JSON body only then (text/plain gets 415)".to_owned(),
            None,
        ),
        Situation::BodyFieldName { sent, expected } => advice_of(
            format!("send `{expected}` instead of `{sent}` in the frontend's REST call, or accept both on the DTO field with `@JsonAlias(\"{sent}\")`"),
            None,
        ),
        Situation::DetailsInLog => advice_of(
            "the stack trace is only in the server's log: find this request there, or set `server.error.include-message=always` and `server.error.include-stacktrace=always` while debugging".to_owned(),
            None,
        ),
        Situation::Csrf => advice_of(
            "Spring Security checks CSRF on writes: send the XSRF-TOKEN cookie's value as the X-XSRF-TOKEN header (`CookieCsrfTokenRepository.withHttpOnlyFalse()`), or exempt the token-authenticated API with `csrf.ignoringRequestMatchers(\"/api/**\")`".to_owned(),
            None,
        ),
        Situation::CorsRefused { origin } => advice_of(
            format!("allow the frontend's origin: `@CrossOrigin(origins = \"{origin}\")` on the controller, or a `CorsConfigurationSource` bean with it and `http.cors(...)` in the security filter chain"),
            None,
        ),
        other => neutral_advice(other),
    }
}

/// ASP.NET Core's words: `[Authorize]` and `User`, `[FromBody]`, the
/// Development environment, antiforgery, the CORS middleware (the ASP.NET
/// Core documentation).
fn aspnet_advice(situation: Situation<'_>) -> Advice {
    match situation {
        Situation::ServerFieldNotSet { field, .. } | Situation::UserMissing { field } => advice_of(
            format!("set `{field}` in the action from the signed-in user (`User.Identity.Name`, with `[Authorize]` on the action), as the SignalR hub reads `Context.User`; do not expect it in the request body"),
            Some(format!("message.{} = User.Identity?.Name;", capitalized(field))),
        ),
        Situation::BodyNotParsed => advice_of(
            "send the body with `Content-Type: application/json`: a `[FromBody]` parameter is read only by the input formatter of its content type (415 otherwise)".to_owned(),
            None,
        ),
        Situation::BodyFieldName { sent, expected } => advice_of(
            format!("send `{expected}` instead of `{sent}` in the frontend's REST call, or name the property with `[JsonPropertyName(\"{sent}\")]`"),
            None,
        ),
        Situation::DetailsInLog => advice_of(
            "the exception is only in the server's log: find this request there, or run with `ASPNETCORE_ENVIRONMENT=Development` for the developer exception page".to_owned(),
            None,
        ),
        Situation::Csrf => advice_of(
            "send the antiforgery token (`RequestVerificationToken` header, from `IAntiforgery.GetAndStoreTokens`), or use `[IgnoreAntiforgeryToken]` on a token-authenticated API".to_owned(),
            None,
        ),
        Situation::CorsRefused { origin } => advice_of(
            format!("add a CORS policy with the frontend's origin and use it before the endpoints: `builder.Services.AddCors(o => o.AddPolicy(\"frontend\", p => p.WithOrigins(\"{origin}\").AllowAnyHeader().AllowAnyMethod().AllowCredentials()))` and `app.UseCors(\"frontend\")`"),
            None,
        ),
        other => neutral_advice(other),
    }
}

/// Phoenix's words: `conn.assigns`, the router's pipelines, `Plug.Parsers`,
/// changesets (the Phoenix guides).
fn phoenix_advice(situation: Situation<'_>) -> Advice {
    match situation {
        Situation::ServerFieldNotSet { field, .. } | Situation::UserMissing { field } => advice_of(
            format!("set `{field}` in the controller from `conn.assigns.current_user` (put the authentication plug in this route's pipeline), as the channel reads `socket.assigns`; do not `cast` it from the params"),
            Some(format!("Messages.create_message(Map.put(params, \"{field}\", conn.assigns.current_user.name))")),
        ),
        Situation::BodyNotParsed => advice_of(
            "send the body with `Content-Type: application/json`: the endpoint's `Plug.Parsers` parses JSON only for it".to_owned(),
            None,
        ),
        Situation::BodyFieldName { sent, expected } => advice_of(
            format!("send `{expected}` instead of `{sent}` in the frontend's REST call: the changeset casts only the fields it permits"),
            None,
        ),
        Situation::DetailsInLog => advice_of(
            "the error is only in the server's log: find this request there, or set `debug_errors: true` in the endpoint's dev config for the debug page".to_owned(),
            None,
        ),
        Situation::Csrf => advice_of(
            "the `:protect_from_forgery` plug of the `:browser` pipeline refused it: send `x-csrf-token` with the value of `get_csrf_token()`, or route the API through the `:api` pipeline".to_owned(),
            None,
        ),
        Situation::CorsRefused { origin } => advice_of(
            format!("add a CORS plug in the endpoint before the router, with the frontend's origin (`plug CORSPlug, origin: [\"{origin}\"]`)"),
            None,
        ),
        other => neutral_advice(other),
    }
}

/// `sender` as `Sender`, for a Java setter or a C# property.
fn capitalized(field: &str) -> String {
    let mut chars = field.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// Laravel's words: `$request->user()` behind the auth middleware, the
/// log in `storage/logs`, `APP_DEBUG`, its 419 (the Laravel documentation).
fn laravel_advice(situation: Situation<'_>) -> Advice {
    match situation {
        Situation::ServerFieldNotSet { field, .. } | Situation::UserMissing { field } => advice_of(
            format!("set `{field}` in the controller from `$request->user()` (with the route behind the `auth:sanctum` middleware), as the broadcast channel authorizes its user; do not expect it in the request"),
            Some(format!("$message = Message::create([...$request->validated(), '{field}' => $request->user()->name]);")),
        ),
        Situation::DetailsInLog => advice_of(
            "the exception is only in `storage/logs/laravel.log`: find this request there, or set `APP_DEBUG=true` while debugging".to_owned(),
            None,
        ),
        Situation::Csrf => advice_of(
            "send the XSRF-TOKEN cookie's value as the X-XSRF-TOKEN header (axios does it with `withCredentials: true`), or use Sanctum's `/sanctum/csrf-cookie` first; routes in routes/api.php are not CSRF-checked".to_owned(),
            None,
        ),
        other => neutral_advice(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every stack with words of its own says where its user comes from in
    /// its own API; an unknown stack gets neutral words.
    #[test]
    fn a_missing_user_is_advised_in_each_stacks_words() {
        let words = [
            (StackId::Fastapi, "Depends(get_current_user)"),
            (StackId::Express, "req.user"),
            (StackId::Flask, "current_user"),
            (StackId::Rails, "current_user"),
            (StackId::Spring, "Principal"),
            (StackId::Aspnet, "User.Identity"),
            (StackId::Phoenix, "conn.assigns.current_user"),
            (StackId::Laravel, "$request->user()"),
            (StackId::Generic, "from the authenticated user"),
        ];
        for (stack, expected) in words {
            let advice = advice(stack, Situation::UserMissing { field: "sender" }).unwrap();
            assert!(
                advice.next_step.contains(expected),
                "{stack:?}: {}",
                advice.next_step
            );
        }
        assert!(advice(StackId::Django, Situation::UserMissing { field: "x" }).is_none());
    }
}
