//! JSON Web Tokens a request carries, read (never verified) for their
//! expiry: RFC 7519 (claims, `exp` in seconds since the Unix epoch) in the
//! JWS compact serialization of RFC 7515 section 7.1 (three base64url
//! segments, the first a JSON header naming its `alg`).

use serde_json::Value;

use crate::event::{jwt, HttpRequest};

/// A token found in a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// Where it was: `?token=`, `Authorization`, `cookie access`, …
    pub place: String,
    /// Its `exp` claim, seconds since the Unix epoch.
    pub exp: Option<i64>,
}

/// The claims of `text` when it is a JWT (the shape of `event::jwt`: a
/// JSON object header with `alg`) whose payload is a JSON object.
pub fn claims(text: &str) -> Option<Value> {
    let mut parts = text.trim().split('.');
    let (header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    jwt::header(header)?;
    jwt::segment_json(payload).filter(Value::is_object)
}

/// The first JWT `request` carries: in a query parameter, the
/// `Authorization` header (`Bearer`), a cookie, or a `Sec-WebSocket-Protocol`
/// value (where some clients put their token).
pub fn in_request(request: &HttpRequest) -> Option<Token> {
    let token = |place: String, value: &str| {
        let claims = claims(value)?;
        Some(Token {
            place,
            exp: claims.get("exp").and_then(Value::as_i64),
        })
    };
    let query = request.uri.split_once('?').map_or("", |(_, q)| q);
    let from_query = form_urlencoded::parse(query.as_bytes())
        .find_map(|(name, value)| token(format!("?{name}="), &value));
    from_query.or_else(|| {
        request
            .headers
            .iter()
            .find_map(|(name, value)| match name.to_ascii_lowercase().as_str() {
                "authorization" => token(
                    "Authorization".to_owned(),
                    value.split_whitespace().last().unwrap_or_default(),
                ),
                "cookie" => value.split(';').find_map(|pair| {
                    let (name, value) = pair.split_once('=')?;
                    token(format!("cookie {}", name.trim()), value)
                }),
                "sec-websocket-protocol" => value
                    .split(',')
                    .find_map(|v| token("Sec-WebSocket-Protocol".to_owned(), v.trim())),
                _ => None,
            })
    })
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;

    use super::*;

    fn jwt(payload: &str) -> String {
        let enc = |s: &str| URL_SAFE_NO_PAD.encode(s);
        format!(
            "{}.{}.c2ln",
            enc(r#"{"alg":"HS256","typ":"JWT"}"#),
            enc(payload)
        )
    }

    #[test]
    fn tokens_are_found_where_clients_put_them() {
        let token = jwt(r#"{"sub":"alice","exp":1764410000}"#);
        let request = |uri: &str, headers: Vec<(String, String)>| HttpRequest {
            exchange: 1,
            method: "GET".into(),
            uri: uri.into(),
            version: "HTTP/1.1".into(),
            headers,
            forwarded_host: None,
            body: Default::default(),
        };
        let q = in_request(&request(&format!("/ws?room=3&token={token}"), vec![])).unwrap();
        assert_eq!((q.place.as_str(), q.exp), ("?token=", Some(1764410000)));
        let auth = vec![("authorization".into(), format!("Bearer {token}"))];
        assert_eq!(
            in_request(&request("/ws", auth)).unwrap().place,
            "Authorization"
        );
        let cookie = vec![("cookie".into(), format!("theme=dark; access={token}"))];
        assert_eq!(
            in_request(&request("/ws", cookie)).unwrap().place,
            "cookie access"
        );
        assert!(in_request(&request("/ws?token=abc.def.ghi", vec![])).is_none());
        assert!(claims("not a token").is_none());
    }
}
