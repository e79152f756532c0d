// The chat page of this server: configures <chatkit-chat> for the page's agent.
//
// With JWT auth, a host site embeds the page (an iframe) and hands it a short-lived token
// from its own backend: first in the URL fragment, `/agents/<slug>/chat#token=<JWT>` (a
// fragment never reaches a server or its logs; the page removes it from the address), then,
// before it expires, by `postMessage({type: "chatkit:token", token}, "<this server>")` from
// the framing page, accepted only from the origins in CHATKIT_ALLOWED_ORIGINS. A request
// refused for its token asks the host for a new one with `{type: "chatkit:token-expired"}`.
// Requests then carry `Authorization: Bearer <token>`.
//
// Without a token the page is a dev tool: each browser gets a random user id, sent as
// X-ChatKit-User (the server's dev mode; with JWT or proxy auth the server ignores it).
import "./chat/chatkit-chat.js";

const el = document.getElementById("chat");
const hosts = (el.dataset.hostOrigins || "").split(",").filter(Boolean);

let token = new URLSearchParams(location.hash.slice(1)).get("token");
if (token) history.replaceState(null, "", location.pathname + location.search);

window.addEventListener("message", (event) => {
  const data = event.data;
  if (event.source !== window.parent || !hosts.includes(event.origin)) return;
  if (data && data.type === "chatkit:token" && typeof data.token === "string") token = data.token;
});

function askForToken() {
  if (window.parent === window) return;
  for (const origin of hosts) window.parent.postMessage({ type: "chatkit:token-expired" }, origin);
}

let user = localStorage.getItem("chatkit-demo-user");
if (!user) {
  user = "demo-" + Math.random().toString(36).slice(2, 10);
  localStorage.setItem("chatkit-demo-user", user);
}

// The models the server lets a user pick, its default first.
const models = (el.dataset.models || "").split(",").filter(Boolean);
const dictationMax = Number(el.dataset.dictationMaxBytes) || 0;

el.setOptions({
  api: {
    url: el.dataset.apiUrl,
    async fetch(input, init = {}) {
      const headers = new Headers(init.headers || {});
      if (token) headers.set("Authorization", `Bearer ${token}`);
      else headers.set("X-ChatKit-User", user);
      const response = await fetch(input, { ...init, headers });
      if (response.status === 401 && token) askForToken();
      return response;
    },
    // attachments.create, then the bytes to the signed upload URL it returns.
    uploadStrategy: { type: "two_phase" },
  },
  composer: {
    placeholder: "Message the assistant",
    attachments: { enabled: true, maxSize: Number(el.dataset.uploadMaxBytes) || undefined },
    models: models.map((id, index) => ({ id, label: id, default: index === 0 })),
    // On when the server has a transcription model (input.transcribe); recordings stop
    // before its size limit.
    dictation: { enabled: dictationMax > 0, maxBytes: dictationMax },
  },
  history: { enabled: true },
  threadItemActions: { feedback: true, retry: true },
});
