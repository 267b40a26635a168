//! Reading the config's JSON field by field, the way Go's `encoding/json` fills the Go plugin's
//! structs: a missing field and `null` both mean "not given", and a field of the wrong JSON type
//! is an error. Every error names the field by its path (`runtimeConfig.infinibandGUID`).

use serde_json::{Map, Value};
use std::fmt::Display;
use std::str::FromStr;

/// A field that could not be read: its path and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FieldError {
    /// The field's path, e.g. `validation.mode`.
    pub field: String,
    /// What is wrong with it.
    pub msg: String,
}

/// How a message names a JSON value's type: `null`, `a boolean`, `a number`, ...
pub(super) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// How a message shows a value it refuses: its type, and for a scalar its JSON text (cut to
/// 40 characters, so the message stays one short line).
pub(super) fn shown(v: &Value) -> String {
    match v {
        Value::Array(_) | Value::Object(_) | Value::Null => kind(v).to_owned(),
        _ => {
            let text = v.to_string();
            let cut: String = text.chars().take(40).collect();
            let more = if cut.len() < text.len() { "..." } else { "" };
            format!("{} ({cut}{more})", kind(v))
        }
    }
}

/// A JSON object of the config and its path (empty for the top level).
#[derive(Debug)]
pub(super) struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Obj<'a> {
    /// The top-level object.
    pub fn top(map: &'a Map<String, Value>) -> Self {
        Obj {
            map,
            path: String::new(),
        }
    }

    /// The path of field `key` of this object.
    fn path_of(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn error(&self, key: &str, msg: impl Display) -> FieldError {
        FieldError {
            field: self.path_of(key),
            msg: msg.to_string(),
        }
    }

    /// The field's value; `None` when it is missing or `null`.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// A field that must be an object (or missing, or `null`: `None`).
    pub fn object(&self, key: &str) -> Result<Option<Obj<'a>>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Obj {
                map,
                path: self.path_of(key),
            })),
            Some(v) => Err(self.error(key, format!("expected an object, got {}", kind(v)))),
        }
    }

    /// A boolean field.
    pub fn boolean(&self, key: &str) -> Result<Option<bool>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(self.error(key, format!("expected true or false, got {}", shown(v)))),
        }
    }

    /// A whole-number field that fits `T`; `what` describes the allowed numbers for the
    /// message ("a port number 0-255").
    pub fn unsigned<T: TryFrom<u64>>(
        &self,
        key: &str,
        what: &str,
    ) -> Result<Option<T>, FieldError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        v.as_u64()
            .and_then(|n| T::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| self.error(key, format!("expected {what}, got {}", shown(v))))
    }

    /// A string field; `None` when missing or `null`.
    pub fn string(&self, key: &str) -> Result<Option<&'a str>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(self.error(key, format!("expected a string, got {}", shown(v)))),
        }
    }

    /// A string field parsed by `FromStr`, whose error names the bad text. `""` is "not given"
    /// when `empty_is_none` (the Go plugin's zero value), else it goes to the parser.
    pub fn text<T>(&self, key: &str, empty_is_none: bool) -> Result<Option<T>, FieldError>
    where
        T: FromStr,
        T::Err: Display,
    {
        match self.string(key)? {
            None => Ok(None),
            Some("") if empty_is_none => Ok(None),
            Some(s) => s.parse().map(Some).map_err(|e| self.error(key, e)),
        }
    }

    /// Refuses a field not in `known`, naming it and the known ones.
    pub fn deny_unknown(&self, known: &[&str]) -> Result<(), FieldError> {
        match self.map.keys().find(|k| !known.contains(&k.as_str())) {
            None => Ok(()),
            Some(k) => Err(self.error(
                k,
                format!("unknown field, expected one of {}", known.join(", ")),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with<T>(v: Value, f: impl FnOnce(&Obj) -> T) -> T {
        f(&Obj::top(v.as_object().unwrap()))
    }

    #[test]
    fn missing_and_null_are_not_given() {
        with(json!({"a": null}), |o| {
            assert_eq!(o.boolean("a"), Ok(None));
            assert_eq!(o.boolean("b"), Ok(None));
            assert_eq!(o.unsigned::<u8>("a", "n"), Ok(None));
            assert!(o.object("a").unwrap().is_none());
            assert_eq!(o.text::<u8>("a", false), Ok(None));
        });
    }

    #[test]
    fn long_values_are_cut() {
        let v = Value::String("x".repeat(100));
        assert_eq!(shown(&v), format!("a string (\"{}...)", "x".repeat(39)));
        assert_eq!(shown(&Value::Null), "null");
    }

    #[test]
    fn errors_name_the_path_and_the_type() {
        with(json!({"a": {"b": 5, "c": "", "d": "x"}, "e": []}), |o| {
            let a = o.object("a").unwrap().unwrap();
            let e = a.string("b").unwrap_err();
            assert_eq!(e.field, "a.b");
            assert_eq!(e.msg, "expected a string, got a number (5)");
            let e = a.unsigned::<u8>("d", "a small number").unwrap_err();
            assert_eq!(e.msg, "expected a small number, got a string (\"x\")");
            assert_eq!(a.unsigned::<u8>("b", "x"), Ok(Some(5)));
            let e = a.boolean("d").unwrap_err();
            assert_eq!(e.msg, "expected true or false, got a string (\"x\")");
            assert_eq!(a.text::<u8>("c", true), Ok(None));
            assert_eq!(a.text::<u8>("c", false).unwrap_err().field, "a.c");
            assert_eq!(a.text::<u8>("d", true).unwrap_err().field, "a.d");
            let e = o.object("e").unwrap_err();
            assert_eq!(
                (e.field.as_str(), e.msg.as_str()),
                ("e", "expected an object, got an array")
            );
            let e = a.deny_unknown(&["b", "c"]).unwrap_err();
            assert_eq!(e.field, "a.d");
            assert!(e.msg.contains("b, c"), "{}", e.msg);
        });
    }
}
