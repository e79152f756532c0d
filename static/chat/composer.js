// The composer: a text area where Enter sends and Shift+Enter starts a new line, a Stop button
// while a response streams, attachments (button, drag and drop, paste), the model and tool
// pickers (sent as `inference_options`), quoted text, and dictation through `input.transcribe`.

import { h, icon, iconButton } from "./dom.js";
import { Attachments } from "./attachments.js";

export class Composer {
  /**
   * `host`: `{api, send(message), stop(), announce(text), error(text)}`; `options`: the
   * `composer` option (`placeholder`, `attachments`, `models`, `tools`, `dictation`).
   */
  constructor(host, options = {}) {
    this.host = host;
    this.options = options;
    this.streaming = false;
    this.quoted = "";
    this.attachments = new Attachments(host.api, options.attachments, () => this.refresh(), (m) => host.error(m));

    this.input = h("textarea.ck-input", {
      rows: 1,
      placeholder: options.placeholder || "Message the assistant",
      "aria-label": "Message",
      onkeydown: (e) => this.keydown(e),
      oninput: () => this.refresh(),
      onpaste: (e) => this.paste(e),
    });
    this.quote = h("div.ck-quote", { hidden: true });
    this.send = h("button.ck-send", { type: "submit", "aria-label": "Send", title: "Send (Enter)" }, icon("send"));
    this.stopButton = h("button.ck-stop", { type: "button", hidden: true, onclick: () => host.stop() }, icon("stop"), h("span", {}, "Stop"));

    const tools = h("div.ck-composer-tools");
    if (this.attachments.enabled) {
      const accept = options.attachments.accept;
      this.file = h("input.ck-offscreen", {
        type: "file",
        multiple: true,
        tabIndex: -1,
        "aria-hidden": "true",
        accept: accept ? (Array.isArray(accept) ? accept : Object.entries(accept).flatMap(([m, e]) => [m, ...(e || [])])).join(",") : null,
        onchange: () => {
          this.attachments.add([...this.file.files]);
          this.file.value = "";
        },
      });
      tools.append(this.file, iconButton("attach", "Attach files", () => this.file.click(), { className: "ck-icon-button ck-attach" }));
    }
    if (options.models?.length) {
      this.model = h("select.ck-picker.ck-model", { "aria-label": "Model" },
        options.models.map((m) => h("option", { value: m.id, selected: Boolean(m.default), title: m.description || "" }, m.label || m.id)));
      tools.append(this.model);
    }
    if (options.tools?.length) {
      this.tool = h("select.ck-picker.ck-tool", { "aria-label": "Tool" },
        h("option", { value: "" }, "No tool"),
        options.tools.map((t) => h("option", { value: t.id, title: t.description || "" }, t.shortLabel || t.label || t.id)));
      tools.append(this.tool);
    }
    if (options.dictation?.enabled && window.MediaRecorder && navigator.mediaDevices?.getUserMedia) {
      this.mic = iconButton("mic", "Dictate", () => this.dictate(), { className: "ck-icon-button ck-mic", "aria-pressed": "false" });
      this.micStatus = h("span.ck-dictation-status", { hidden: true });
      tools.append(this.mic, this.micStatus);
    }

    this.el = h(
      "form.ck-composer",
      { onsubmit: (e) => { e.preventDefault(); this.submit(); } },
      this.quote,
      this.attachments.el,
      h("div.ck-composer-row", {}, this.input, h("div.ck-composer-buttons", {}, this.send, this.stopButton)),
      tools.children.length ? tools : null,
    );
    this.refresh();
  }

  focus() {
    this.input.focus();
  }

  keydown(e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      this.submit();
    }
  }

  paste(e) {
    if (!this.attachments.enabled) return;
    const files = [...(e.clipboardData?.files || [])];
    if (files.length) {
      e.preventDefault();
      this.attachments.add(files);
    }
  }

  /** Files dropped anywhere on the chat. */
  drop(files) {
    if (this.attachments.enabled) this.attachments.add(files);
    else this.host.error("This chat does not take attachments.");
  }

  setQuote(text) {
    this.quoted = text.trim();
    this.quote.replaceChildren();
    this.quote.hidden = !this.quoted;
    if (this.quoted) {
      this.quote.append(
        h("blockquote", {}, this.quoted.length > 300 ? `${this.quoted.slice(0, 300)}…` : this.quoted),
        iconButton("close", "Remove quote", () => this.setQuote("")),
      );
    }
    this.focus();
  }

  setStreaming(streaming, allowCancel = true) {
    this.streaming = streaming;
    this.stopButton.hidden = !streaming || !allowCancel;
    this.send.hidden = streaming && allowCancel;
    this.refresh();
  }

  /** Disables the composer with a reason (a locked thread), or enables it with `null`. */
  setLocked(reason) {
    this.locked = reason;
    this.input.disabled = Boolean(reason);
    this.input.placeholder = reason || this.options.placeholder || "Message the assistant";
    this.refresh();
  }

  refresh() {
    const text = this.input.value.trim();
    const ready = (text || this.attachments.ids().length) && !this.attachments.busy();
    this.send.disabled = Boolean(!ready || this.streaming || this.locked);
    // Grow with the text up to a limit, then scroll.
    if (!this.input.isConnected) return;
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(Math.max(this.input.scrollHeight, 36), 200)}px`;
    this.input.style.overflowY = this.input.scrollHeight > 200 ? "auto" : "hidden";
  }

  submit() {
    if (this.send.disabled) return;
    const text = this.input.value.trim();
    const inference = {};
    if (this.model) inference.model = this.model.value;
    if (this.tool?.value) inference.tool_choice = { id: this.tool.value };
    const message = {
      text,
      quoted: this.quoted,
      attachments: this.attachments.ids(),
      uploaded: this.attachments.uploaded(),
      inference,
    };
    this.input.value = "";
    this.setQuote("");
    this.attachments.reset();
    this.refresh();
    this.host.send(message);
  }

  /** Restores what a failed send took out of the composer. */
  restore(message) {
    this.input.value = message.text;
    if (message.quoted) this.setQuote(message.quoted);
    this.refresh();
  }

  /** The microphone button: starts a recording, or stops the one running. */
  async dictate() {
    if (this.recorder) {
      this.recorder.stop();
      return;
    }
    if (this.mic.disabled) return;
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch {
      this.host.error("Dictation failed: the microphone is not available (check the browser's permission).");
      return;
    }
    const chunks = [];
    // Speech needs little: a low bitrate keeps long recordings under the server's size limit.
    const recorder = new MediaRecorder(stream, { audioBitsPerSecond: 32000 });
    const maxBytes = Number(this.options.dictation.maxBytes) || 0;
    let size = 0;
    this.recorder = recorder;
    this.setDictation("recording");
    this.host.announce("Recording. Press Stop dictation to finish.");
    recorder.ondataavailable = (e) => {
      chunks.push(e.data);
      size += e.data.size;
      // Stop before the server would refuse the recording.
      if (maxBytes && size > maxBytes * 0.9 && recorder.state === "recording") {
        this.host.announce("The recording reached its length limit.");
        recorder.stop();
      }
    };
    recorder.onstop = async () => {
      stream.getTracks().forEach((t) => t.stop());
      this.recorder = null;
      const blob = new Blob(chunks, { type: recorder.mimeType || "audio/webm" });
      this.setDictation("transcribing");
      this.host.announce("Transcribing.");
      try {
        const text = (await this.transcribe(blob)).trim();
        if (text) {
          this.input.value = this.input.value ? `${this.input.value} ${text}` : text;
          this.host.announce(`Dictated: ${text}`);
        } else {
          this.host.announce("No speech was recognised.");
        }
        this.refresh();
        this.focus();
      } catch (error) {
        this.host.error(`Dictation failed: ${error.message}`);
      } finally {
        this.setDictation("idle");
      }
    };
    // Data every second, so the size is known while recording.
    recorder.start(1000);
  }

  /** Shows the dictation state: `idle`, `recording` (with the time so far) or `transcribing`. */
  setDictation(state) {
    clearInterval(this.dictationTimer);
    const recording = state === "recording";
    const busy = state === "transcribing";
    const label = recording ? "Stop dictation" : busy ? "Transcribing" : "Dictate";
    this.mic.setAttribute("aria-pressed", String(recording));
    this.mic.setAttribute("aria-label", label);
    this.mic.title = label;
    this.mic.disabled = busy;
    this.mic.setAttribute("aria-busy", String(busy));
    this.mic.classList.toggle("ck-recording", recording);
    this.mic.classList.toggle("ck-transcribing", busy);
    this.micStatus.hidden = state === "idle";
    this.micStatus.classList.toggle("ck-recording", recording);
    this.micStatus.replaceChildren();
    if (busy) this.micStatus.append(h("span.ck-spinner", { "aria-hidden": "true" }), h("span", {}, "Transcribing…"));
    if (recording) {
      const started = Date.now();
      const clock = h("span", {}, "0:00");
      this.micStatus.append(h("span.ck-rec-dot", { "aria-hidden": "true" }), h("span", {}, "Recording ", clock));
      this.dictationTimer = setInterval(() => {
        const secs = Math.floor((Date.now() - started) / 1000);
        clock.textContent = `${Math.floor(secs / 60)}:${String(secs % 60).padStart(2, "0")}`;
      }, 1000);
    }
  }

  async transcribe(blob) {
    const bytes = new Uint8Array(await blob.arrayBuffer());
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    const answer = await this.host.api.json("input.transcribe", { audio_base64: btoa(binary), mime_type: blob.type });
    return answer.text || "";
  }
}
