//! Some top-level keys of a JSON object, read straight from its text.
//!
//! The hub reads every text message once (`dialects`' module doc). For a
//! JSON envelope it needs a few keys of the top level; a
//! [`serde_json::Value`] tree of the whole message costs an allocation per
//! key and value and, with `preserve_order`, a SipHash of every key looked
//! up, about three times the reading itself (docs/performance.md). Here
//! the wanted values are read for their text and every other value is
//! parsed and dropped, so text a [`serde_json::Value`] refuses (a number
//! out of range, a missing brace) is refused here too.

use serde::de::{Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// What a reader keeps of an object's top-level keys.
pub trait Keys {
    /// Where `key`'s value goes, read for its text; `None` for a key not
    /// wanted (its value is parsed and dropped, then [`Keys::skipped`]).
    /// Keys come in the text's order: of duplicates the last one stays, as
    /// in a parsed map.
    fn slot(&mut self, key: &str) -> Option<&mut Option<Scalar>>;
    /// A key whose value was parsed and dropped.
    fn skipped(&mut self, key: &str);
}

/// Reads `text` as JSON into `keys`, in place (no copy of `K` made):
/// `true` when it is an object, `false` when it is another JSON value
/// (`keys` then as they were).
///
/// # Errors
///
/// `serde_json`'s error when `text` is not one JSON value.
pub fn read<K: Keys>(text: &str, keys: &mut K) -> serde_json::Result<bool> {
    if text.trim_start().starts_with('{') {
        let mut de = serde_json::Deserializer::from_str(text);
        Object(keys).deserialize(&mut de)?;
        de.end()?;
        Ok(true)
    } else {
        serde_json::from_str::<Skip>(text).map(|_| false)
    }
}

/// A wanted value read for its text: a string, or a number as
/// `serde_json::Number` writes it; `None` for anything else.
#[derive(Debug, Default)]
pub struct Scalar {
    /// The text.
    pub text: Option<String>,
    /// True when the value was a string.
    pub string: bool,
}

impl Scalar {
    fn number(n: serde_json::Number) -> Scalar {
        Scalar {
            text: Some(n.to_string()),
            string: false,
        }
    }
}

/// An object whose wanted keys are read into the `K` it holds.
struct Object<'k, K>(&'k mut K);

impl<'de, K: Keys> DeserializeSeed<'de> for Object<'_, K> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        struct Fields<'k, K>(&'k mut K);
        impl<'de, K: Keys> Visitor<'de> for Fields<'_, K> {
            type Value = ();
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    let key = key.as_str();
                    if let Some(slot) = self.0.slot(key) {
                        *slot = Some(map.next_value::<Scalar>()?);
                    } else {
                        map.next_value::<Skip>()?;
                        self.0.skipped(key);
                    }
                }
                Ok(())
            }
        }
        d.deserialize_map(Fields(self.0))
    }
}

/// An object key, borrowed from the text unless it holds escapes.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key<'de>, D::Error> {
        struct Text;
        impl<'de> Visitor<'de> for Text {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(s))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(s.to_owned()))
            }
        }
        d.deserialize_str(Text)
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Scalar, D::Error> {
        struct Text;
        impl<'de> Visitor<'de> for Text {
            type Value = Scalar;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_str<E>(self, s: &str) -> Result<Scalar, E> {
                Ok(Scalar {
                    text: Some(s.to_owned()),
                    string: true,
                })
            }
            fn visit_i64<E>(self, n: i64) -> Result<Scalar, E> {
                Ok(Scalar::number(n.into()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Scalar, E> {
                Ok(Scalar::number(n.into()))
            }
            fn visit_f64<E>(self, n: f64) -> Result<Scalar, E> {
                Ok(serde_json::Number::from_f64(n).map_or_else(Scalar::default, Scalar::number))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Scalar, E> {
                Ok(Scalar::default())
            }
            fn visit_unit<E>(self) -> Result<Scalar, E> {
                Ok(Scalar::default())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Scalar, A::Error> {
                Skip::seq(seq).map(|_| Scalar::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Scalar, A::Error> {
                Skip::map(map).map(|_| Scalar::default())
            }
        }
        d.deserialize_any(Text)
    }
}

/// A value parsed in full and kept nowhere.
struct Skip;

impl Skip {
    fn seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }

    fn map<'de, A: MapAccess<'de>>(mut map: A) -> Result<Skip, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Skip)
    }
}

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Skip, D::Error> {
        struct Any;
        impl<'de> Visitor<'de> for Any {
            type Value = Skip;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_str<E>(self, _: &str) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_unit<E>(self) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Skip, A::Error> {
                Skip::seq(seq)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Skip, A::Error> {
                Skip::map(map)
            }
        }
        d.deserialize_any(Any)
    }
}
