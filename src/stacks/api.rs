//! What a stack module reads in an error response, and the words it gives
//! the diagnosis. Imports only [`crate::event`]: a stack returns facts and
//! advice, and never calls back into the diagnosis.

use serde::Serialize;

/// The backend frameworks wsdiag recognises by their error responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StackId {
    /// Django (and Django REST Framework).
    Django,
    /// FastAPI on Starlette.
    Fastapi,
    /// Express (finalhandler's error pages).
    Express,
    /// Flask on Werkzeug.
    Flask,
    /// Ruby on Rails.
    Rails,
    /// Spring Boot.
    Spring,
    /// Laravel.
    Laravel,
    /// ASP.NET Core.
    Aspnet,
    /// Phoenix (Plug.Debugger).
    Phoenix,
    /// No framework recognised: a generic error format.
    Generic,
}

impl StackId {
    /// The framework's name for people.
    pub fn label(self) -> &'static str {
        match self {
            StackId::Django => "Django",
            StackId::Fastapi => "FastAPI",
            StackId::Express => "Express",
            StackId::Flask => "Flask",
            StackId::Rails => "Rails",
            StackId::Spring => "Spring Boot",
            StackId::Laravel => "Laravel",
            StackId::Aspnet => "ASP.NET Core",
            StackId::Phoenix => "Phoenix",
            StackId::Generic => "unrecognised",
        }
    }
}

/// One stack frame of a traceback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Frame {
    /// The source file.
    pub file: String,
    /// The line number (1-based).
    pub line: u32,
    /// The function.
    pub function: String,
    /// The source line, trimmed; empty when the page does not show it.
    pub source: String,
}

impl Frame {
    /// The language of the frame's file, for a code fence: `python`,
    /// `javascript`, `typescript`, `ruby`, `java`, `kotlin`, `php`,
    /// `csharp`, `elixir`; empty when the extension says none.
    pub fn language(&self) -> &'static str {
        let file = self.file.split(['?', '#']).next().unwrap_or(&self.file);
        match file.rsplit('.').next().unwrap_or("") {
            "py" => "python",
            "js" | "mjs" | "cjs" => "javascript",
            "ts" | "mts" | "cts" => "typescript",
            "rb" => "ruby",
            "java" => "java",
            "kt" => "kotlin",
            "php" => "php",
            "cs" => "csharp",
            "ex" | "exs" => "elixir",
            _ => "",
        }
    }
}

/// Where a validator found a field: the request body, or the response the
/// application built (FastAPI's `response_model`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldPlace {
    /// The request body the client sent.
    Body,
    /// The response the handler returned, after it ran.
    Response,
    /// Anywhere else (query, path, headers).
    Other,
}

/// What a validator says about one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field's name (`content`), or empty for the body as a whole.
    pub field: String,
    /// Where the field was looked for.
    pub place: FieldPlace,
    /// True when the field is required and absent.
    pub missing: bool,
    /// The validator's message.
    pub message: String,
}

/// The kind of constraint a database refused a write for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DbErrorKind {
    /// A NOT NULL column got no value.
    NotNull,
    /// A UNIQUE constraint was violated.
    Unique,
    /// A FOREIGN KEY points nowhere.
    ForeignKey,
}

/// A database constraint violation, as SQLite, PostgreSQL or MySQL word it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DbError {
    /// Which constraint.
    pub kind: DbErrorKind,
    /// The table, when the message names it.
    pub table: Option<String>,
    /// The column, when the message names it.
    pub column: Option<String>,
}

/// An error response, read by the stack that produced it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorReport {
    /// Which framework's format it is.
    pub stack: StackId,
    /// The exception's type (`TypeError`, `sqlalchemy.exc.IntegrityError`).
    pub exception: Option<String>,
    /// The error's message (first line), or the page's text.
    pub message: String,
    /// The innermost frame in the application's own code (framework,
    /// library and runtime frames skipped).
    pub location: Option<Frame>,
    /// What a validator said about fields.
    pub fields: Vec<FieldError>,
    /// The database constraint behind it, when the message names one.
    pub database: Option<DbError>,
    /// True for a page that says nothing but "Internal Server Error": the
    /// details are only in the server's log.
    pub details_in_log: bool,
}

impl ErrorReport {
    /// A report of `stack` with `message` and nothing else known.
    pub fn new(stack: StackId, message: impl Into<String>) -> ErrorReport {
        ErrorReport {
            stack,
            exception: None,
            message: message.into(),
            location: None,
            fields: Vec::new(),
            database: None,
            details_in_log: false,
        }
    }

    /// The error in a few words, for one line.
    pub fn summary(&self) -> String {
        match &self.exception {
            Some(e) => format!("{e}: {}", self.message),
            None => self.message.clone(),
        }
    }
}

/// A situation the diagnosis found, for a stack to put in its own words.
#[derive(Debug, Clone, Copy)]
pub enum Situation<'a> {
    /// The REST path never sets a field the server must fill (`field`),
    /// which the WebSocket path takes from the connection's user.
    ServerFieldNotSet {
        /// The field.
        field: &'a str,
        /// True when the field is a user (the sender, the author).
        user: bool,
    },
    /// The REST handler saved the object, then failed building its
    /// response; `field` is the one the response schema wanted, if known.
    ErrorAfterSave {
        /// The response field that failed.
        field: Option<&'a str>,
    },
    /// The REST body sends `sent` where the validator wants `expected`.
    BodyFieldName {
        /// The field the body sends.
        sent: &'a str,
        /// The field the validator requires.
        expected: &'a str,
    },
    /// The REST route read the authenticated user (`req.user`, a
    /// dependency) and got nothing: no authentication on that route.
    UserMissing {
        /// The field it wanted from the user.
        field: &'a str,
    },
    /// The REST route found no parsed body (no body parser mounted, or a
    /// content type the framework does not parse).
    BodyNotParsed,
    /// The framework refused the write for its CSRF check.
    Csrf,
    /// The upstream refuses the browser's CORS preflight from `origin`.
    CorsRefused {
        /// The frontend's origin.
        origin: &'a str,
    },
    /// The page gives no details: they are in the server's log.
    DetailsInLog,
    /// The upstream answered a WebSocket upgrade with `status` instead of
    /// 101; `slash` when the path lacks the trailing slash an accepted
    /// upgrade's path has.
    UpgradeRefused {
        /// The upstream's status.
        status: u16,
        /// The path lacks the accepted path's trailing slash.
        slash: bool,
    },
}

/// What to do, in the stack's own words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advice {
    /// The next step.
    pub next_step: String,
    /// A code change to try, when one can be named.
    pub suggestion: Option<String>,
}

/// What the upstream says about the body a write endpoint takes: DRF's
/// `OPTIONS` answer ([`super::drf::options_schema`]), or the endpoint's
/// operation in an OpenAPI document ([`super::openapi::write_schema`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Introspection {
    /// Where it was read: `OPTIONS`, or the document's path
    /// (`/openapi.json`).
    pub source: String,
    /// The fields by name.
    pub fields: std::collections::BTreeMap<String, FieldInfo>,
}

/// One field of a write endpoint's body.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldInfo {
    /// The client must send it.
    pub required: bool,
    /// The server sets it: DRF's `read_only`, OpenAPI's `readOnly`, or a
    /// field only the response has. A client value is ignored.
    pub read_only: bool,
    /// The schema's type name (`string`, `integer`, DRF's `field`, …).
    pub kind: String,
}
