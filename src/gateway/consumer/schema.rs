//! The JSON Schema checks `/v1/chat`'s `output_format` applies to a model's answer: the
//! keywords structured-output schemas use (`type`, `properties`, `required`,
//! `additionalProperties`, `items`, `enum`, `const`, `minimum`, `maximum`, `minLength`,
//! `maxLength`, `minItems`, `maxItems`, `anyOf`, `oneOf`, `allOf`). A schema using another
//! keyword that constrains values (`$ref`, `pattern`, `if`, ...) is refused when the request
//! arrives (400), never silently skipped.

use serde_json::{Map, Value};

/// Keywords that only describe (titles, docs, the dialect) and need no check.
const ANNOTATIONS: &[&str] = &[
    "$schema",
    "$id",
    "title",
    "description",
    "default",
    "examples",
    "format",
    "$comment",
    "deprecated",
    "readOnly",
    "writeOnly",
    "strict",
    "name",
];
const CHECKED: &[&str] = &[
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "const",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "anyOf",
    "oneOf",
    "allOf",
];

/// Refuses a schema this checker cannot enforce, naming the keyword and where it is.
pub fn supported(schema: &Value, at: &str) -> Result<(), String> {
    let Value::Object(o) = schema else {
        return match schema {
            Value::Bool(_) => Ok(()),
            _ => Err(format!("{at}: a schema is an object")),
        };
    };
    for (k, v) in o {
        if ANNOTATIONS.contains(&k.as_str()) {
            continue;
        }
        if !CHECKED.contains(&k.as_str()) {
            return Err(format!("{at}: the keyword `{k}` is not supported"));
        }
        match k.as_str() {
            "type" => {
                let names: Vec<&Value> = match v {
                    Value::Array(many) => many.iter().collect(),
                    one => vec![one],
                };
                const TYPES: &[&str] = &[
                    "object", "array", "string", "boolean", "null", "number", "integer",
                ];
                if names.is_empty()
                    || !names
                        .iter()
                        .all(|n| n.as_str().is_some_and(|n| TYPES.contains(&n)))
                {
                    return Err(format!("{at}.type: expected one of {}", TYPES.join(", ")));
                }
            }
            "properties" => {
                for (name, sub) in v.as_object().ok_or(format!("{at}.properties: an object"))? {
                    supported(sub, &format!("{at}.properties.{name}"))?;
                }
            }
            "items" | "additionalProperties" => supported(v, &format!("{at}.{k}"))?,
            "anyOf" | "oneOf" | "allOf" => {
                for (i, sub) in v
                    .as_array()
                    .ok_or(format!("{at}.{k}: an array"))?
                    .iter()
                    .enumerate()
                {
                    supported(sub, &format!("{at}.{k}[{i}]"))?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "number" => v.is_number(),
        "integer" => v.as_f64().is_some_and(|n| n.fract() == 0.0),
        _ => false,
    }
}

/// Every way `value` (at `path`) breaks `schema`, at most a few.
pub fn violations(schema: &Value, value: &Value, path: &str, out: &mut Vec<String>) {
    let Value::Object(s) = schema else {
        if schema == &Value::Bool(false) {
            out.push(format!("{path}: no value is allowed here"));
        }
        return;
    };
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if !types.iter().any(|t| type_matches(t, value)) {
            out.push(format!("{path}: expected {}", types.join(" or ")));
            return;
        }
    }
    if let Some(options) = s.get("enum").and_then(Value::as_array) {
        if !options.contains(value) {
            out.push(format!("{path}: not one of the allowed values"));
        }
    }
    if let Some(c) = s.get("const") {
        if c != value {
            out.push(format!("{path}: expected {c}"));
        }
    }
    bounds(s, value, path, out);
    match value {
        Value::Object(o) => object(s, o, path, out),
        Value::Array(items) => {
            if let Some(item) = s.get("items") {
                for (i, v) in items.iter().enumerate() {
                    violations(item, v, &format!("{path}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
    combinations(s, value, path, out);
}

fn bounds(s: &Map<String, Value>, value: &Value, path: &str, out: &mut Vec<String>) {
    let limit = |k: &str| s.get(k).and_then(Value::as_f64);
    if let Some(n) = value.as_f64() {
        if limit("minimum").is_some_and(|m| n < m) || limit("maximum").is_some_and(|m| n > m) {
            out.push(format!("{path}: {n} is out of range"));
        }
    }
    let length = match value {
        Value::String(t) => Some(("minLength", "maxLength", t.chars().count())),
        Value::Array(a) => Some(("minItems", "maxItems", a.len())),
        _ => None,
    };
    if let Some((min, max, len)) = length {
        let len = len as f64;
        if limit(min).is_some_and(|m| len < m) || limit(max).is_some_and(|m| len > m) {
            out.push(format!("{path}: length {len} is out of range"));
        }
    }
}

fn object(s: &Map<String, Value>, o: &Map<String, Value>, path: &str, out: &mut Vec<String>) {
    for name in s
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(name) = name.as_str().filter(|n| !o.contains_key(*n)) {
            out.push(format!("{path}: `{name}` is required"));
        }
    }
    let props = s.get("properties").and_then(Value::as_object);
    for (k, v) in o {
        let at = format!("{path}.{k}");
        match props.and_then(|p| p.get(k)) {
            Some(sub) => violations(sub, v, &at, out),
            None => match s.get("additionalProperties") {
                Some(Value::Bool(false)) => out.push(format!("{at}: not an allowed property")),
                Some(sub @ Value::Object(_)) => violations(sub, v, &at, out),
                _ => {}
            },
        }
    }
}

fn combinations(s: &Map<String, Value>, value: &Value, path: &str, out: &mut Vec<String>) {
    let passes = |sub: &Value| {
        let mut v = Vec::new();
        violations(sub, value, path, &mut v);
        v.is_empty()
    };
    let list = |k: &str| {
        s.get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        for sub in all {
            violations(sub, value, path, out);
        }
    }
    if s.contains_key("anyOf") && !list("anyOf").iter().any(passes) {
        out.push(format!("{path}: matches none of anyOf"));
    }
    if s.contains_key("oneOf") && list("oneOf").iter().filter(|sub| passes(sub)).count() != 1 {
        out.push(format!("{path}: must match exactly one of oneOf"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(schema: Value, value: Value) -> Vec<String> {
        let mut out = Vec::new();
        violations(&schema, &value, "$", &mut out);
        out
    }

    #[test]
    fn objects_are_checked_field_by_field_and_say_where() {
        let person = json!({"type": "object", "required": ["name", "age"],
            "additionalProperties": false,
            "properties": {"name": {"type": "string", "minLength": 1},
                           "age": {"type": "integer", "minimum": 0},
                           "tags": {"type": "array", "items": {"enum": ["a", "b"]}}}});
        assert!(check(
            person.clone(),
            json!({"name": "x", "age": 3, "tags": ["a"]})
        )
        .is_empty());
        assert_eq!(
            check(person.clone(), json!({"name": "x"})),
            ["$: `age` is required"]
        );
        assert_eq!(
            check(person.clone(), json!({"name": "x", "age": 1.5})),
            ["$.age: expected integer"]
        );
        assert_eq!(
            check(
                person.clone(),
                json!({"name": "x", "age": 1, "tags": ["c"], "z": 1})
            ),
            [
                "$.tags[0]: not one of the allowed values",
                "$.z: not an allowed property"
            ]
        );
        assert_eq!(check(person, json!([1])), ["$: expected object"]);
        let either = json!({"anyOf": [{"type": "string"}, {"type": "integer"}]});
        assert!(check(either.clone(), json!(3)).is_empty());
        assert_eq!(check(either, json!(true)).len(), 1);
    }

    #[test]
    fn keywords_it_cannot_enforce_are_refused_up_front() {
        assert!(supported(&json!({"type": "object", "title": "t"}), "schema").is_ok());
        assert!(supported(&json!({"type": 12}), "schema").is_err());
        let err = supported(&json!({"properties": {"a": {"pattern": "^x"}}}), "schema");
        assert_eq!(
            err.unwrap_err(),
            "schema.properties.a: the keyword `pattern` is not supported"
        );
    }
}
