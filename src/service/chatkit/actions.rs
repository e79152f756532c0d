//! Widget actions (`threads.custom_action` and its synchronous twin), routed by what they ask
//! for: answers to our own forms, a tool call, or context for the agent.

use super::{ChatKitService, EventStream, Processed, json};
use crate::agent::TurnInput;
use crate::auth::RequestContext;
use crate::chatkit::ids::{self, IdKind};
use crate::chatkit::types::*;
use crate::runs::AlreadyRead;
use crate::service::error::ChatKitError;
use crate::service::human::ChatAnswer;

impl ChatKitService {
    /// A widget action, routed by what it asks for (ARCHITECTURE section 6): `human.*` to the
    /// human-interaction service, a payload naming a tool to that tool, anything else to the
    /// agent as hidden context.
    pub(super) async fn custom_action(
        &self,
        ctx: RequestContext,
        p: CustomActionParams,
    ) -> Result<Processed, ChatKitError> {
        let thread = self.store.load_thread(&ctx.scope, &p.thread_id).await?;
        let Ok(sender) = self
            .action_sender(&ctx, &thread.id, p.item_id.as_deref())
            .await?
        else {
            // The SDK answers an action from a non-widget item with a lone error event.
            return Ok(Processed::Stream(EventStream::events(&[
                ThreadStreamEvent::stream_error(false),
            ])));
        };
        let (input, leading) = match ActionRoute::of(&p.action) {
            ActionRoute::Human => {
                return match self
                    .human
                    .answer_from_chat(&ctx.scope, &thread.id, sender, &p.action)
                    .await?
                {
                    ChatAnswer::Events(events) => {
                        Ok(Processed::Stream(EventStream::events(&events)))
                    }
                    ChatAnswer::Resume {
                        slot,
                        input,
                        summary,
                    } => Ok(self.stream_run(
                        slot,
                        ctx,
                        thread,
                        input,
                        vec![ThreadStreamEvent::ItemReplaced { item: summary }],
                        &[],
                        AlreadyRead::default(),
                    )),
                };
            }
            ActionRoute::Tool { tool, arguments } => (
                TurnInput::ToolAction {
                    sender,
                    tool,
                    arguments,
                },
                vec![],
            ),
            ActionRoute::Context => {
                let context = action_context(&thread.id, p.item_id.as_deref(), &p.action);
                (
                    TurnInput::Continue,
                    vec![ThreadStreamEvent::ItemDone { item: context }],
                )
            }
        };
        let slot = self.runs.reserve(&thread.id).await?;
        Ok(self.stream_run(
            slot,
            ctx,
            thread,
            input,
            leading,
            &[],
            AlreadyRead::default(),
        ))
    }

    /// The widget an action was sent from (`None` for an action the page sent on its own), or
    /// `Err(())` when the item is not a widget.
    async fn action_sender(
        &self,
        ctx: &RequestContext,
        thread_id: &str,
        item_id: Option<&str>,
    ) -> Result<Result<Option<ThreadItem>, ()>, ChatKitError> {
        let Some(item_id) = item_id else {
            return Ok(Ok(None));
        };
        let item = self.store.load_item(&ctx.scope, thread_id, item_id).await?;
        Ok(if matches!(item.body, ItemBody::Widget(_)) {
            Ok(Some(item))
        } else {
            Err(())
        })
    }

    /// The non-streaming twin: a tool action answers the replaced widget (saved, unlike in the
    /// SDK, so it survives a reload); any other action is recorded for the model.
    pub(super) async fn sync_custom_action(
        &self,
        ctx: RequestContext,
        p: CustomActionParams,
    ) -> Result<Processed, ChatKitError> {
        let thread = self.store.load_thread(&ctx.scope, &p.thread_id).await?;
        let Ok(sender) = self
            .action_sender(&ctx, &thread.id, p.item_id.as_deref())
            .await?
        else {
            return Err(ChatKitError::Invalid(
                "actions can only be sent from widget items".into(),
            ));
        };
        match ActionRoute::of(&p.action) {
            ActionRoute::Human => Err(ChatKitError::Unsupported(format!(
                "'{}' answers a form and resumes the assistant, so it needs the streaming \
                 threads.custom_action",
                p.action.type_
            ))),
            ActionRoute::Tool { tool, arguments } => {
                let agent = self
                    .runs
                    .agent_for(&ctx.agent)
                    .await
                    .map_err(|e| ChatKitError::Invalid(e.to_string()))?;
                let outcome = agent
                    .tool_action(&thread.id, sender.as_ref(), &tool, arguments)
                    .await
                    .map_err(|e| ChatKitError::Invalid(e.to_string()))?;
                let mut updated = None;
                for event in outcome.events {
                    if let ThreadStreamEvent::ItemReplaced { item }
                    | ThreadStreamEvent::ItemDone { item } = event
                    {
                        self.store.save_item(&ctx.scope, &item).await?;
                        updated.get_or_insert(item);
                    }
                }
                self.store
                    .save_tool_call(&ctx.scope, &outcome.record)
                    .await?;
                json(&SyncCustomActionResponse {
                    updated_item: updated,
                })
            }
            ActionRoute::Context => {
                let context = action_context(&thread.id, p.item_id.as_deref(), &p.action);
                self.store.save_item(&ctx.scope, &context).await?;
                json(&SyncCustomActionResponse { updated_item: None })
            }
        }
    }
}

/// What a widget action asks for.
enum ActionRoute {
    /// Our own forms and approvals; a widget from a tool can never reach them another way.
    Human,
    /// `{"tool": "...", "arguments": {...}}`: call that tool.
    Tool {
        tool: String,
        arguments: serde_json::Map<String, serde_json::Value>,
    },
    /// Anything else: the agent is told and answers.
    Context,
}

impl ActionRoute {
    fn of(action: &Action) -> ActionRoute {
        if action.type_.starts_with("human.") {
            return ActionRoute::Human;
        }
        match action.payload.get("tool").and_then(|t| t.as_str()) {
            Some(tool) => ActionRoute::Tool {
                tool: tool.to_owned(),
                arguments: action
                    .payload
                    .get("arguments")
                    .and_then(|a| a.as_object())
                    .cloned()
                    .unwrap_or_default(),
            },
            None => ActionRoute::Context,
        }
    }
}

/// The hidden context item that tells the model what the user did on a widget.
fn action_context(thread_id: &str, item_id: Option<&str>, action: &Action) -> ThreadItem {
    let on = item_id
        .map(|id| format!(" on widget {id}"))
        .unwrap_or_default();
    ThreadItem {
        id: ids::new_id(IdKind::Message),
        thread_id: thread_id.to_owned(),
        created_at: ids::now(),
        body: ItemBody::HiddenContextItem(HiddenContextItem {
            content: serde_json::Value::String(format!(
                "The user triggered the widget action '{}'{on} with payload {}.",
                action.type_, action.payload
            )),
        }),
    }
}
