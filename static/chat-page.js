// The chat page of this server: configures <chatkit-chat> for the page's agent. The page is
// also a dev tool: each browser gets a random user id, sent as X-ChatKit-User (the server's
// dev mode; with JWT or proxy auth the server ignores it).
import "./chat/chatkit-chat.js";

const el = document.getElementById("chat");
let user = localStorage.getItem("chatkit-demo-user");
if (!user) {
  user = "demo-" + Math.random().toString(36).slice(2, 10);
  localStorage.setItem("chatkit-demo-user", user);
}

// The models the server lets a user pick, its default first.
const models = (el.dataset.models || "").split(",").filter(Boolean);

el.setOptions({
  api: {
    url: el.dataset.apiUrl,
    fetch(input, init = {}) {
      const headers = new Headers(init.headers || {});
      headers.set("X-ChatKit-User", user);
      return fetch(input, { ...init, headers });
    },
    // attachments.create, then the bytes to the signed upload URL it returns.
    uploadStrategy: { type: "two_phase" },
  },
  composer: {
    placeholder: "Message the assistant",
    attachments: { enabled: true, maxSize: Number(el.dataset.uploadMaxBytes) || undefined },
    models: models.map((id, index) => ({ id, label: id, default: index === 0 })),
  },
  history: { enabled: true },
  threadItemActions: { feedback: true, retry: true },
});
