// Configures the ChatKit web component of the demo page for this server. The page is a dev
// tool: each browser gets a random user id, sent as X-ChatKit-User (the server's dev mode).
(function () {
  const el = document.getElementById("chat");
  if (!el) return;
  let user = localStorage.getItem("chatkit-demo-user");
  if (!user) {
    user = "demo-" + Math.random().toString(36).slice(2, 10);
    localStorage.setItem("chatkit-demo-user", user);
  }
  customElements.whenDefined("openai-chatkit").then(function () {
    el.setOptions({
      api: {
        url: el.dataset.apiUrl,
        domainKey: el.dataset.domainKey,
        fetch: function (input, init) {
          const headers = new Headers((init && init.headers) || {});
          headers.set("X-ChatKit-User", user);
          return fetch(input, Object.assign({}, init, { headers: headers }));
        },
        // attachments.create, then the bytes to the signed upload URL it returns.
        uploadStrategy: { type: "two_phase" },
      },
      composer: {
        attachments: {
          enabled: true,
          maxSize: Number(el.dataset.uploadMaxBytes) || undefined,
        },
      },
      history: { enabled: true },
    });
  });
})();
