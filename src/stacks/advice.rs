//! The advice for each situation, in each stack's own words (its API,
//! its settings, its documentation's terms), side by side so they can be
//! compared; neutral words for a stack wsdiag does not recognise.

use super::api::{Advice, Situation, StackId};

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
        Situation::UpgradeRefused { status: 403, .. } => advice_of(
            "Starlette answers 403 to a WebSocket no `@app.websocket` route matches, and to one the endpoint closes before `accept()` (a failed dependency or auth check): check the path against the routes and what runs before `await websocket.accept()`".to_owned(),
            None,
        ),
        other @ Situation::UpgradeRefused { .. } => neutral_advice(other),
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
        Situation::UpgradeRefused {
            status: 400 | 403 | 404,
            ..
        } => advice_of(
            "check the upgrade's path against the server's: Socket.IO serves only its `path` option (default `/socket.io/`), a `ws` WebSocketServer only its `path`; a 400 or 403 from Socket.IO is its `allowRequest`, its `cors.origin`, or an unknown transport or session".to_owned(),
            None,
        ),
        other @ Situation::UpgradeRefused { .. } => neutral_advice(other),
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
        Situation::UpgradeRefused { status, slash } => advice_of(
            match status {
                401 | 403 => "send the credentials and the Origin the server accepts for WebSockets (compare them with an accepted upgrade's, below)".to_owned(),
                404 if slash => "open the path with the trailing slash the server's route has".to_owned(),
                404 => "check the server's WebSocket routes against this path (a prefix, a trailing slash?)".to_owned(),
                502 | 504 => "check that the backend runs and accepts WebSockets at the --upstream address".to_owned(),
                _ => "find this request in the server's log: it did not switch protocols".to_owned(),
            },
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

    /// A refused upgrade is explained in the upstream's framework's terms,
    /// never in another's.
    #[test]
    fn a_refused_upgrade_is_advised_in_each_stacks_words() {
        let refused = |stack, status| {
            advice(
                stack,
                Situation::UpgradeRefused {
                    status,
                    slash: false,
                },
            )
            .unwrap()
            .next_step
        };
        assert!(refused(StackId::Fastapi, 403).contains("@app.websocket"));
        assert!(refused(StackId::Express, 404).contains("/socket.io/"));
        let generic = refused(StackId::Generic, 403);
        assert!(
            !generic.contains("ALLOWED_HOSTS") && generic.contains("Origin"),
            "{generic}"
        );
    }
}
