// The conversation: renders thread items in order, applies streamed updates in place (text
// deltas, widget updates, workflow tasks), and offers the item actions (copy, feedback, retry,
// quote). It owns no protocol state: the element tells it what changed.

import { renderMarkdown } from "./markdown.js";
import { renderWidget } from "./widgets.js";
import { h, icon, iconButton, copyText } from "./dom.js";

/** The plain text of an assistant message (for copy, quoting and the live region). */
export function messageText(item) {
  return (item.content || []).map((part) => part.text || "").join("\n\n");
}

/** Applies one `thread.item.updated` update to an item, as the protocol folds them (§4.2). */
export function applyUpdate(item, update) {
  const next = structuredClone(item);
  switch (update.type) {
    case "assistant_message.content_part.added":
    case "assistant_message.content_part.done":
      next.content = next.content || [];
      while (next.content.length < update.content_index) next.content.push({ type: "output_text", text: "", annotations: [] });
      next.content[update.content_index] = update.content;
      break;
    case "assistant_message.content_part.text_delta": {
      next.content = next.content || [];
      while (next.content.length <= update.content_index) next.content.push({ type: "output_text", text: "", annotations: [] });
      next.content[update.content_index].text = (next.content[update.content_index].text || "") + update.delta;
      break;
    }
    case "assistant_message.content_part.annotation_added": {
      const part = next.content?.[update.content_index];
      if (part) {
        part.annotations = part.annotations || [];
        part.annotations.splice(update.annotation_index, 0, update.annotation);
      }
      break;
    }
    case "widget.root.updated":
      next.widget = update.widget;
      break;
    case "widget.streaming_text.value_delta":
    case "widget.component.updated": {
      const visit = (node) => {
        if (!node || typeof node !== "object") return false;
        if (node.id === update.component_id) {
          if (update.type === "widget.component.updated") {
            for (const key of Object.keys(node)) delete node[key];
            Object.assign(node, update.component);
          } else {
            node.value = (node.value || "") + update.delta;
            node.streaming = !update.done;
          }
          return true;
        }
        const kids = Array.isArray(node.children) ? node.children : node.children ? [node.children] : [];
        return kids.some(visit);
      };
      visit(next.widget);
      break;
    }
    case "workflow.task.added":
      next.workflow.tasks = [...(next.workflow.tasks || []), update.task];
      break;
    case "workflow.task.updated":
      next.workflow.tasks[update.task_index] = update.task;
      break;
    case "generated_image.updated":
      next.image = update.image;
      next.progress = update.progress;
      break;
    default:
      break;
  }
  return next;
}

export class ThreadView {
  /**
   * `host` supplies what items need from the element: `feedback(item, kind)`,
   * `retry(item)`, `quote(text)`, `widgetAction(item, action, payload)`, `canRetry(item)`,
   * `actions` (threadItemActions option).
   */
  constructor(host) {
    this.host = host;
    this.entries = new Map();
    this.older = h("div.ck-older", { hidden: true }, h("span.ck-spinner", { "aria-hidden": "true" }), "Loading earlier messages…");
    this.list = h("div.ck-items");
    this.status = h("div.ck-status", { role: "status" });
    // Errors of the last turn show where the answer would have been.
    this.errors = h("div.ck-banners.ck-inline-errors");
    this.el = h("div.ck-thread", { role: "log", "aria-label": "Conversation", "aria-live": "off", tabIndex: 0 }, this.older, this.list, this.status, this.errors);
    this.pendingRender = new Set();
  }

  clear() {
    this.entries.clear();
    this.list.replaceChildren();
    this.status.replaceChildren();
    this.errors.replaceChildren();
  }

  /** Whether the view is scrolled (nearly) to the end, so new text should keep it there. */
  atBottom() {
    const el = this.el;
    return el.scrollHeight - el.scrollTop - el.clientHeight < 80;
  }

  scrollToEnd() {
    this.el.scrollTop = this.el.scrollHeight;
  }

  items() {
    return [...this.list.children].map((el) => this.entries.get(el.dataset.itemId)?.item).filter(Boolean);
  }

  get(id) {
    return this.entries.get(id)?.item;
  }

  /** Adds items (oldest first) at the end, or replaces the ones already shown. */
  append(items) {
    const follow = this.atBottom();
    for (const item of items) this.upsert(item);
    if (follow) this.scrollToEnd();
  }

  /** Adds older items (oldest first) above the others, keeping what is on screen in place. */
  prepend(items) {
    const before = this.el.scrollHeight;
    const first = this.list.firstChild;
    for (const item of items) {
      if (this.entries.has(item.id)) continue;
      const el = this.render(item);
      this.entries.set(item.id, { item, el });
      this.list.insertBefore(el, first);
    }
    this.el.scrollTop += this.el.scrollHeight - before;
  }

  upsert(item, streaming = false) {
    const entry = this.entries.get(item.id);
    const el = this.render(item, streaming);
    if (entry) {
      entry.el.replaceWith(el);
      entry.item = item;
      entry.el = el;
    } else {
      this.entries.set(item.id, { item, el });
      this.list.append(el);
    }
    this.refreshActions();
  }

  remove(id) {
    const entry = this.entries.get(id);
    if (!entry) return;
    entry.el.remove();
    this.entries.delete(id);
    this.refreshActions();
  }

  /** Drops every item after `id` (a retry regenerates them). */
  removeAfter(id) {
    const entry = this.entries.get(id);
    if (!entry) return;
    while (entry.el.nextSibling) {
      const next = entry.el.nextSibling;
      this.entries.delete(next.dataset.itemId);
      next.remove();
    }
  }

  /** Applies a streamed update; assistant text is re-rendered at most once per frame. */
  update(id, update) {
    const entry = this.entries.get(id);
    if (!entry) return;
    entry.item = applyUpdate(entry.item, update);
    if (entry.item.type === "assistant_message") {
      this.pendingRender.add(id);
      if (this.pendingRender.size === 1) requestAnimationFrame(() => this.flush());
    } else {
      this.upsert(entry.item, true);
    }
  }

  flush() {
    const follow = this.atBottom();
    for (const id of this.pendingRender) {
      const entry = this.entries.get(id);
      if (!entry) continue;
      const body = entry.el.querySelector(".ck-content");
      if (body) body.replaceChildren(...messageBody(entry.item));
    }
    this.pendingRender.clear();
    if (follow) this.scrollToEnd();
  }

  /** Marks an assistant message as still being written (a caret, no actions yet). */
  setStreaming(id, streaming) {
    const entry = this.entries.get(id);
    entry?.el.classList.toggle("ck-streaming", streaming);
  }

  /** Shows a transient line under the items (progress updates); `null` clears it. */
  setProgress(text) {
    this.status.replaceChildren();
    if (text) this.status.append(h("div.ck-progress", {}, h("span.ck-spinner", { "aria-hidden": "true" }), h("span", {}, text)));
    if (this.atBottom()) this.scrollToEnd();
  }

  /** Retry belongs on the last assistant message of a turn only; refreshed after changes. */
  refreshActions() {
    const items = [...this.list.children];
    for (const el of items) el.classList.remove("ck-last");
    const last = items.reverse().find((el) => el.dataset.type === "assistant_message");
    last?.classList.add("ck-last");
  }

  render(item, streaming = false) {
    const el = h("div.ck-item", { "data-item-id": item.id, "data-type": item.type });
    el.classList.add(`ck-${item.type.replace(/_/g, "-")}`);
    switch (item.type) {
      case "user_message":
        el.append(userMessage(item));
        break;
      case "assistant_message":
        el.append(h("div.ck-content", {}, messageBody(item)), this.itemActions(item));
        break;
      case "widget":
        el.append(this.widget(item));
        break;
      case "client_tool_call":
        el.append(h("div.ck-tool", {}, item.status === "pending" ? `Running ${item.name}…` : `Ran ${item.name}`));
        break;
      case "structured_input":
        if (item.status === "pending") {
          el.hidden = true;
        } else {
          el.append(answeredQuestions(item));
        }
        break;
      case "workflow":
        el.append(workflow(item));
        break;
      case "task":
        el.append(h("div.ck-tasks", {}, task(item.task)));
        break;
      case "generated_image":
        if (item.image?.url) {
          el.append(h("img.ck-generated", { src: item.image.url, alt: "Generated image" }));
        } else {
          el.append(h("div.ck-progress", {}, h("span.ck-spinner"), "Generating an image…"));
        }
        break;
      default:
        el.hidden = true;
    }
    if (streaming) el.classList.add("ck-streaming");
    return el;
  }

  widget(item) {
    try {
      return renderWidget(item.widget, {
        itemId: item.id,
        onAction: (action, payload) => this.host.widgetAction(item, action, payload),
      });
    } catch (error) {
      console.error("widget could not be shown", error);
      return h("div.ck-widget-error", {}, item.copy_text || "This widget could not be shown.");
    }
  }

  itemActions(item) {
    const options = this.host.actions();
    const bar = h("div.ck-actions", { role: "group", "aria-label": "Message actions" });
    const copy = iconButton("copy", "Copy", async () => {
      await copyText(messageText(item));
      copy.classList.add("ck-done");
      copy.setAttribute("aria-label", "Copied");
      copy.title = "Copied";
      setTimeout(() => {
        copy.classList.remove("ck-done");
        copy.setAttribute("aria-label", "Copy");
        copy.title = "Copy";
      }, 1500);
    });
    bar.append(copy);
    bar.append(
      iconButton("quote", "Quote in reply", () => {
        const selection = String(window.getSelection() || "").trim();
        const inside = selection && window.getSelection().anchorNode && this.entries.get(item.id)?.el.contains(window.getSelection().anchorNode);
        this.host.quote(inside ? selection : messageText(item));
      }),
    );
    if (options.feedback !== false) {
      const up = iconButton("up", "Good response", () => this.host.feedback(item, "positive", up, down), { "aria-pressed": "false" });
      const down = iconButton("down", "Bad response", () => this.host.feedback(item, "negative", up, down), { "aria-pressed": "false" });
      bar.append(up, down);
    }
    if (options.retry !== false) {
      bar.append(iconButton("retry", "Retry", () => this.host.retry(item), { className: "ck-icon-button ck-retry" }));
    }
    return bar;
  }
}

function messageBody(item) {
  const parts = (item.content || []).map((part) => {
    const body = h("div.ck-markdown");
    body.append(renderMarkdown(part.text || ""));
    const sources = (part.annotations || []).map((a) => a.source).filter((s) => s && s.title);
    if (sources.length) {
      body.append(
        h("ul.ck-sources", { "aria-label": "Sources" }, sources.map((s) =>
          h("li", {}, s.type === "url" && /^https?:/i.test(s.url || "") ? h("a", { href: s.url, target: "_blank", rel: "noopener noreferrer" }, s.title) : s.title),
        )),
      );
    }
    return body;
  });
  return parts;
}

function userMessage(item) {
  const bubble = h("div.ck-bubble");
  if (item.quoted_text) bubble.append(h("blockquote.ck-quoted", {}, item.quoted_text));
  const text = (item.content || []).map((part) => (part.type === "input_tag" ? `@${part.text}` : part.text || "")).join("");
  if (text) bubble.append(h("div.ck-text", {}, text));
  const attachments = item.attachments || [];
  if (attachments.length) {
    bubble.append(
      h("div.ck-sent-attachments", {}, attachments.map((a) =>
        a.type === "image" && a.preview_url
          ? h("img.ck-thumb", { src: a.preview_url, alt: a.name, title: a.name })
          : h("span.ck-file-chip", {}, icon("file"), h("span", {}, a.name)),
      )),
    );
  }
  return bubble;
}

function answeredQuestions(item) {
  const rows = (item.inputs || []).map((input) => {
    const answer = input.answer;
    const value = !answer || answer.skipped ? "Skipped" : (answer.values || []).join(", ");
    return h("div.ck-answer", {}, h("dt", {}, input.question), h("dd", { className: answer && !answer.skipped ? "" : "ck-muted" }, value));
  });
  return h("dl.ck-answers", { "aria-label": item.status === "skipped" ? "Questions skipped" : "Your answers" }, rows);
}

function task(t) {
  const title = t.title || t.title_query || (t.type === "thought" ? "Thinking" : "Task");
  const state = t.status_indicator === "loading" ? h("span.ck-spinner", { "aria-label": "in progress" }) : t.status_indicator === "complete" ? icon("check") : null;
  const body = h("div.ck-task", {}, state, h("span.ck-task-title", {}, title));
  if (t.content) {
    const content = h("div.ck-task-content");
    content.append(renderMarkdown(t.content));
    body.append(content);
  }
  return body;
}

function workflow(item) {
  const wf = item.workflow || {};
  const summary = wf.summary?.title || (wf.summary?.duration !== undefined ? `Worked for ${wf.summary.duration}s` : wf.type === "reasoning" ? "Thinking…" : "Working…");
  return h("details.ck-workflow", { open: wf.expanded }, h("summary", {}, summary), h("div.ck-tasks", {}, (wf.tasks || []).map(task)));
}
