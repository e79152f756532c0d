//! The server under test: our server on a fresh database, talking to a fresh fake model.

use super::*;

/// Our server on a fresh database, talking to a fresh fake model.
pub(crate) struct Bench {
    pub(crate) address: String,
    pub(crate) client: reqwest::Client,
    pub(crate) fake: Arc<FakeLlm>,
    pub(crate) cpu: CpuMeter,
    pub(crate) _db: TestDb,
}

impl Bench {
    pub(crate) async fn start(kind: Db) -> Option<Bench> {
        Bench::start_with(kind, &[]).await
    }

    /// [`Bench::start`] with more settings for the server.
    pub(crate) async fn start_with(kind: Db, extra: &[(&'static str, String)]) -> Option<Bench> {
        let (db, db_url) = TestDb::create(kind)?;
        let before = threads();
        let fake = FakeLlm::start().await;
        let client = reqwest::Client::new();
        // The fake's threads start on its first request; any answer will do.
        client
            .get(format!("{}/models", fake.base_url()))
            .send()
            .await
            .expect("the fake answers");
        let cpu = CpuMeter {
            fake: threads().difference(&before).copied().collect(),
            pinned: cpu::pinned(),
        };
        let mut vars: HashMap<&str, String> = HashMap::from([
            ("DATABASE_URL", db_url),
            ("CHATKIT_BIND", "127.0.0.1:0".into()),
            ("OPENAI_BASE_URL", fake.base_url()),
            ("OPENAI_API_KEY", "x".into()),
            ("CHATKIT_AUTO_TITLES", "false".into()),
        ]);
        vars.extend(extra.iter().cloned());
        let settings = Settings::from_vars(|name| vars.get(name).cloned()).expect("settings");
        let app = Application::build(settings).await.expect("app builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        let bench = Bench {
            address,
            client,
            fake: Arc::new(fake),
            cpu,
            _db: db,
        };
        // A first turn starts the server's threads, which are then placed on their core.
        bench.create("warm-up", "hello", words(3)).await;
        bench.cpu.place();
        Some(bench)
    }

    /// One streamed request: queues `reply` at the fake, sends, and reads the stream to its
    /// end; the HTTP status when the server refuses it.
    pub(crate) async fn try_turn(
        &self,
        user: &str,
        kind: &str,
        params: Value,
        reply: Vec<String>,
    ) -> Result<Streamed, u16> {
        self.fake.push(Reply::Text(reply));
        let sent = Instant::now();
        let response = self
            .client
            .post(format!("{}/chatkit", self.address))
            .header("X-ChatKit-User", user)
            .header("Content-Type", "application/json")
            .body(json!({"type": kind, "params": params}).to_string())
            .send()
            .await
            .expect("request sent");
        match response.status().as_u16() {
            200 => Ok(read_stream(response, sent, DELTA_MARK).await),
            status => Err(status),
        }
    }

    pub(crate) async fn turn(
        &self,
        user: &str,
        kind: &str,
        params: Value,
        reply: Vec<String>,
    ) -> Streamed {
        self.try_turn(user, kind, params, reply)
            .await
            .unwrap_or_else(|status| panic!("{kind} failed with HTTP {status}"))
    }

    /// A turn that starts a thread with `text`.
    pub(crate) async fn create(&self, user: &str, text: &str, reply: Vec<String>) -> Streamed {
        self.turn(
            user,
            "threads.create",
            json!({"input": user_input(text)}),
            reply,
        )
        .await
    }

    /// The same reply read straight from the fake, no server in between.
    pub(crate) async fn direct(&self, reply: Vec<String>) -> Streamed {
        self.fake.push(Reply::Text(reply));
        let sent = Instant::now();
        let response = self
            .client
            .post(format!("{}/chat/completions", self.fake.base_url()))
            .header("Content-Type", "application/json")
            .body(
                json!({
                    "model": "fake-model",
                    "messages": [{"role": "user", "content": "go"}],
                    "stream": true,
                    "stream_options": {"include_usage": true},
                })
                .to_string(),
            )
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.status(), 200);
        read_stream(response, sent, FAKE_DELTA_MARK).await
    }
}

pub(crate) fn user_input(text: &str) -> Value {
    json!({"content": [{"type": "input_text", "text": text}], "attachments": [], "inference_options": {}})
}

/// `n` reply pieces, each one word and its space.
pub(crate) fn words(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("w{i} ")).collect()
}
