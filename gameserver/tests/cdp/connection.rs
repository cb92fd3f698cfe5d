//! One DevTools WebSocket: numbered commands matched to their replies, and every
//! event kept so a test can inspect what the page reported.

use super::CdpError;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

const REPLY_LIMIT: Duration = Duration::from_secs(30);

type Replies = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Value, String>>>>>;

#[derive(Clone, Debug)]
pub struct Event {
    pub session: Option<String>,
    pub method: String,
    pub params: Value,
}

pub struct Connection {
    outgoing: mpsc::UnboundedSender<Message>,
    replies: Replies,
    events: Arc<Mutex<Vec<Event>>>,
    next_id: AtomicU64,
    tasks: [JoinHandle<()>; 2],
}

impl Connection {
    pub async fn open(url: &str) -> Result<Connection, CdpError> {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .map_err(|source| CdpError::Connect {
                url: url.to_string(),
                source: Box::new(source),
            })?;
        let (mut sink, mut stream) = ws.split();
        let (outgoing, mut to_send) = mpsc::unbounded_channel::<Message>();
        let writer = tokio::spawn(async move {
            while let Some(msg) = to_send.recv().await {
                if sink.send(msg).await.is_err() {
                    break;
                }
            }
        });
        let replies: Replies = Arc::default();
        let events: Arc<Mutex<Vec<Event>>> = Arc::default();
        let reader = {
            let replies = replies.clone();
            let events = events.clone();
            tokio::spawn(async move {
                while let Some(Ok(msg)) = stream.next().await {
                    if let Message::Text(text) = msg {
                        dispatch(text.as_str(), &replies, &events);
                    }
                }
                // Dropping the senders tells every waiting caller the connection is gone.
                replies.lock().expect("replies lock").clear();
            })
        };
        Ok(Connection {
            outgoing,
            replies,
            events,
            next_id: AtomicU64::new(1),
            tasks: [writer, reader],
        })
    }

    /// Sends `method` (to a page session when given) and waits for its result.
    pub async fn call(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, CdpError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut command = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            command["sessionId"] = json!(session);
        }
        let (tx, rx) = oneshot::channel();
        self.replies.lock().expect("replies lock").insert(id, tx);
        self.outgoing
            .send(Message::text(command.to_string()))
            .map_err(|_| CdpError::Closed(method.to_string()))?;
        match tokio::time::timeout(REPLY_LIMIT, rx).await {
            Err(_) => {
                self.replies.lock().expect("replies lock").remove(&id);
                Err(CdpError::Timeout {
                    method: method.to_string(),
                    waited: REPLY_LIMIT,
                })
            }
            Ok(Err(_)) => Err(CdpError::Closed(method.to_string())),
            Ok(Ok(Err(message))) => Err(CdpError::Command {
                method: method.to_string(),
                message,
            }),
            Ok(Ok(Ok(result))) => Ok(result),
        }
    }

    /// Every event received so far for `session`.
    pub fn events(&self, session: &str) -> Vec<Event> {
        let events = self.events.lock().expect("events lock");
        events
            .iter()
            .filter(|e| e.session.as_deref() == Some(session))
            .cloned()
            .collect()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn dispatch(text: &str, replies: &Replies, events: &Mutex<Vec<Event>>) {
    let Ok(msg) = serde_json::from_str::<Value>(text) else {
        return;
    };
    if let Some(id) = msg.get("id").and_then(Value::as_u64) {
        let Some(tx) = replies.lock().expect("replies lock").remove(&id) else {
            return;
        };
        let reply = match msg.get("error") {
            Some(err) => Err(err.to_string()),
            None => Ok(msg.get("result").cloned().unwrap_or(Value::Null)),
        };
        let _ = tx.send(reply);
    } else if let Some(method) = msg.get("method").and_then(Value::as_str) {
        events.lock().expect("events lock").push(Event {
            session: msg
                .get("sessionId")
                .and_then(Value::as_str)
                .map(str::to_string),
            method: method.to_string(),
            params: msg.get("params").cloned().unwrap_or(Value::Null),
        });
    }
}
