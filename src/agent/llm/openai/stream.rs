//! Reading a streamed Chat Completions answer: the body cut into lines, parsed as SSE, each
//! chunk turned into model events (text deltas, whole tool calls, usage), with an idle timeout
//! while the model is silent.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::Value;
use tokio::time::{Instant, Sleep};

use super::super::{LlmError, ModelEvent, ModelStream, ToolCall};
use super::ERROR_BODY_LIMIT;
use super::sse::{self, Events};

/// The model events of a streamed answer.
pub(super) fn chunks(response: reqwest::Response, idle: Duration) -> ModelStream {
    Box::pin(Reader::new(Events::new(response.bytes_stream()), idle))
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
    usage: Option<Usage>,
    /// What a service sends instead of a chunk when it fails mid-stream (OpenAI, vLLM and
    /// LiteLLM send `{"error": {"message": ...}}`; some send a bare string).
    error: Option<Value>,
}

/// The message of an error object (or string) a service put in its stream.
fn stream_error_message(error: &Value) -> String {
    let message = match error {
        Value::String(text) => Some(text.as_str()),
        other => other["message"].as_str(),
    };
    match message {
        Some(text) if !text.trim().is_empty() => text.chars().take(ERROR_BODY_LIMIT).collect(),
        _ => error.to_string().chars().take(ERROR_BODY_LIMIT).collect(),
    }
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Delta,
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct Delta {
    content: Option<String>,
    #[serde(default)]
    tool_calls: Vec<ToolCallDelta>,
}

#[derive(Deserialize)]
struct ToolCallDelta {
    index: usize,
    id: Option<String>,
    function: Option<FunctionDelta>,
}

#[derive(Deserialize)]
struct FunctionDelta {
    name: Option<String>,
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct Usage {
    prompt_tokens: u64,
    completion_tokens: u64,
}

/// Reading state of one streamed response, and the stream of its events.
///
/// One timer for the whole answer, set when a wait first finds nothing, as a timeout per wait
/// would be but without making one each time; a wait whose event is already there costs
/// nothing.
struct Reader<S> {
    events: S,
    ready: VecDeque<ModelEvent>,
    /// Tool calls being assembled, by their index.
    calls: BTreeMap<usize, ToolCall>,
    finished: bool,
    done: bool,
    idle: Duration,
    /// `timer` is set for the current wait.
    armed: bool,
    timer: Pin<Box<Sleep>>,
}

impl<S> Stream for Reader<S>
where
    S: Stream<Item = Result<sse::Event, String>> + Unpin,
{
    type Item = Result<ModelEvent, LlmError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let r = &mut *self;
        loop {
            if let Some(event) = r.ready.pop_front() {
                return Poll::Ready(Some(Ok(event)));
            }
            if r.done {
                return Poll::Ready(None);
            }
            let next = match r.events.poll_next_unpin(cx) {
                Poll::Ready(next) => next,
                Poll::Pending => {
                    ready!(r.poll_idle(cx));
                    let secs = r.idle.as_secs();
                    return Poll::Ready(Some(r.fail(LlmError::IdleTimeout(secs))));
                }
            };
            r.armed = false;
            match next {
                Some(Ok(event)) if event.data.trim() == "[DONE]" => {
                    r.flush_calls();
                    r.done = true;
                }
                // An SSE `event: error` frame, whatever its data.
                Some(Ok(event)) if event.event == "error" => {
                    let message = serde_json::from_str::<Value>(&event.data)
                        .map(|v| stream_error_message(v.get("error").unwrap_or(&v)))
                        .unwrap_or_else(|_| event.data.chars().take(ERROR_BODY_LIMIT).collect());
                    return Poll::Ready(Some(r.fail(LlmError::StreamError(message))));
                }
                Some(Ok(event)) => match serde_json::from_str::<Chunk>(&event.data) {
                    Ok(Chunk {
                        error: Some(error), ..
                    }) if !error.is_null() => {
                        let message = stream_error_message(&error);
                        return Poll::Ready(Some(r.fail(LlmError::StreamError(message))));
                    }
                    Ok(chunk) => r.take_chunk(chunk),
                    Err(e) => return Poll::Ready(Some(r.fail(LlmError::Malformed(e.to_string())))),
                },
                Some(Err(e)) => return Poll::Ready(Some(r.fail(LlmError::Broken(e)))),
                // Tolerate servers that end after the finish reason without `[DONE]`.
                None if r.finished => {
                    r.flush_calls();
                    r.done = true;
                }
                None => {
                    let broken =
                        LlmError::Broken("the stream ended before the answer was complete".into());
                    return Poll::Ready(Some(r.fail(broken)));
                }
            }
        }
    }
}

impl<S> Reader<S> {
    fn new(events: S, idle: Duration) -> Self {
        Reader {
            events,
            ready: VecDeque::new(),
            calls: BTreeMap::new(),
            finished: false,
            done: false,
            idle,
            armed: false,
            timer: Box::pin(tokio::time::sleep(idle)),
        }
    }

    /// Ready once the model has been silent for the idle timeout since this wait first found
    /// nothing.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.armed {
            self.armed = true;
            self.timer.as_mut().reset(Instant::now() + self.idle);
        }
        self.timer.as_mut().poll(cx)
    }

    /// Ends the stream with `error`.
    fn fail(&mut self, error: LlmError) -> Result<ModelEvent, LlmError> {
        self.done = true;
        self.ready.clear();
        Err(error)
    }

    fn flush_calls(&mut self) {
        let calls = std::mem::take(&mut self.calls);
        self.ready
            .extend(calls.into_values().map(ModelEvent::ToolCall));
    }

    fn take_chunk(&mut self, chunk: Chunk) {
        if let Some(usage) = chunk.usage {
            self.ready.push_back(ModelEvent::Usage {
                prompt_tokens: usage.prompt_tokens,
                completion_tokens: usage.completion_tokens,
            });
        }
        for choice in chunk.choices {
            if let Some(text) = choice.delta.content.filter(|t| !t.is_empty()) {
                self.ready.push_back(ModelEvent::TextDelta(text));
            }
            for fragment in choice.delta.tool_calls {
                let call = self
                    .calls
                    .entry(fragment.index)
                    .or_insert_with(|| ToolCall {
                        call_id: String::new(),
                        name: String::new(),
                        arguments: String::new(),
                    });
                if let Some(id) = fragment.id {
                    call.call_id = id;
                }
                if let Some(function) = fragment.function {
                    call.name
                        .push_str(function.name.as_deref().unwrap_or_default());
                    call.arguments
                        .push_str(function.arguments.as_deref().unwrap_or_default());
                }
            }
            if choice.finish_reason.is_some() {
                self.finished = true;
                self.flush_calls();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer whose deltas come less than the idle timeout apart never times out, however
    /// long it lasts in all; a silence of the idle timeout does.
    #[tokio::test]
    async fn only_a_silence_as_long_as_the_idle_timeout_ends_an_answer() {
        let gap = Duration::from_millis(400);
        let idle = Duration::from_millis(1_500);
        let chunk = |text: &str| {
            format!("data: {{\"choices\":[{{\"delta\":{{\"content\":\"{text}\"}}}}]}}\n\n")
        };
        let reads: Vec<(Duration, String)> =
            (0..6).map(|i| (gap, chunk(&format!("w{i} ")))).collect();
        let body = futures_util::stream::iter(reads)
            .then(|(delay, read)| async move {
                tokio::time::sleep(delay).await;
                Ok::<_, std::convert::Infallible>(bytes::Bytes::from(read))
            })
            .chain(futures_util::stream::pending())
            .boxed();
        let mut reader = Reader::new(Events::new(body), idle);
        let started = std::time::Instant::now();
        for i in 0..6 {
            match reader.next().await {
                Some(Ok(ModelEvent::TextDelta(text))) => assert_eq!(text, format!("w{i} ")),
                other => panic!("delta {i}: {other:?}"),
            }
        }
        assert!(
            started.elapsed() > idle,
            "the answer outlasted the idle timeout"
        );
        let silent = std::time::Instant::now();
        match reader.next().await {
            Some(Err(LlmError::IdleTimeout(_))) => {}
            other => panic!("a silent model must time out: {other:?}"),
        }
        assert!(silent.elapsed() >= idle, "not before the idle timeout");
        assert!(
            reader.next().await.is_none(),
            "the stream ends after its error"
        );
    }
}
