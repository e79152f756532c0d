//! Calls parked on a live question (handshake era), across every server of this process, and
//! the way an answer reaches a call that another process holds. The answer to a question may
//! arrive at any process: the one that holds the call completes it at once; any other hands
//! the answer to the holder through a [`Relay`] and waits for the call's outcome, so the run
//! (and the user's stream) stays where the answer came in and only the MCP call stays where
//! it was opened.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::time::Duration;

use futures_util::future::BoxFuture;
use rmcp::handler::client::progress::ProgressSubscriber;
use rmcp::model::CallToolResponse;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::{McpError, McpResponse, McpServer, Session};

/// A question a server asked during a call (handshake era), and where its answer goes.
pub(super) struct LiveAsk {
    pub(super) params: Value,
    pub(super) answer: oneshot::Sender<Value>,
}

pub(super) type CallOutcome = Result<CallToolResponse, rmcp::ServiceError>;

/// A call parked on a live question until the answer or its deadline.
pub(super) struct LiveCall {
    pub(super) session: Arc<Session>,
    pub(super) task: CallTask,
    pub(super) updates: ProgressSubscriber,
    pub(super) answer: oneshot::Sender<Value>,
}

/// A spawned call that is cancelled when dropped, unless it was parked.
pub(super) struct CallTask(pub(super) Option<tokio::task::JoinHandle<CallOutcome>>);

impl Drop for CallTask {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

pub(super) fn lock_live(
    live: &Mutex<HashMap<String, LiveCall>>,
) -> MutexGuard<'_, HashMap<String, LiveCall>> {
    live.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How a call ended, as one process tells another: `None` when it no longer held the call.
pub type Relayed = Option<Result<McpResponse, McpError>>;

/// Carries answers and outcomes between processes (implemented over the database).
pub trait Relay: Send + Sync {
    /// Records that this process holds the call parked under `token` for `wait`.
    fn parked(&self, token: String, wait: Duration) -> BoxFuture<'static, ()>;

    /// Hands `answer` to the live process that holds `token`, and waits at most `limit` for
    /// the call's outcome; `None` when no live process holds it or it did not answer in time.
    fn resume_elsewhere(
        &self,
        token: String,
        answer: Value,
        limit: Duration,
    ) -> BoxFuture<'static, Relayed>;
}

#[derive(Default)]
struct Inner {
    /// The server that holds each parked call, by token.
    servers: Mutex<HashMap<String, Weak<McpServer>>>,
    relay: OnceLock<Arc<dyn Relay>>,
}

/// This process's parked calls; cheap to clone. Without a relay (a lone server made for a
/// connection test) a call parked here is answered only here.
#[derive(Clone, Default)]
pub struct ParkedCalls {
    inner: Arc<Inner>,
}

impl ParkedCalls {
    /// Sends answers for calls held elsewhere through `relay`; the first relay set stays.
    pub fn set_relay(&self, relay: Arc<dyn Relay>) {
        let _ = self.inner.relay.set(relay);
    }

    fn servers(&self) -> MutexGuard<'_, HashMap<String, Weak<McpServer>>> {
        self.inner
            .servers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Notes a call `server` just parked (from the response of one of its calls), forgetting
    /// calls that ended meanwhile, and tells the relay this process holds it.
    pub(crate) async fn note(&self, server: &Arc<McpServer>, response: &McpResponse) {
        let McpResponse::InputRequired(required) = response else {
            return;
        };
        let Some((token, wait)) = required.live.clone() else {
            return;
        };
        {
            let mut servers = self.servers();
            servers.retain(|token, held| held.upgrade().is_some_and(|s| s.holds(token)));
            servers.insert(token.clone(), Arc::downgrade(server));
        }
        if let Some(relay) = self.inner.relay.get() {
            relay.parked(token, wait).await;
        }
    }

    /// Completes the call parked under `token` with `answer`: here when `server` holds it
    /// (the fast path), else through the process that does. A call nobody holds any more
    /// ends as [`McpServer::resume_live`] says.
    pub(crate) async fn resume(
        &self,
        server: &Arc<McpServer>,
        token: &str,
        answer: Value,
        progress: &mpsc::UnboundedSender<String>,
    ) -> Result<McpResponse, McpError> {
        if !server.holds(token)
            && let Some(relay) = self.inner.relay.get()
        {
            // The holder's own wait is bounded by the call's timeout; the margin covers the
            // trip there and back.
            let limit = server.settings().timeout + Duration::from_secs(5);
            if let Some(outcome) = relay
                .resume_elsewhere(token.to_owned(), answer.clone(), limit)
                .await
            {
                return outcome;
            }
        }
        let outcome = server.resume_live(token, answer, progress).await;
        if let Ok(response) = &outcome {
            self.note(server, response).await;
        }
        outcome
    }

    /// Completes a call of this process for another process that received the answer;
    /// `None` when no server here holds it (it expired, or the process restarted).
    pub async fn resume_here(&self, token: &str, answer: Value) -> Relayed {
        let server = self.servers().get(token).and_then(Weak::upgrade)?;
        if !server.holds(token) {
            return None;
        }
        // Progress goes nowhere: the run that waits for this call streams in the other process.
        let (progress, _) = mpsc::unbounded_channel();
        let outcome = server.resume_live(token, answer, &progress).await;
        if let Ok(response) = &outcome {
            self.note(&server, response).await;
        }
        Some(outcome)
    }
}

/// A call's outcome as JSON, for the process that waits for it.
pub fn encode(outcome: &Relayed) -> String {
    serde_json::to_string(outcome).unwrap_or_else(|_| "null".into())
}

/// Reads [`encode`]'s JSON; unreadable JSON reads as "not held".
pub fn decode(json: &str) -> Relayed {
    serde_json::from_str(json).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::mcp::{InputRequired, McpResult};

    #[test]
    fn outcomes_travel_whole() {
        let outcomes: Vec<Relayed> = vec![
            None,
            Some(Ok(McpResponse::Complete(McpResult {
                content: vec![serde_json::json!({"type": "text", "text": "ok"})],
                structured: Some(serde_json::json!({"n": 1})),
                is_error: false,
            }))),
            Some(Ok(McpResponse::InputRequired(InputRequired {
                requests: vec![("live".into(), serde_json::json!({"method": "m"}))],
                request_state: None,
                live: Some(("tok".into(), Duration::from_secs(60))),
            }))),
            Some(Err(McpError::Timeout {
                server: "py".into(),
                timeout: Duration::from_millis(1500),
            })),
        ];
        for outcome in outcomes {
            assert_eq!(decode(&encode(&outcome)), outcome);
        }
    }
}
