// <chatkit-chat>: a ChatKit-protocol chat client as a custom element, configured like ChatKit
// JS (`el.setOptions({api, theme, startScreen, composer, history, threadItemActions,
// onClientTool, widgets})`) or, for a simple page, by attributes (`api-url`, `upload-url`,
// `greeting`, `placeholder`, `attachments`, `history`). It renders in the light DOM with
// `ck-` classes and loads its own stylesheets, so a page's strict CSP needs only 'self'.

import { ChatApi } from "./api.js";
import { h, iconButton } from "./dom.js";
import { ThreadView, messageText } from "./thread-view.js";
import { Composer } from "./composer.js";
import { Sidebar, threadTitle } from "./sidebar.js";
import { questionsPanel } from "./questions.js";
import { renderMarkdown } from "./markdown.js";
import { widgetAction, runClientTool } from "./actions.js";

const STYLESHEETS = ["./chat.css", "./widgets.css"];

/** Adds the client's stylesheets to the document once. */
function loadStyles() {
  for (const sheet of STYLESHEETS) {
    const href = new URL(sheet, import.meta.url).href;
    const links = [...document.querySelectorAll('link[rel="stylesheet"]')];
    if (!links.some((link) => link.href === href)) {
      document.head.append(h("link", { rel: "stylesheet", href }));
    }
  }
}

/** Options from attributes, for pages that configure the element in HTML only. */
function optionsFromAttributes(el) {
  const attr = (name) => el.getAttribute(name);
  const upload = attr("upload-url");
  return {
    api: { url: attr("api-url"), uploadStrategy: upload ? { type: "direct", uploadUrl: upload } : { type: "two_phase" } },
    startScreen: { greeting: attr("greeting") || undefined },
    composer: {
      placeholder: attr("placeholder") || undefined,
      attachments: { enabled: attr("attachments") !== "off" },
      dictation: { enabled: attr("dictation") === "on" },
    },
    history: { enabled: attr("history") !== "off" },
  };
}

export class ChatKitChat extends HTMLElement {
  constructor() {
    super();
    this.options = null;
    this.threadId = null;
    this.thread = null;
    this.controller = null;
    this.streamingIds = new Set();
  }

  connectedCallback() {
    loadStyles();
    this.classList.add("ck-root");
    if (!this.options && this.hasAttribute("api-url")) this.setOptions(optionsFromAttributes(this));
  }

  disconnectedCallback() {
    this.controller?.abort();
  }

  /** Configures the element (ChatKit JS's option names) and (re)starts it. */
  setOptions(options) {
    if (!options?.api?.url) throw new TypeError("chatkit-chat needs api.url");
    this.controller?.abort();
    this.options = options;
    this.api = new ChatApi(options.api);
    this.storageKey = `chatkit-chat:thread:${options.api.url}`;
    this.build();
    this.composer.refresh();
    this.applyTheme(options.theme);
    if (this.sidebar) this.sidebar.load();
    const initial = options.initialThread !== undefined ? options.initialThread : localStorage.getItem(this.storageKey);
    if (initial) this.setThreadId(initial);
    else this.showThread(null);
    // For hosts measuring their page: when the chat became usable.
    performance.mark("chatkit-chat:ready");
  }

  build() {
    const options = this.options;
    const history = options.history?.enabled !== false;
    this.live = h("div.ck-offscreen", { "aria-live": "polite", "aria-atomic": "true" });
    this.view = new ThreadView({
      actions: () => options.threadItemActions || {},
      feedback: (item, kind, up, down) => this.feedback(item, kind, up, down),
      retry: (item) => this.retryItem(item),
      quote: (text) => this.composer.setQuote(text),
      widgetAction: (item, action, payload) => widgetAction(this, item, action, payload),
    });
    this.view.el.addEventListener("scroll", () => this.maybeLoadOlder());
    this.startScreen = this.buildStartScreen();
    this.view.el.insertBefore(this.startScreen, this.view.list);
    this.banners = h("div.ck-banners");
    this.composer = new Composer(
      {
        api: this.api,
        send: (message) => this.send(message),
        stop: () => this.stop(),
        announce: (text) => this.announce(text),
        error: (text) => this.showBanner("danger", text),
      },
      options.composer || {},
    );
    this.composer.input.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.controller) this.stop();
    });
    this.bottom = h("div.ck-bottom", {}, this.composer.el);
    this.titleEl = h("h2.ck-title", {}, "New chat");
    const header = h("header.ck-header", {},
      history ? iconButton("menu", "Show history", () => this.toggleDrawer(true), { className: "ck-icon-button ck-drawer-open" }) : null,
      this.titleEl,
      history ? iconButton("plus", "New chat", () => this.newThread(), { className: "ck-icon-button ck-header-new" }) : null);
    const main = h("section.ck-main", { "aria-label": "Chat" }, header, this.banners, this.view.el, this.bottom);
    this.sidebar = null;
    const shell = h("div.ck-shell");
    if (history) {
      this.sidebar = new Sidebar({
        api: this.api,
        options: options.history || {},
        open: (id) => { this.toggleDrawer(false); this.setThreadId(id); },
        newThread: () => { this.toggleDrawer(false); this.newThread(); },
        deleted: (id) => { if (id === this.threadId) this.newThread(); },
        renamed: (thread) => { if (thread.id === this.threadId) this.setTitle(thread); },
        closeDrawer: () => this.toggleDrawer(false),
        error: (text) => this.showBanner("danger", text),
      });
      this.scrim = h("div.ck-scrim", { onclick: () => this.toggleDrawer(false) });
      shell.append(this.sidebar.el, this.scrim);
    }
    shell.append(main);
    this.replaceChildren(shell, this.live);
    this.listen();
  }

  /** The element's own listeners, added once however often it is configured. */
  listen() {
    if (this.listening) return;
    this.listening = true;
    this.addEventListener("dragover", (e) => {
      if ([...(e.dataTransfer?.types || [])].includes("Files")) {
        e.preventDefault();
        this.classList.add("ck-dragging");
      }
    });
    this.addEventListener("dragleave", (e) => { if (!this.contains(e.relatedTarget)) this.classList.remove("ck-dragging"); });
    this.addEventListener("drop", (e) => {
      if (!e.dataTransfer?.files?.length) return;
      e.preventDefault();
      this.classList.remove("ck-dragging");
      this.composer.drop([...e.dataTransfer.files]);
    });
    this.addEventListener("keydown", (e) => { if (e.key === "Escape" && this.classList.contains("ck-drawer")) this.toggleDrawer(false); });
  }

  buildStartScreen() {
    const start = this.options.startScreen || {};
    const prompts = (start.prompts || []).map((p) =>
      h("button.ck-prompt", { type: "button", onclick: () => this.sendUserMessage({ text: p.prompt }) }, p.label || p.prompt));
    return h("div.ck-start", {},
      h("p.ck-greeting", {}, start.greeting || "What can I help with today?"),
      prompts.length ? h("div.ck-prompts", {}, prompts) : null);
  }

  applyTheme(theme) {
    const scheme = typeof theme === "string" ? theme : theme?.colorScheme;
    if (scheme === "light" || scheme === "dark") this.dataset.theme = scheme;
    else delete this.dataset.theme;
    const accent = typeof theme === "object" ? theme?.color?.accent?.primary : null;
    if (accent) this.style.setProperty("--ck-accent", accent);
    if (typeof theme === "object" && theme?.radius) this.dataset.radius = theme.radius;
    if (typeof theme === "object" && theme?.density) this.dataset.density = theme.density;
  }

  toggleDrawer(open) {
    this.classList.toggle("ck-drawer", open);
    if (open) this.sidebar?.el.querySelector(".ck-new")?.focus();
    else if (this.sidebar?.el.contains(document.activeElement)) this.querySelector(".ck-drawer-open")?.focus();
  }

  announce(text) {
    this.live.textContent = "";
    setTimeout(() => { this.live.textContent = text; }, 50);
  }

  emit(name, detail = {}) {
    this.dispatchEvent(new CustomEvent(`chatkit.${name}`, { detail, bubbles: true }));
    const callback = this.options?.[`on${name.split(".").map((w) => w[0].toUpperCase() + w.slice(1)).join("")}`];
    if (typeof callback === "function") callback(detail);
  }

  /** A dismissible banner above the conversation; `retry` adds a Retry button. */
  showBanner(level, message, { title, retry, retryLabel = "Retry", markdown, inline } = {}) {
    const body = h("div.ck-banner-body", {}, title ? h("strong", {}, title) : null);
    if (markdown) body.append(markdown(message));
    else body.append(h("span", {}, message));
    const banner = h(`div.ck-banner.ck-${level}`, { role: level === "danger" ? "alert" : "status" }, body);
    if (retry) banner.append(h("button.ck-secondary", { type: "button", onclick: () => { banner.remove(); retry(); } }, retryLabel));
    banner.append(iconButton("close", "Dismiss", () => banner.remove()));
    (inline ? this.view.errors : this.banners).append(banner);
    if (inline) this.view.scrollToEnd();
    return banner;
  }

  clearBanners() {
    this.banners.replaceChildren();
    this.view.errors.replaceChildren();
  }

  setTitle(thread) {
    this.titleEl.textContent = thread ? threadTitle(thread) : "New chat";
  }

  /** Shows `thread` (or a fresh start screen for `null`), remembering it for a reload. */
  showThread(thread) {
    this.thread = thread;
    this.threadId = thread?.id || null;
    if (this.threadId) localStorage.setItem(this.storageKey, this.threadId);
    else localStorage.removeItem(this.storageKey);
    this.setTitle(thread);
    this.sidebar?.select(this.threadId);
    this.refreshStart();
    this.applyStatus();
  }

  refreshStart() {
    this.startScreen.hidden = Boolean(this.threadId) || this.view.list.children.length > 0;
  }

  applyStatus() {
    const status = this.thread?.status || { type: "active" };
    this.bottom.querySelector(".ck-closed")?.remove();
    if (status.type === "closed") {
      this.composer.el.hidden = true;
      this.bottom.append(h("div.ck-closed", { role: "status" }, status.reason || "This conversation is closed."));
    } else {
      this.composer.el.hidden = Boolean(this.questions);
      this.composer.setLocked(status.type === "locked" ? status.reason || "This conversation is locked." : null);
    }
  }

  newThread() {
    this.stop();
    this.view.clear();
    this.clearBanners();
    this.olderCursor = null;
    this.closeQuestions();
    this.showThread(null);
    this.emit("thread.change", { threadId: null });
    this.composer.focus();
  }

  /** Opens a thread: its newest items, older ones as the user scrolls up. */
  async setThreadId(id) {
    if (!id) return this.newThread();
    this.stop();
    this.view.clear();
    this.clearBanners();
    this.closeQuestions();
    this.olderCursor = null;
    this.threadId = id;
    this.sidebar?.select(id);
    this.view.el.setAttribute("aria-busy", "true");
    try {
      const thread = await this.api.json("threads.get_by_id", { thread_id: id });
      let items = thread.items?.data || [];
      if (thread.items?.has_more) {
        const page = await this.api.json("items.list", { thread_id: id, order: "desc", limit: 20 });
        items = page.data.slice().reverse();
        this.olderCursor = page.has_more ? page.after : null;
      }
      if (this.threadId !== id) return;
      this.view.append(items);
      this.showThread(thread);
      this.view.scrollToEnd();
      this.emit("thread.change", { threadId: id });
      this.afterTurn();
      this.catchUp(id);
    } catch (error) {
      if (error.status === 404) {
        this.showThread(null);
      } else {
        this.showBanner("danger", `The conversation could not be loaded: ${error.message}`, { retry: () => this.setThreadId(id) });
      }
    } finally {
      this.view.el.removeAttribute("aria-busy");
    }
  }

  /**
   * A thread opened while its answer is still being written or saved (a reload mid-answer
   * cancels it; a run resumed elsewhere goes on alone) ends with the question: look for the
   * newer items a few times, as long as nothing streams here.
   */
  catchUp(id, tries = 6) {
    clearTimeout(this.catchUpTimer);
    const items = this.view.items();
    if (!tries || items[items.length - 1]?.type !== "user_message") return;
    this.catchUpTimer = setTimeout(async () => {
      if (this.threadId !== id || this.controller) return;
      try {
        const page = await this.api.json("items.list", { thread_id: id, order: "desc", limit: 20 });
        if (this.threadId !== id || this.controller) return;
        const known = new Set(this.view.items().map((item) => item.id));
        const newer = [];
        for (const item of page.data) {
          if (known.has(item.id)) break;
          newer.unshift(item);
        }
        if (newer.length) {
          this.view.append(newer);
          this.afterTurn();
        }
      } catch {
        return;
      }
      this.catchUp(id, tries - 1);
    }, 1000);
  }

  /** Re-reads the open thread (ChatKit JS's `fetchUpdates`). */
  fetchUpdates() {
    return this.threadId ? this.setThreadId(this.threadId) : Promise.resolve();
  }

  async maybeLoadOlder() {
    if (!this.olderCursor || this.loadingOlder || this.view.el.scrollTop > 120) return;
    this.loadingOlder = true;
    this.view.older.hidden = false;
    const id = this.threadId;
    try {
      const page = await this.api.json("items.list", { thread_id: id, order: "desc", limit: 20, after: this.olderCursor });
      if (this.threadId !== id) return;
      this.olderCursor = page.has_more ? page.after : null;
      this.view.prepend(page.data.slice().reverse());
    } catch (error) {
      this.showBanner("danger", `Earlier messages could not be loaded: ${error.message}`);
    } finally {
      this.loadingOlder = false;
      this.view.older.hidden = true;
    }
  }

  /** ChatKit JS's `sendUserMessage({text, newThread})`. */
  sendUserMessage({ text = "", newThread = false, reply } = {}) {
    if (newThread) this.newThread();
    return this.send({ text, quoted: reply || "", attachments: [], inference: {} });
  }

  focusComposer() {
    this.composer.focus();
  }

  async send(message) {
    if (this.controller) return;
    this.clearBanners();
    const input = {
      content: message.text ? [{ type: "input_text", text: message.text }] : [],
      attachments: message.attachments,
      inference_options: message.inference,
    };
    if (message.quoted) input.quoted_text = message.quoted;
    this.sawUserMessage = false;
    const outcome = this.threadId
      ? await this.run("threads.add_user_message", { thread_id: this.threadId, input })
      : await this.run("threads.create", { input });
    // Refused, or answered without taking the message (a notice: a form waits first): the
    // composer gets it back.
    if (outcome === "refused" || (outcome === "done" && !this.sawUserMessage)) this.composer.restore(message);
  }

  stop() {
    if (!this.controller) return;
    this.controller.abort();
  }

  /**
   * Runs one streaming request, applying its events. Resolves to "done", "stopped",
   * "failed" (an error after the stream began) or "refused" (the server refused the request).
   */
  async run(type, params) {
    const controller = new AbortController();
    this.controller = controller;
    this.composer.setStreaming(true);
    this.emit("response.start");
    this.announce("The assistant is answering.");
    let outcome = "done";
    let started = false;
    try {
      await this.api.stream(type, params, (event) => { started = true; this.onEvent(event); }, controller.signal);
    } catch (error) {
      if (error.name === "AbortError") {
        outcome = "stopped";
        this.announce("Stopped.");
      } else {
        // Refused: the composer gets the message back (see `send`), to send again as it is.
        // Cut off mid-stream: the server kept the question, so Retry asks again from it.
        outcome = started ? "failed" : "refused";
        const reason = error instanceof TypeError ? "The server could not be reached." : error.message || "The request failed.";
        if (!started && error.status === 404 && this.threadId) {
          // Deleted elsewhere (another tab, the console): offer a fresh start.
          this.sidebar?.load();
          this.showBanner("danger", "This conversation no longer exists.", { inline: true, retry: () => this.newThread(), retryLabel: "New chat" });
        } else {
          const cut = started ? "The connection was lost before the answer was complete." : reason;
          this.showBanner("danger", cut, { inline: true, retry: started && this.userMessageBefore(null) ? () => this.retryLast() : null });
        }
        this.emit("error", { error });
      }
    } finally {
      if (this.controller === controller) this.controller = null;
      for (const id of this.streamingIds) this.view.setStreaming(id, false);
      this.streamingIds.clear();
      this.view.setProgress(null);
      this.composer.setStreaming(false);
      this.refreshStart();
      this.emit("response.end");
    }
    if (outcome === "done") this.afterTurn();
    return outcome;
  }

  onEvent(event) {
    switch (event.type) {
      case "thread.created":
        this.showThread(event.thread);
        this.sidebar?.upsert(event.thread);
        this.emit("thread.change", { threadId: event.thread.id });
        break;
      case "thread.updated":
        this.thread = { ...this.thread, ...event.thread };
        this.setTitle(this.thread);
        this.applyStatus();
        this.sidebar?.upsert(event.thread);
        break;
      case "thread.item.added":
        this.view.setProgress(null);
        this.view.append([event.item]);
        this.view.setStreaming(event.item.id, true);
        this.streamingIds.add(event.item.id);
        this.refreshStart();
        break;
      case "thread.item.done":
      case "thread.item.replaced":
        this.view.setProgress(null);
        this.view.append([event.item]);
        this.streamingIds.delete(event.item.id);
        if (event.item.type === "user_message") this.sawUserMessage = true;
        if (event.item.type === "assistant_message") this.announce(messageText(event.item));
        this.refreshStart();
        break;
      case "thread.item.updated":
        this.view.update(event.item_id, event.update);
        break;
      case "thread.item.removed":
        this.view.remove(event.item_id);
        break;
      case "stream_options":
        this.composer.setStreaming(true, event.stream_options?.allow_cancel !== false);
        break;
      case "progress_update":
        this.view.setProgress(event.text);
        break;
      case "client_effect":
        this.emit("effect", { name: event.name, data: event.data || {} });
        break;
      case "notice":
        this.showBanner(event.level === "danger" ? "danger" : event.level === "warning" ? "warning" : "info", event.message, {
          title: event.title,
          markdown: renderMarkdown,
        });
        break;
      case "error": {
        const message = event.code === "custom" && event.message ? event.message : "Something went wrong while answering.";
        this.showBanner("danger", message, { inline: true, retry: event.allow_retry ? () => this.retryLast() : null });
        this.emit("error", { error: new Error(message) });
        break;
      }
      default:
        break;
    }
  }

  /** After a turn: a pending client tool runs, pending questions replace the composer. */
  afterTurn() {
    const items = this.view.items();
    const last = items[items.length - 1];
    const pendingQuestion = items.filter((i) => i.type === "structured_input" && i.status === "pending").pop();
    if (pendingQuestion) this.openQuestions(pendingQuestion);
    else this.closeQuestions();
    if (last?.type === "client_tool_call" && last.status === "pending") runClientTool(this, last);
  }

  openQuestions(item) {
    this.closeQuestions();
    this.questions = questionsPanel(item, (submission) => this.answerQuestions(item, submission));
    this.composer.el.hidden = true;
    this.bottom.append(this.questions);
    this.questions.querySelector("input, textarea")?.focus();
  }

  closeQuestions() {
    this.questions?.remove();
    this.questions = null;
    if (this.composer) this.composer.el.hidden = this.thread?.status?.type === "closed";
  }

  async answerQuestions(item, submission) {
    const outcome = await this.run("threads.add_structured_input", { thread_id: this.threadId, item_id: item.id, input: submission });
    if (outcome !== "done" && this.questions) this.questions.querySelectorAll("button").forEach((b) => { b.disabled = false; });
    else this.composer.focus();
  }

  /** The user message a retry of `item` (an assistant answer) starts from. */
  userMessageBefore(item) {
    const items = this.view.items();
    const index = item ? items.findIndex((i) => i.id === item.id) : items.length;
    return items.slice(0, index).reverse().find((i) => i.type === "user_message");
  }

  retryItem(item) {
    const user = this.userMessageBefore(item);
    if (!user || this.controller) return;
    this.view.removeAfter(user.id);
    this.clearBanners();
    return this.run("threads.retry_after_item", { thread_id: this.threadId, item_id: user.id });
  }

  retryLast() {
    return this.retryItem(null);
  }

  async feedback(item, kind, up, down) {
    try {
      await this.api.json("items.feedback", { thread_id: this.threadId, item_ids: [item.id], kind });
      up.setAttribute("aria-pressed", String(kind === "positive"));
      down.setAttribute("aria-pressed", String(kind === "negative"));
      this.announce("Thanks for the feedback.");
    } catch (error) {
      this.showBanner("danger", `The feedback was not sent: ${error.message}`);
    }
  }
}

if (!customElements.get("chatkit-chat")) customElements.define("chatkit-chat", ChatKitChat);
