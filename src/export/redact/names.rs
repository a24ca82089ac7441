//! Which names make a value secret: the names of headers, query
//! parameters, form fields and JSON keys (at any depth), compared without
//! case.
//!
//! Three kinds of rule, from broad to narrow:
//! - a [`WORDS`] entry anywhere in the name (`X-Api-Key`, `csrftoken`,
//!   `client_secret`, `HTTP_COOKIE`);
//! - a [`WHOLE_WORDS`] entry as a whole word of the name, split at `_`, `-`,
//!   `.` and camelCase (`otp`, `sms_otp`, `userPIN`, but not `shipping`);
//! - a [`NAMES`] entry as the whole name once `_`, `-` and `.` are dropped
//!   (`access`, `card_number`, `cardNumber`, but not `access_level`).
//!
//! Query parameters and form fields add [`PARAMS`]: names that are common
//! words in JSON but credentials in a URL or a token request.

/// Words that make a name secret wherever they appear in it.
const WORDS: [&str; 13] = [
    "token",  // access_token, refresh_token, id_token, X-Amz-Security-Token
    "secret", // client_secret
    "pass",   // password, passwd, passphrase, passcode
    "pwd",
    "session",
    "auth",
    "key", // api_key, private_key, X-Api-Key
    "csrf",
    "signature", // X-Amz-Signature, X-Goog-Signature
    "cookie",    // HTTP_COOKIE in a Django page's META
    "jwt",
    "bearer",
    "credential", // X-Amz-Credential, credentials
];

/// Short words that make a name secret only as a word of their own: one-time
/// passwords, PINs and card verification values.
const WHOLE_WORDS: [&str; 8] = ["otp", "totp", "hotp", "pin", "cvv", "cvv2", "cvc", "cvc2"];

/// Whole names that are secret: DRF SimpleJWT's login answer
/// (`{"access": …, "refresh": …}`), card data, and the PKCE verifier
/// (RFC 7636 section 4.1).
const NAMES: [&str; 8] = [
    "access",
    "refresh",
    "cardnumber",
    "ccnumber",
    "creditcard",
    "creditcardnumber",
    "securitycode",
    "codeverifier",
];

/// Query parameters and form fields that carry a credential by
/// convention: OAuth 2.0's authorization `code` and its `state` (RFC 6749
/// section 4.1.2), and the `sig` of an Azure shared access signature.
const PARAMS: [&str; 3] = ["code", "state", "sig"];

/// True when a header, JSON key or cookie called `name` holds a secret.
pub fn secret_name(name: &str) -> bool {
    let lower = name.to_lowercase();
    let joined: String = lower.chars().filter(|c| c.is_alphanumeric()).collect();
    WORDS.iter().any(|w| lower.contains(w))
        || NAMES.contains(&joined.as_str())
        || words(name)
            .iter()
            .any(|w| WHOLE_WORDS.contains(&w.as_str()))
}

/// True when a query parameter or form field called `name` holds a secret.
pub fn secret_param(name: &str) -> bool {
    secret_name(name) || PARAMS.iter().any(|p| p.eq_ignore_ascii_case(name))
}

/// The words of a name, lower-cased: split at anything not alphanumeric
/// and at camelCase boundaries (`userPIN` → user, pin; `OTPCode` → otp,
/// code).
fn words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            words.extend((!word.is_empty()).then(|| std::mem::take(&mut word)));
            continue;
        }
        let before = i.checked_sub(1).and_then(|j| chars.get(j));
        let after = chars.get(i + 1);
        let starts_word = c.is_uppercase()
            && (before.is_some_and(|b| b.is_lowercase() || b.is_ascii_digit())
                || (before.is_some_and(|b| b.is_uppercase())
                    && after.is_some_and(|a| a.is_lowercase())));
        if starts_word && !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        word.extend(c.to_lowercase());
    }
    words.extend((!word.is_empty()).then_some(word));
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_names_of_common_conventions_are_secret() {
        for name in [
            "access",
            "Refresh",
            "access_token",
            "refreshToken",
            "id_token",
            "otp",
            "sms_otp",
            "otpCode",
            "OTPCode",
            "pin",
            "userPIN",
            "card-pin",
            "cvv",
            "CVC2",
            "card_number",
            "cardNumber",
            "client_secret",
            "private_key",
            "password",
            "secret",
            "api_key",
            "X-Amz-Signature",
            "X-Amz-Credential",
            "X-Amz-Security-Token",
            "signature",
            "code_verifier",
        ] {
            assert!(secret_name(name), "{name}");
            assert!(secret_param(name), "{name}");
        }
    }

    #[test]
    fn common_words_stay_unless_they_are_url_credentials() {
        for name in ["code", "state", "sig", "Code"] {
            assert!(!secret_name(name), "{name} in JSON is usually harmless");
            assert!(secret_param(name), "{name} in a query is a credential");
        }
        for name in [
            "access_level",
            "accessible",
            "shipping",
            "spinner",
            "pinned",
            "footprint",
            "message",
            "type",
            "page",
            "expediteur",
        ] {
            assert!(!secret_param(name), "{name}");
        }
    }

    #[test]
    fn names_split_into_words_at_separators_and_camel_case() {
        assert_eq!(words("userPIN"), ["user", "pin"]);
        assert_eq!(words("OTPCode"), ["otp", "code"]);
        assert_eq!(words("x-amz-date"), ["x", "amz", "date"]);
        assert_eq!(words("cvv2"), ["cvv2"]);
    }
}
