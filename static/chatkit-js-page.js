// The ChatKit JS page: loads OpenAI's web component from the configured URL and configures
// it for this server. When the script cannot load (no internet, a firewall, a wrong URL) the
// page says so in words instead of staying blank. Each browser gets a random user id, sent
// as X-ChatKit-User (the server's dev mode).
(function () {
  const el = document.getElementById("chat");
  if (!el) return;
  const status = document.getElementById("chat-status");
  let user = localStorage.getItem("chatkit-demo-user");
  if (!user) {
    user = "demo-" + Math.random().toString(36).slice(2, 10);
    localStorage.setItem("chatkit-demo-user", user);
  }
  let timer = null;
  function fail(why) {
    clearTimeout(timer);
    status.textContent =
      "The ChatKit web component could not be loaded from " + el.dataset.scriptUrl + " (" + why +
      "). This page needs that address to be reachable; without internet access, unset " +
      "CHATKIT_CLIENT to use the built-in chat client.";
    status.hidden = false;
    el.hidden = true;
  }
  const script = document.createElement("script");
  script.src = el.dataset.scriptUrl;
  script.async = true;
  script.addEventListener("error", function () { fail("the request failed"); });
  document.head.appendChild(script);
  timer = setTimeout(function () { fail("it did not start within 15 seconds"); }, 15000);
  customElements.whenDefined("openai-chatkit").then(function () {
    clearTimeout(timer);
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
        // On when the server has a transcription model (input.transcribe).
        dictation: { enabled: Number(el.dataset.dictationMaxBytes) > 0 },
      },
      history: { enabled: true },
    });
  });
})();
