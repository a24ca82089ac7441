//! Django's technical 500 page (`DEBUG = True`) dumps the request's
//! COOKIES and META: their entries whose names look secret are redacted
//! even when their values appear nowhere else in the capture.

use crate::event::Payload;

use super::{replaced, Rules};

impl Rules {
    /// In a Django technical 500 page, the values of COOKIES and META
    /// entries whose names look secret (`HTTP_COOKIE`, `CSRF_COOKIE`,
    /// `sessionid`, `HTTP_AUTHORIZATION`, …), in the HTML and the text form.
    pub(super) fn django_sections(&self, payload: &Payload) -> Payload {
        let Some(text) = payload.text() else {
            return payload.clone();
        };
        let marks = [
            "id=\"meta-info\"",
            "\nMETA:\n",
            "id=\"cookie-info\"",
            "\nCOOKIES:\n",
        ];
        if !marks.iter().any(|m| text.contains(m)) {
            return payload.clone();
        }
        let mut out = String::with_capacity(text.len());
        let mut lines = text.split_inclusive('\n').peekable();
        while let Some(line) = lines.next() {
            // Text form: `NAME = 'value'` lines under META: and COOKIES:.
            if let Some((name, value)) = line.trim_end().split_once(" = ") {
                if self.secret_name(name.trim()) && !name.contains(' ') {
                    out.push_str(&format!(
                        "{name} = {}\n",
                        self.placeholder(value.trim_matches('\''))
                    ));
                    continue;
                }
            }
            // HTML form: <td>NAME</td>, then <td class="code"><pre>value</pre></td>.
            if let Some(name) = line
                .trim()
                .strip_prefix("<td>")
                .and_then(|l| l.strip_suffix("</td>"))
            {
                if self.secret_name(name) {
                    out.push_str(line);
                    if let Some(next) = lines.next() {
                        out.push_str(&self.redact_pre(next));
                    }
                    continue;
                }
            }
            out.push_str(line);
        }
        replaced(payload, out)
    }

    /// `<td class="code"><pre>VALUE</pre></td>` with VALUE redacted. Django
    /// quotes string values (`&#x27;...&#x27;`): the quotes stay, the hash
    /// is of the value itself, so it matches the same secret elsewhere.
    fn redact_pre(&self, line: &str) -> String {
        const QUOTE: &str = "&#x27;";
        match (line.find("<pre>"), line.find("</pre>")) {
            (Some(a), Some(b)) if a + 5 <= b => {
                let value = &line[a + 5..b];
                let inner = value
                    .strip_prefix(QUOTE)
                    .and_then(|v| v.strip_suffix(QUOTE));
                let redacted = match inner {
                    Some(inner) => format!("{QUOTE}{}{QUOTE}", self.placeholder(inner)),
                    None => self.placeholder(value),
                };
                format!("{}{redacted}{}", &line[..a + 5], &line[b..])
            }
            _ => line.to_owned(),
        }
    }
}
