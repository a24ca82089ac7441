//! The sample backend's 500 page, shaped like Django's technical 500 report
//! with `DEBUG=True`: HTML when the request's `Accept` takes `text/html`
//! (`*/*` does, so axios gets HTML), plain text otherwise.

/// The exception the sample backend imitates.
pub const EXCEPTION_TYPE: &str = "IntegrityError";
/// Its message, as SQLite words it.
pub const EXCEPTION_VALUE: &str = "NOT NULL constraint failed: chat_message.expediteur_id";

/// The application frame where the bug is: the create view never passes the
/// sender to `save()`.
const APP_FRAME: (&str, u32, &str, &str) = (
    "/app/chat/views.py",
    42,
    "perform_create",
    "serializer.save(conversation=conversation)",
);

/// True when Django would answer `accept` with the HTML report.
pub fn wants_html(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| {
        a.split(',').any(|media| {
            let media = media.split(';').next().unwrap_or("").trim();
            media == "text/html" || media == "text/*" || media == "*/*"
        })
    })
}

/// The report as plain text, as Django writes it.
pub fn text(path: &str, host: &str) -> String {
    let (file, line, function, source) = APP_FRAME;
    format!(
        "{EXCEPTION_TYPE} at {path}\n{EXCEPTION_VALUE}\n\n\
         Request Method: POST\n\
         Request URL: http://{host}{path}\n\
         Django Version: 5.2.19\n\
         Python Version: 3.11.7\n\n\n\
         Traceback (most recent call last):\n  \
           File \"/venv/lib/python3.11/site-packages/django/db/backends/utils.py\", line 105, in _execute\n    \
             return self.cursor.execute(sql, params)\n\n\
         The above exception ({EXCEPTION_VALUE}) was the direct cause of the following exception:\n  \
           File \"/venv/lib/python3.11/site-packages/rest_framework/mixins.py\", line 24, in create\n    \
             self.perform_create(serializer)\n  \
           File \"{file}\", line {line}, in {function}\n    \
             {source}\n  \
           File \"/venv/lib/python3.11/site-packages/django/db/backends/sqlite3/base.py\", line 360, in execute\n    \
             return super().execute(query, params)\n\n\
         Exception Type: {EXCEPTION_TYPE} at {path}\n\
         Exception Value: {EXCEPTION_VALUE}\n"
    )
}

/// The report as HTML: the parts of Django's page that tools read.
pub fn html(path: &str, host: &str) -> String {
    let (file, line, function, source) = APP_FRAME;
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n  <meta http-equiv=\"content-type\" content=\"text/html; charset=utf-8\">\n  \
         <title>{EXCEPTION_TYPE}\n          at {path}</title>\n</head>\n<body>\n\
         <header id=\"summary\">\n  <h1>{EXCEPTION_TYPE}\n       at {path}</h1>\n  \
         <pre class=\"exception_value\">{EXCEPTION_VALUE}</pre>\n  \
         <table class=\"meta\">\n<tr><th scope=\"row\">Request Method:</th><td>POST</td></tr>\n\
         <tr><th scope=\"row\">Request URL:</th><td>http://{host}{path}</td></tr>\n\
         <tr><th scope=\"row\">Django Version:</th><td>5.2.19</td></tr>\n</table>\n</header>\n\
         <main id=\"info\">\n<div id=\"traceback\">\n<ul class=\"traceback\">\n\
         <li class=\"frame user\">\n<code class=\"fname\">{file}</code>, line {line}, in {function}\n\
         <div class=\"context\"><ol start=\"{line}\" class=\"context-line\"><li><pre>        {source}</pre></li></ol></div>\n</li>\n\
         </ul>\n</div>\n</main>\n</body>\n</html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stacks::django::parse_technical_500;

    #[test]
    fn both_forms_read_as_the_django_error_they_imitate() {
        for page in [
            text("/api/conversations/3/messages/", "h"),
            html("/api/conversations/3/messages/", "h"),
        ] {
            let e = parse_technical_500(&page).unwrap();
            assert_eq!(e.exception_type, EXCEPTION_TYPE);
            assert_eq!(e.exception_value, EXCEPTION_VALUE);
            assert_eq!(e.path, "/api/conversations/3/messages/");
        }
    }

    #[test]
    fn accept_decides_like_django() {
        assert!(wants_html(Some("application/json, text/plain, */*")));
        assert!(wants_html(Some("text/html,application/xhtml+xml")));
        assert!(!wants_html(Some("application/json")));
        assert!(!wants_html(None));
    }
}
