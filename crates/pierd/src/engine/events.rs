//! The event bus (`docker events`): engine services publish what they did; subscribers get a
//! replay of recent events (for `since`) followed by the live stream. Events are kept in memory
//! only (the last [`KEEP`]), as dockerd does.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::Mutex;

use futures::StreamExt;
use pier_api::models::event::{EventActor, EventMessage};
use tokio::sync::broadcast;

use super::filters::{self, Filters};
use super::Result;

/// How many past events are kept for `since` replays (dockerd keeps 256).
pub const KEEP: usize = 256;

pub struct EventBus {
    /// Shared messages: the channel's 1024 slots then hold a pointer each, not a message.
    tx: broadcast::Sender<Arc<EventMessage>>,
    recent: Mutex<VecDeque<Arc<EventMessage>>>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            tx: broadcast::channel(1024).0,
            recent: Mutex::new(VecDeque::with_capacity(KEEP)),
        }
    }
}

impl EventBus {
    /// Publishes an event about `id` of type `kind` (e.g. "image", "pull").
    pub fn publish(
        &self,
        kind: &str,
        action: &str,
        id: &str,
        attributes: BTreeMap<String, String>,
    ) {
        let now = chrono::Utc::now();
        let nanos = now.timestamp_nanos_opt().unwrap_or(0);
        let msg = EventMessage {
            status: Some(action.to_string()),
            id: Some(id.to_string()),
            from: None,
            kind: kind.to_string(),
            action: action.to_string(),
            actor: EventActor {
                id: id.to_string(),
                attributes,
            },
            scope: "local".into(),
            time: now.timestamp(),
            time_nano: nanos,
        };
        let msg = Arc::new(msg);
        {
            let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
            if recent.len() == KEEP {
                recent.pop_front();
            }
            recent.push_back(msg.clone());
        }
        let _ = self.tx.send(msg);
    }

    /// The kept events at or after `since_nanos`, and a receiver for what comes next. Taken
    /// under one lock so nothing falls between the two.
    pub fn subscribe(
        &self,
        since_nanos: Option<i64>,
    ) -> (Vec<EventMessage>, broadcast::Receiver<Arc<EventMessage>>) {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        let rx = self.tx.subscribe();
        let past = match since_nanos {
            None => Vec::new(),
            Some(s) => recent
                .iter()
                .filter(|m| m.time_nano >= s)
                .map(|m| EventMessage::clone(m))
                .collect(),
        };
        (past, rx)
    }
}

impl super::Engine {
    /// `GET /events`: kept events since `since` (when given), then live ones, all matching
    /// `filter`, ending at `until` (when given).
    pub fn event_stream(
        &self,
        since: Option<&str>,
        until: Option<&str>,
        filter: EventFilter,
    ) -> Result<impl futures::Stream<Item = EventMessage> + Send + 'static> {
        let now = chrono::Utc::now();
        let nanos = |v: Option<&str>| -> Result<Option<i64>> {
            match v.filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(v) => Ok(Some(
                    filters::parse_timestamp(v, now)?
                        .timestamp_nanos_opt()
                        .unwrap_or(i64::MAX),
                )),
            }
        };
        let since = nanos(since)?;
        let until = nanos(until)?;
        let (past, rx) = self.events.subscribe(since);
        let filter = std::sync::Arc::new(filter);
        let f1 = filter.clone();
        let past = futures::stream::iter(
            past.into_iter()
                .filter(move |m| f1.matches(m) && until.is_none_or(|u| m.time_nano <= u)),
        );
        let deadline = until.map(|u| {
            let wait = (u - now.timestamp_nanos_opt().unwrap_or(0)).max(0) as u64;
            tokio::time::Instant::now() + std::time::Duration::from_nanos(wait)
        });
        let live = futures::stream::unfold(rx, move |mut rx| async move {
            loop {
                let next = match deadline {
                    Some(d) => match tokio::time::timeout_at(d, rx.recv()).await {
                        Ok(r) => r,
                        Err(_) => return None,
                    },
                    None => rx.recv().await,
                };
                match next {
                    Ok(m) => return Some((Arc::unwrap_or_clone(m), rx)),
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "an events subscriber fell behind");
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
        .filter(move |m| futures::future::ready(filter.matches(m)));
        Ok(futures::StreamExt::chain(past, live))
    }
}

const ALLOWED: &[&str] = &[
    "config",
    "container",
    "daemon",
    "event",
    "image",
    "label",
    "network",
    "node",
    "plugin",
    "scope",
    "secret",
    "service",
    "type",
    "volume",
];

/// A validated `filters` of `GET /events`.
pub struct EventFilter(Filters);

impl EventFilter {
    pub fn new(f: Filters) -> Result<EventFilter> {
        filters::check_keys(&f, ALLOWED)?;
        Ok(EventFilter(f))
    }

    pub fn matches(&self, m: &EventMessage) -> bool {
        let any = |key: &str, values: &[&str]| -> bool {
            match self.0.get(key) {
                None => true,
                Some(wanted) => wanted.iter().any(|w| values.contains(&w.as_str())),
            }
        };
        let name = m
            .actor
            .attributes
            .get("name")
            .map(String::as_str)
            .unwrap_or("");
        any("type", &[&m.kind])
            && any("event", &[&m.action])
            && any("scope", &[&m.scope])
            && (m.kind != "image" || any("image", &[&m.actor.id, name]))
            && (m.kind != "container" || any("container", &[&m.actor.id, name]))
            && (m.kind != "network" || any("network", &[&m.actor.id, name]))
            && (m.kind != "volume" || any("volume", &[&m.actor.id, name]))
            && self
                .0
                .get("label")
                .is_none_or(|l| filters::labels_match(l, Some(&m.actor.attributes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(name: &str) -> BTreeMap<String, String> {
        BTreeMap::from([("name".to_string(), name.to_string())])
    }

    #[test]
    fn replays_since_and_streams_after() {
        let bus = EventBus::default();
        bus.publish("image", "pull", "busybox:latest", attrs("busybox:latest"));
        let (past, mut rx) = bus.subscribe(Some(0));
        assert_eq!(past.len(), 1);
        assert_eq!(past[0].action, "pull");
        bus.publish("image", "tag", "sha256:x", attrs("y:1"));
        assert_eq!(rx.try_recv().unwrap().action, "tag");
        let (past, _) = bus.subscribe(None);
        assert!(past.is_empty());
        for i in 0..KEEP + 10 {
            bus.publish("image", "tag", &i.to_string(), attrs("z"));
        }
        assert_eq!(bus.subscribe(Some(0)).0.len(), KEEP);
    }

    #[test]
    fn filters() {
        let bus = EventBus::default();
        bus.publish("image", "pull", "busybox:latest", attrs("busybox:latest"));
        let (past, _) = bus.subscribe(Some(0));
        let m = &past[0];
        let f = |k: &str, v: &str| {
            EventFilter::new(Filters::from([(k.to_string(), vec![v.to_string()])])).unwrap()
        };
        assert!(f("type", "image").matches(m));
        assert!(!f("type", "container").matches(m));
        assert!(f("event", "pull").matches(m));
        assert!(!f("event", "delete").matches(m));
        assert!(f("image", "busybox:latest").matches(m));
        assert!(
            f("container", "x").matches(m),
            "container filter does not apply to images"
        );
        assert!(EventFilter::new(Filters::from([("bogus".to_string(), vec![])])).is_err());
        let json = serde_json::to_value(m).unwrap();
        assert_eq!(json["Type"], "image");
        assert_eq!(json["Actor"]["Attributes"]["name"], "busybox:latest");
        assert_eq!(json["scope"], "local");
        assert_eq!(json["status"], "pull");
    }

    #[tokio::test]
    async fn image_verbs_publish_events_and_streams_end_at_until() {
        use crate::engine::images::tests::{add_image, config};
        let dir = tempfile::tempdir().unwrap();
        let e = crate::engine::tests::engine(dir.path());
        let id = add_image(
            &e,
            &config("2024-01-01T00:00:00Z", "a", r#"{"l":"v"}"#),
            &["x:1"],
        );
        e.tag_image("x:1", "y", "2").unwrap();
        e.delete_image_locked("x:1", false, true).unwrap();
        e.delete_image_locked("y:2", false, true).unwrap();
        let (past, _) = e.events.subscribe(Some(0));
        let actions: Vec<(&str, &str)> = past
            .iter()
            .map(|m| (m.action.as_str(), m.actor.attributes["name"].as_str()))
            .collect();
        assert_eq!(
            actions,
            vec![
                ("tag", "y:2"),
                ("untag", id.as_str()),
                ("untag", id.as_str()),
                ("delete", id.as_str())
            ]
        );
        assert_eq!(past[0].actor.attributes["l"], "v");

        let f = EventFilter::new(Filters::from([(
            "event".to_string(),
            vec!["delete".to_string()],
        )]))
        .unwrap();
        let now = (chrono::Utc::now().timestamp() + 1).to_string();
        let got: Vec<EventMessage> = e
            .event_stream(Some("0"), Some(&now), f)
            .unwrap()
            .collect()
            .await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].action, "delete");
    }
}
