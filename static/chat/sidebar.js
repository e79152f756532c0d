// The history sidebar: the user's threads newest first (`threads.list`, paged with "Show
// more"), a New chat button, and rename / delete per thread (`threads.update`,
// `threads.delete`). On a narrow screen it is a drawer over the conversation.

import { h, icon, iconButton } from "./dom.js";

const PAGE = 20;

export function threadTitle(thread) {
  return thread.title || "New chat";
}

export class Sidebar {
  /** `host`: `{api, open(threadId), newThread(), deleted(threadId), error(text), options}`. */
  constructor(host) {
    this.host = host;
    this.threads = [];
    this.after = null;
    this.current = null;
    this.list = h("ul.ck-thread-list", { "aria-label": "Conversations" });
    this.more = h("button.ck-more", { type: "button", hidden: true, onclick: () => this.load(false) }, "Show more");
    this.el = h(
      "nav.ck-sidebar",
      { "aria-label": "Chat history" },
      h("div.ck-sidebar-head", {},
        h("button.ck-new", { type: "button", onclick: () => host.newThread() }, icon("plus"), h("span", {}, "New chat")),
        iconButton("close", "Close history", () => host.closeDrawer(), { className: "ck-icon-button ck-drawer-close" })),
      this.list,
      this.more,
    );
  }

  /** Loads the first page again (`reset`) or the next one. */
  async load(reset = true) {
    try {
      const params = { limit: PAGE, order: "desc" };
      if (!reset && this.after) params.after = this.after;
      const page = await this.host.api.json("threads.list", params);
      this.threads = reset ? page.data : [...this.threads, ...page.data.filter((t) => !this.threads.some((o) => o.id === t.id))];
      this.after = page.has_more ? page.after : null;
      this.render();
    } catch (error) {
      this.host.error(`The conversations could not be loaded: ${error.message}`);
    }
  }

  /** A thread was created or changed (title) during a stream. */
  upsert(thread) {
    const index = this.threads.findIndex((t) => t.id === thread.id);
    if (index >= 0) this.threads[index] = { ...this.threads[index], ...thread };
    else this.threads.unshift(thread);
    this.render();
  }

  select(id) {
    this.current = id;
    for (const li of this.list.children) {
      const selected = li.dataset.threadId === id;
      li.classList.toggle("ck-selected", selected);
      const open = li.querySelector(".ck-thread-open");
      if (!open) continue;
      if (selected) open.setAttribute("aria-current", "page");
      else open.removeAttribute("aria-current");
    }
  }

  render() {
    const options = this.host.options;
    this.list.replaceChildren(
      ...this.threads.map((thread) => {
        const open = h("button.ck-thread-open", { type: "button", onclick: () => this.host.open(thread.id) }, threadTitle(thread));
        const li = h("li.ck-thread-entry", { "data-thread-id": thread.id }, open);
        const actions = h("span.ck-thread-actions");
        if (options.showRename !== false) actions.append(iconButton("edit", `Rename "${threadTitle(thread)}"`, () => this.rename(li, thread)));
        if (options.showDelete !== false) actions.append(iconButton("trash", `Delete "${threadTitle(thread)}"`, () => this.confirmDelete(li, thread)));
        li.append(actions);
        return li;
      }),
    );
    if (!this.threads.length) this.list.append(h("li.ck-empty", {}, "No conversations yet."));
    this.more.hidden = !this.after;
    this.select(this.current);
  }

  rename(li, thread) {
    const field = h("input.ck-rename", { type: "text", value: thread.title || "", "aria-label": "New title", maxLength: 200 });
    const done = async (save) => {
      const title = field.value.trim();
      if (save && title && title !== thread.title) {
        try {
          const updated = await this.host.api.json("threads.update", { thread_id: thread.id, title });
          this.upsert(updated);
          this.host.renamed(updated);
        } catch (error) {
          this.host.error(`The conversation could not be renamed: ${error.message}`);
          this.render();
        }
      } else {
        this.render();
      }
      this.list.querySelector(`[data-thread-id="${CSS.escape(thread.id)}"] .ck-thread-open`)?.focus();
    };
    field.addEventListener("keydown", (e) => {
      if (e.key === "Enter") { e.preventDefault(); done(true); }
      if (e.key === "Escape") { e.preventDefault(); done(false); }
    });
    field.addEventListener("blur", () => { if (field.isConnected) done(true); });
    li.replaceChildren(field);
    field.focus();
    field.select();
  }

  confirmDelete(li, thread) {
    const cancel = () => { this.render(); this.list.querySelector(`[data-thread-id="${CSS.escape(thread.id)}"] .ck-thread-open`)?.focus(); };
    const yes = h("button.ck-danger", { type: "button", onclick: () => this.remove(thread) }, "Delete");
    const no = h("button.ck-secondary", { type: "button", onclick: cancel }, "Cancel");
    li.replaceChildren(h("span.ck-confirm-text", {}, `Delete "${threadTitle(thread)}"?`), h("span.ck-confirm", {}, yes, no));
    li.addEventListener("keydown", (e) => { if (e.key === "Escape") cancel(); });
    no.focus();
  }

  async remove(thread) {
    try {
      await this.host.api.json("threads.delete", { thread_id: thread.id });
      this.threads = this.threads.filter((t) => t.id !== thread.id);
      this.render();
      this.host.deleted(thread.id);
    } catch (error) {
      this.host.error(`The conversation could not be deleted: ${error.message}`);
      this.render();
    }
  }
}
