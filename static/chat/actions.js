// What the page does for the server: widget actions (to the host's handler, or to the server
// as a streamed or a synchronous custom action) and client tool calls (the host's
// `onClientTool` answers, the result goes back with `threads.add_client_tool_output`).

/**
 * A widget's action, `payload` holding the form values already. Resolves when the action is
 * over, so the widget can show it loading meanwhile.
 */
export async function widgetAction(chat, item, action, payload) {
  const sent = { type: action.type, payload: payload ?? action.payload ?? null };
  try {
    if (action.handler === "client") {
      const handler = chat.options.widgets?.onAction;
      if (typeof handler !== "function") throw new Error("this page handles no widget actions");
      await handler(sent, item);
      return;
    }
    if (action.streaming === false) {
      const answer = await chat.api.json("threads.sync_custom_action", { thread_id: chat.threadId, item_id: item.id, action: sent });
      if (answer.updated_item) chat.view.append([answer.updated_item]);
      return;
    }
    if (chat.controller) {
      chat.showBanner("warning", "Wait for the current answer to finish, or stop it.");
      return;
    }
    await chat.run("threads.custom_action", { thread_id: chat.threadId, item_id: item.id, action: sent });
  } catch (error) {
    chat.showBanner("danger", `The action failed: ${error.message}`);
  }
}

/** Runs a pending client tool call through the host's handler and sends back its result. */
export async function runClientTool(chat, item) {
  if (chat.toolRunning === item.id) return;
  chat.toolRunning = item.id;
  let result;
  try {
    const handler = chat.options.onClientTool;
    if (typeof handler !== "function") throw new Error(`this page has no handler for the tool ${item.name}`);
    result = await handler({ name: item.name, params: item.arguments || {} });
  } catch (error) {
    result = { error: String(error?.message || error) };
  }
  // The server completes the call in place without streaming it back: show that here.
  chat.view.append([{ ...item, status: "completed", output: result ?? {} }]);
  try {
    await chat.run("threads.add_client_tool_output", { thread_id: chat.threadId, result: result ?? {} });
  } finally {
    chat.toolRunning = null;
  }
}
