//! Widget actions: the config a widget embeds for a click or a submit (`onClickAction`,
//! `onSubmitAction`, ...), which tells the client where the action goes and how to show it
//! running. Kept apart from the component tree it rides in (`widgets`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where a widget action is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionHandler {
    /// Sent to the server as `threads.custom_action` / `threads.sync_custom_action`.
    #[default]
    Server,
    /// Handled by the host page's `widgets.onAction`.
    Client,
}

/// Client-side loading feedback while an action runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadingBehavior {
    #[default]
    Auto,
    None,
    #[serde(rename = "self")]
    SelfOnly,
    Container,
}

/// An action embedded in a widget (`onClickAction`, `onSubmitAction`, …).
///
/// Serialized as the SDK does: every field is written, except a null payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionConfig {
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub payload: Value,
    #[serde(default)]
    pub handler: ActionHandler,
    #[serde(default, rename = "loadingBehavior")]
    pub loading_behavior: LoadingBehavior,
    /// `false` makes the client use `threads.sync_custom_action`.
    #[serde(default = "default_streaming")]
    pub streaming: bool,
}

fn default_streaming() -> bool {
    true
}

impl ActionConfig {
    /// A server-handled, streaming action without payload.
    pub fn new(type_: impl Into<String>) -> Self {
        Self {
            type_: type_.into(),
            payload: Value::Null,
            handler: ActionHandler::default(),
            loading_behavior: LoadingBehavior::default(),
            streaming: true,
        }
    }

    /// Sets the payload echoed back by the client.
    pub fn with_payload(mut self, payload: impl Into<Value>) -> Self {
        self.payload = payload.into();
        self
    }
}

impl From<ActionConfig> for Value {
    /// Lets an action be passed straight to [`super::widgets::WidgetComponent::with_prop`].
    fn from(config: ActionConfig) -> Value {
        // Cannot fail: only string keys and plain values are involved.
        serde_json::to_value(config).unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn action_config_defaults() {
        let config: ActionConfig =
            serde_json::from_value(json!({"type": "go"})).expect("minimal config");
        assert_eq!(config, ActionConfig::new("go"));
        assert_eq!(
            serde_json::to_value(&config).ok(),
            Some(
                json!({"type": "go", "handler": "server", "loadingBehavior": "auto", "streaming": true})
            )
        );
        for behavior in ["auto", "none", "self", "container"] {
            let c: ActionConfig =
                serde_json::from_value(json!({"type": "go", "loadingBehavior": behavior}))
                    .expect("behavior");
            assert_eq!(
                serde_json::to_value(c)
                    .ok()
                    .map(|v| v["loadingBehavior"].clone()),
                Some(json!(behavior))
            );
        }
    }
}
