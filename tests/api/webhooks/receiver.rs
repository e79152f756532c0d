//! A webhook receiver inside the test: a real HTTP server on loopback that keeps every request
//! it gets and answers with the statuses a test scripts (200 once the script runs out).

use std::collections::VecDeque;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::support::app::eventually;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    pub fn event(&self) -> String {
        self.json()["event"].as_str().unwrap_or_default().to_owned()
    }

    pub fn form_id(&self) -> String {
        self.json()["form"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Whether `X-ChatKit-Signature` is the HMAC-SHA256 of "<timestamp>.<body>" under `key`,
    /// recomputed here.
    pub fn signed_with(&self, key: &str) -> bool {
        let timestamp = self.header("x-chatkit-timestamp").unwrap_or_default();
        let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(format!("{timestamp}.{}", self.body).as_bytes());
        let expected = format!("v1={}", hex::encode(mac.finalize().into_bytes()));
        self.header("x-chatkit-signature") == Some(expected.as_str())
    }

    /// Fails unless the request is signed with `key`, recently, and says it is JSON.
    pub fn assert_signed_with(&self, key: &str) {
        let timestamp = self.header("x-chatkit-timestamp").expect("a timestamp");
        let seconds: i64 = timestamp.parse().expect("unix seconds");
        let now = chrono::Utc::now().timestamp();
        assert!(
            (now - seconds).abs() < 60,
            "timestamp {seconds} vs now {now}"
        );
        assert!(self.signed_with(key), "bad signature on {self:?}");
        assert_eq!(self.header("content-type"), Some("application/json"));
    }
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    script: VecDeque<u16>,
}

/// The running receiver.
pub struct Receiver {
    /// Its base URL (`http://127.0.0.1:PORT`).
    pub base: String,
    state: Arc<Mutex<State>>,
    handle: actix_web::dev::ServerHandle,
}

async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Arc<Mutex<State>>>,
) -> HttpResponse {
    let mut state = state.lock().unwrap();
    state.received.push(Received {
        path: req.path().to_owned(),
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let status = state.script.pop_front().unwrap_or(200);
    let status = actix_web::http::StatusCode::from_u16(status).unwrap();
    HttpResponse::build(status).body(format!("receiver says {}", status.as_u16()))
}

impl Receiver {
    pub async fn start() -> Receiver {
        Receiver::start_on(TcpListener::bind("127.0.0.1:0").unwrap())
    }

    /// Starts on `port` (a port a test kept free, to bring a "down" receiver back).
    pub async fn start_at(port: u16) -> Receiver {
        Receiver::start_on(TcpListener::bind(("127.0.0.1", port)).unwrap())
    }

    fn start_on(listener: TcpListener) -> Receiver {
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = web::Data::new(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .default_service(web::to(receive))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Receiver {
            base: format!("http://127.0.0.1:{port}"),
            state,
            handle,
        }
    }

    /// The next answers, in order; 200 after them.
    pub fn answer_with(&self, statuses: &[u16]) {
        self.state.lock().unwrap().script.extend(statuses);
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// Waits until requests matching `matches` number `n`; returns them in arrival order.
    pub async fn wait_for(&self, n: usize, matches: impl Fn(&Received) -> bool) -> Vec<Received> {
        eventually(&format!("{n} webhook requests"), || async {
            let got: Vec<Received> = self.received().into_iter().filter(&matches).collect();
            (got.len() >= n).then_some(got)
        })
        .await
    }

    /// Waits for the first request reporting `event` for form `form_id`.
    pub async fn wait_for_event(&self, event: &str, form_id: &str) -> Received {
        let found = self
            .wait_for(1, |r| r.event() == event && r.form_id() == form_id)
            .await;
        found[0].clone()
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

/// A loopback URL where nothing listens (its port was free a moment ago), and that port.
pub fn nobody_listens() -> (String, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    (format!("http://127.0.0.1:{port}/hook"), port)
}
