//! Exact-match response cache, per workspace: the same request body gets the same answer
//! within the TTL. Only for non-streaming requests at temperature 0, unless the caller turns
//! it on or off with `x-cairn-cache: on|off`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::ChatRequest;

/// A stored answer: the body and the catalog model that served it.
#[derive(Debug, Clone)]
pub struct Cached {
    pub body: Value,
    pub served_by: String,
}

pub struct ResponseCache<V = Value> {
    ttl: Duration,
    max_entries: usize,
    entries: Mutex<HashMap<(String, String), (Instant, V)>>,
}

/// The value with every object's keys in sorted order (serde_json keeps insertion order when
/// a dependency enables `preserve_order`).
fn canonical(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, canonical(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonical).collect()),
        other => other,
    }
}

/// Whether this request may be answered from (and stored in) the cache.
pub fn cacheable(req: &ChatRequest, asked: Option<bool>) -> bool {
    if req.streams() {
        return false;
    }
    // OpenAI's temperature defaults to 1: only an explicit 0 is deterministic enough.
    asked.unwrap_or_else(|| req.temperature() == Some(0.0))
}

impl<V: Clone> ResponseCache<V> {
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        Self {
            ttl,
            max_entries,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Equal bodies give equal keys whatever the order of their object keys.
    pub fn key(workspace_id: &str, body: &impl Serialize) -> (String, String) {
        // A request always serialises (its keys are strings); Null would only share a key
        // with other unserialisable bodies.
        let value = serde_json::to_value(body).unwrap_or(Value::Null);
        let digest = Sha256::digest(canonical(value).to_string().as_bytes());
        (workspace_id.to_string(), hex::encode(digest))
    }

    /// Answers held now (expired ones included until they are swept).
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn get(&self, key: &(String, String)) -> Option<V> {
        if self.ttl.is_zero() {
            return None;
        }
        let mut all = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match all.get(key) {
            Some((at, v)) if at.elapsed() < self.ttl => Some(v.clone()),
            Some(_) => {
                all.remove(key);
                None
            }
            None => None,
        }
    }

    pub fn put(&self, key: (String, String), value: V) {
        if self.ttl.is_zero() || self.max_entries == 0 {
            return;
        }
        let mut all = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if all.len() >= self.max_entries {
            let ttl = self.ttl;
            all.retain(|_, (at, _)| at.elapsed() < ttl);
            if all.len() >= self.max_entries {
                if let Some(oldest) = all
                    .iter()
                    .min_by_key(|(_, (at, _))| *at)
                    .map(|(k, _)| k.clone())
                {
                    all.remove(&oldest);
                }
            }
        }
        all.insert(key, (Instant::now(), value));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn req(mut fields: Value) -> ChatRequest {
        fields["model"] = json!("auto");
        fields["messages"] = json!([{"role": "user", "content": "hi"}]);
        ChatRequest::from_value(fields).unwrap()
    }

    #[test]
    fn only_deterministic_requests_unless_asked() {
        assert!(cacheable(&req(json!({"temperature": 0})), None));
        assert!(!cacheable(&req(json!({})), None));
        assert!(!cacheable(&req(json!({"temperature": 0.7})), None));
        assert!(cacheable(&req(json!({"temperature": 0.7})), Some(true)));
        assert!(!cacheable(&req(json!({"temperature": 0})), Some(false)));
        assert!(!cacheable(
            &req(json!({"temperature": 0, "stream": true})),
            Some(true)
        ));
    }

    #[test]
    fn keys_ignore_key_order_and_entries_expire() {
        let a = ResponseCache::<Value>::key("w", &json!({"a": 1, "b": 2}));
        let b = ResponseCache::<Value>::key("w", &json!({"b": 2, "a": {"d": 1, "c": 2}}));
        assert_ne!(a, b);
        assert_eq!(
            b,
            ResponseCache::<Value>::key("w", &json!({"a": {"c": 2, "d": 1}, "b": 2}))
        );
        assert_eq!(
            a,
            ResponseCache::<Value>::key("w", &json!({"b": 2, "a": 1}))
        );
        assert_ne!(
            a,
            ResponseCache::<Value>::key("other", &json!({"a": 1, "b": 2}))
        );
        let c = ResponseCache::new(Duration::from_millis(50), 1);
        c.put(a.clone(), json!(1));
        assert_eq!(c.get(&a), Some(json!(1)));
        let other = ResponseCache::<Value>::key("w", &json!({}));
        c.put(other.clone(), json!(2));
        assert_eq!(c.get(&a), None, "the oldest makes room");
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(c.get(&other), None);
    }
}
