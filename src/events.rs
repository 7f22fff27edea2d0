//! The operator's live event stream (`GET /admin/v1/events`, seed 000 "Admin - Events"):
//! `route_success` and `route_error` from the gateway, and what other areas publish.
//!
//! The rule: an event gets the next id when published and is kept in a bounded ring, so a
//! client that reconnects with `Last-Event-ID` is sent what it missed (while it is still in the
//! ring), then the live events, without a gap or a repeat: publishing and subscribing take the
//! same lock. Events live in memory only; they start again with the process.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::broadcast;

/// One published event.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: u64,
    /// route_success, route_error, ...
    pub kind: &'static str,
    pub data: Value,
}

pub struct EventHub {
    tx: broadcast::Sender<Arc<Event>>,
    ring: Mutex<Ring>,
}

struct Ring {
    next_id: u64,
    kept: VecDeque<Arc<Event>>,
    capacity: usize,
}

/// What a subscriber gets: the missed events to send first, then the live ones.
pub struct Subscription {
    pub missed: Vec<Arc<Event>>,
    pub live: broadcast::Receiver<Arc<Event>>,
}

impl EventHub {
    /// Keeps the last `capacity` events for reconnecting clients.
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(16));
        Self {
            tx,
            ring: Mutex::new(Ring {
                next_id: 1,
                kept: VecDeque::with_capacity(capacity),
                capacity,
            }),
        }
    }

    pub fn publish(&self, kind: &'static str, data: Value) {
        let mut ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        let event = Arc::new(Event {
            id: ring.next_id,
            kind,
            data,
        });
        ring.next_id += 1;
        if ring.kept.len() == ring.capacity {
            ring.kept.pop_front();
        }
        ring.kept.push_back(event.clone());
        // No subscriber is not an error: the ring keeps it.
        let _ = self.tx.send(event);
    }

    /// The events after `last_seen` still kept, and the live stream from there on.
    pub fn subscribe(&self, last_seen: Option<u64>) -> Subscription {
        let ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        let missed = match last_seen {
            Some(after) => ring.kept.iter().filter(|e| e.id > after).cloned().collect(),
            None => Vec::new(),
        };
        Subscription {
            missed,
            live: self.tx.subscribe(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_reconnecting_subscriber_gets_what_it_missed_then_the_live_events() {
        let hub = EventHub::new(3);
        for i in 0..5 {
            hub.publish("route_success", serde_json::json!({ "i": i }));
        }
        let mut sub = hub.subscribe(Some(3));
        let missed: Vec<u64> = sub.missed.iter().map(|e| e.id).collect();
        assert_eq!(missed, [4, 5]);
        assert!(
            hub.subscribe(Some(0)).missed.len() == 3,
            "only the ring is kept"
        );
        hub.publish("route_error", serde_json::json!({}));
        let live = sub.live.recv().await.unwrap();
        assert_eq!((live.id, live.kind), (6, "route_error"));
        assert!(hub.subscribe(None).missed.is_empty());
    }
}
