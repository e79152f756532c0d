// The ChatKit protocol over HTTP: one POST endpoint answering JSON or a Server-Sent-Events
// stream. Every request goes through the host's `fetch` (so it can add auth headers); streams
// are read from the response body as it arrives, so text shows while the model writes it.

/** A request the server refused, with its status and the server's `{error: {code, message}}`. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || `The server answered ${status}.`);
    this.name = "ApiError";
    this.status = status;
    this.code = code || "";
  }
}

/** Reads the error body of a failed response; a body that is not JSON gives its status. */
async function failure(response) {
  let code = "";
  let message = "";
  try {
    const body = await response.json();
    code = body?.error?.code || body?.error?.type || "";
    message = body?.error?.message || "";
  } catch {
    // Not JSON: the status says enough.
  }
  return new ApiError(response.status, code, message);
}

/**
 * Splits an SSE byte stream into the JSON of its `data:` fields. Tolerates CRLF, comments
 * (`: keep-alive`), `event:`/`id:` fields and multi-line data, as a generic parser should.
 */
export async function* sseEvents(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let data = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      let newline;
      while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, newline);
        const width = buffer.startsWith("\r\n", newline) ? 2 : 1;
        buffer = buffer.slice(newline + width);
        if (line === "") {
          if (data.length) yield JSON.parse(data.join("\n"));
          data = [];
        } else if (line.startsWith("data:")) {
          data.push(line.slice(5).replace(/^ /, ""));
        }
      }
      if (done) {
        if (data.length) yield JSON.parse(data.join("\n"));
        return;
      }
    }
  } finally {
    reader.releaseLock();
  }
}

/** The client side of the protocol for one endpoint (`api.url`). */
export class ChatApi {
  /** `config` is ChatKit's `api` option: `{url, fetch?, uploadStrategy?}`. */
  constructor(config) {
    this.url = config.url;
    this.fetch = config.fetch || ((input, init) => window.fetch(input, init));
    this.uploadStrategy = config.uploadStrategy || { type: "two_phase" };
  }

  async post(type, params, signal) {
    const response = await this.fetch(this.url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
      body: JSON.stringify({ type, params, metadata: {} }),
      signal,
    });
    if (!response.ok) throw await failure(response);
    return response;
  }

  /** A request answered by one JSON document. */
  async json(type, params) {
    const response = await this.post(type, params);
    return response.json();
  }

  /**
   * A streaming request: calls `onEvent` for every event as it arrives. Resolves when the
   * server ends the stream; rejects with an `AbortError` when `signal` aborts it.
   */
  async stream(type, params, onEvent, signal) {
    const response = await this.post(type, params, signal);
    if (!response.body) throw new ApiError(response.status, "", "The response has no body.");
    for await (const event of sseEvents(response.body)) onEvent(event);
  }

  /**
   * Uploads `file` by the configured strategy and resolves to the Attachment. `onProgress`
   * gets a fraction 0..1, or `null` while the size sent is unknown.
   */
  async upload(file, onProgress, signal) {
    if (this.uploadStrategy.type === "direct") {
      // The direct route needs the caller's credentials, which only the host's fetch knows;
      // fetch reports no upload progress, so the bar stays indeterminate until it is done.
      onProgress(null);
      const form = new FormData();
      form.append("file", file, file.name);
      const response = await this.fetch(this.uploadStrategy.uploadUrl, {
        method: "POST",
        body: form,
        signal,
      });
      if (!response.ok) throw await failure(response);
      onProgress(1);
      return response.json();
    }
    const attachment = await this.json("attachments.create", {
      name: file.name,
      size: file.size,
      mime_type: file.type || "application/octet-stream",
    });
    const descriptor = attachment.upload_descriptor;
    if (descriptor) {
      await sendBytes(descriptor, file, onProgress, signal);
    }
    onProgress(1);
    delete attachment.upload_descriptor;
    return attachment;
  }
}

/**
 * Sends the bytes to a signed upload URL (the two-phase strategy). XMLHttpRequest rather than
 * fetch, for its upload progress events; the URL itself authorises the upload.
 */
function sendBytes(descriptor, file, onProgress, signal) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    const method = (descriptor.method || "POST").toUpperCase();
    xhr.open(method, descriptor.url);
    for (const [name, value] of Object.entries(descriptor.headers || {})) {
      xhr.setRequestHeader(name, value);
    }
    xhr.upload.onprogress = (e) => onProgress(e.lengthComputable ? e.loaded / e.total : null);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve();
      let message = "";
      try {
        message = JSON.parse(xhr.responseText)?.error?.message || "";
      } catch {
        // Not JSON.
      }
      reject(new ApiError(xhr.status, "upload", message || `The upload failed (${xhr.status}).`));
    };
    xhr.onerror = () => reject(new ApiError(0, "upload", "The upload could not reach the server."));
    xhr.onabort = () => reject(new DOMException("The upload was cancelled.", "AbortError"));
    signal?.addEventListener("abort", () => xhr.abort(), { once: true });
    if (method === "PUT") {
      xhr.send(file);
    } else {
      const form = new FormData();
      form.append("file", file, file.name);
      xhr.send(form);
    }
  });
}
