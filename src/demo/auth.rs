//! Who a request to the sample backend authenticates as, as Django's
//! session and DRF's token authentication would decide.

use http::{header, HeaderMap};

use super::chat::{Chat, User};

/// The user a request authenticates as: `sessionid` cookie, `?token=`, or
/// `Authorization: Token ...`.
pub fn user_of(chat: &Chat, headers: &HeaderMap, query: Option<&str>) -> Option<User> {
    let session = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().strip_prefix("sessionid="))
        .next();
    let token = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("token="))
        .or_else(|| {
            headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Token "))
        });
    chat.authenticate(session, token)
}
