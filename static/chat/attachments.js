// Files chosen for the next message: each uploads at once (by the configured strategy) with a
// progress bar, shows a preview (images) or a file chip, and can be removed before sending
// (which deletes it on the server). Limits from `composer.attachments` are checked first.

import { h, icon, iconButton } from "./dom.js";

const DEFAULT_MAX_SIZE = 100 * 1024 * 1024;
const DEFAULT_MAX_COUNT = 10;

function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** Whether `file` matches an `accept` map (`{"image/*": [".png"], ...}`) or list. */
function accepted(file, accept) {
  if (!accept) return true;
  const patterns = Array.isArray(accept) ? accept : Object.entries(accept).flatMap(([mime, exts]) => [mime, ...(exts || [])]);
  if (!patterns.length) return true;
  const name = file.name.toLowerCase();
  const type = (file.type || "").toLowerCase();
  return patterns.some((p) => {
    p = p.toLowerCase();
    if (p.startsWith(".")) return name.endsWith(p);
    if (p.endsWith("/*")) return type.startsWith(p.slice(0, -1));
    return type === p;
  });
}

export class Attachments {
  /** `api`: the ChatApi; `config`: `composer.attachments`; `onChange()` after any change; `onError(message)`. */
  constructor(api, config, onChange, onError) {
    this.api = api;
    this.config = config || {};
    this.onChange = onChange;
    this.onError = onError;
    this.entries = [];
    this.el = h("ul.ck-attachments", { "aria-label": "Attachments" });
    this.el.hidden = true;
  }

  get enabled() {
    return Boolean(this.config.enabled);
  }

  /** Attachment ids ready to send. */
  ids() {
    return this.entries.filter((e) => e.attachment).map((e) => e.attachment.id);
  }

  /** The uploaded attachments, for showing the message before the server echoes it. */
  uploaded() {
    return this.entries.filter((e) => e.attachment).map((e) => e.attachment);
  }

  busy() {
    return this.entries.some((e) => !e.attachment && !e.failed);
  }

  /** Forgets the list after a send (the server keeps the files with the message). */
  reset() {
    for (const entry of this.entries) if (entry.preview) URL.revokeObjectURL(entry.preview);
    this.entries = [];
    this.el.replaceChildren();
    this.el.hidden = true;
    this.onChange();
  }

  add(files) {
    const maxCount = this.config.maxCount ?? DEFAULT_MAX_COUNT;
    for (const file of files) {
      if (this.entries.length >= maxCount) {
        this.onError(`At most ${maxCount} files per message.`);
        break;
      }
      const limit = typeof this.config.maxSize === "object" ? this.config.maxSize[file.type] ?? DEFAULT_MAX_SIZE : this.config.maxSize || DEFAULT_MAX_SIZE;
      if (file.size > limit) {
        this.onError(`${file.name} is larger than ${formatSize(limit)}.`);
        continue;
      }
      if (!accepted(file, this.config.accept)) {
        this.onError(`${file.name}: this kind of file cannot be attached.`);
        continue;
      }
      this.start(file);
    }
  }

  start(file) {
    const entry = { file, attachment: null, failed: false, controller: new AbortController() };
    if (file.type.startsWith("image/")) entry.preview = URL.createObjectURL(file);
    const bar = h("progress.ck-upload-progress", { max: 1, "aria-label": `Uploading ${file.name}` });
    const thumb = entry.preview ? h("img.ck-thumb", { src: entry.preview, alt: "" }) : h("span.ck-file-icon", {}, icon("file"));
    const remove = iconButton("close", `Remove ${file.name}`, () => this.remove(entry));
    entry.el = h("li.ck-attachment.ck-uploading", {}, thumb, h("span.ck-attachment-name", {}, file.name), bar, remove);
    this.entries.push(entry);
    this.el.append(entry.el);
    this.el.hidden = false;
    this.onChange();
    this.api
      .upload(
        file,
        (fraction) => {
          if (fraction === null) bar.removeAttribute("value");
          else bar.value = fraction;
        },
        entry.controller.signal,
      )
      .then((attachment) => {
        entry.attachment = attachment;
        entry.el.classList.remove("ck-uploading");
        bar.remove();
        if (!entry.preview && attachment.type === "image" && attachment.preview_url) {
          thumb.replaceWith(h("img.ck-thumb", { src: attachment.preview_url, alt: "" }));
        }
        this.onChange();
      })
      .catch((error) => {
        if (error.name === "AbortError") return;
        entry.failed = true;
        entry.el.classList.add("ck-failed");
        bar.remove();
        entry.el.title = error.message;
        this.onError(`${file.name}: ${error.message}`);
        this.onChange();
      });
  }

  remove(entry) {
    entry.controller.abort();
    this.entries = this.entries.filter((e) => e !== entry);
    entry.el.remove();
    if (entry.preview) URL.revokeObjectURL(entry.preview);
    if (entry.attachment) {
      this.api.json("attachments.delete", { attachment_id: entry.attachment.id }).catch(() => {});
    }
    this.el.hidden = this.entries.length === 0;
    this.onChange();
  }
}
