//! Where the verifying keys come from: a PEM file of each key type (RSA, P-256, Ed25519), and
//! a JWK set served inside the test, fetched at start, refetched when a token names a new key
//! id (rotation), and not refetched again within the minute however many unknown ids arrive.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpResponse, HttpServer, web};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

use super::{SECRET_KEY, assert_refused, call, claims, hmac_key, key_file, private_key, sign};
use crate::support::app::{Db, spawn_app_with};
use crate::support::macros::db_case;

/// A jwt-mode server whose key is the PEM file `file`, with the default account for tokens
/// that name none.
async fn pem_app(db: Db, file: &str) -> Option<crate::support::app::TestApp> {
    let path = format!("{}/{file}", super::KEYS);
    let vars = [
        ("CHATKIT_AUTH", "jwt"),
        ("CHATKIT_SECRET_KEY", SECRET_KEY),
        ("CHATKIT_JWT_PUBLIC_KEY", path.as_str()),
    ];
    spawn_app_with(db, &vars).await
}

db_case!(pem_keys_of_each_type);
async fn pem_keys_of_each_type(db: Db) {
    let cases = [
        ("rsa.pub.pem", "rsa", Algorithm::RS256),
        ("rsa.pub.pem", "rsa", Algorithm::PS256),
        ("ec.pub.pem", "ec", Algorithm::ES256),
        ("ed25519.pub.pem", "ed25519", Algorithm::EdDSA),
    ];
    for (file, private, alg) in cases {
        let Some(app) = pem_app(db, file).await else {
            return;
        };
        let c = claims("ann", "default");
        let token = sign(alg, &private_key(private), None, &c);
        let (answer, _) = call(&app, Some(&token), None, "threads.list", json!({})).await;
        assert_eq!(answer.status, 200, "{file} {alg:?}: {answer:?}");
        // The same claims signed by another key are refused.
        for other in ["rsa2", "ec", "ed25519"]
            .into_iter()
            .filter(|k| *k != private)
        {
            let other_alg = match other {
                "ec" => Algorithm::ES256,
                "ed25519" => Algorithm::EdDSA,
                _ => Algorithm::RS256,
            };
            let token = sign(other_alg, &private_key(other), None, &c);
            let (answer, headers) = call(&app, Some(&token), None, "threads.list", json!({})).await;
            assert_refused(&answer, &headers, "invalid_token");
        }
    }
}

/// The served keys and the number of fetches.
type Shared = (Arc<Mutex<Vec<Value>>>, Arc<AtomicUsize>);

/// A JWK set served over HTTP on 127.0.0.1, its keys replaceable, its fetches counted.
struct JwksServer {
    url: String,
    keys: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
    handle: actix_web::dev::ServerHandle,
}

impl JwksServer {
    async fn start(keys: Vec<Value>) -> JwksServer {
        let shared = (Arc::new(Mutex::new(keys)), Arc::new(AtomicUsize::new(0)));
        let data = web::Data::new(shared.clone());
        let server = HttpServer::new(move || {
            App::new().app_data(data.clone()).route(
                "/.well-known/jwks.json",
                web::get().to(|data: web::Data<Shared>| async move {
                    data.1.fetch_add(1, Ordering::SeqCst);
                    let keys = data.0.lock().unwrap().clone();
                    HttpResponse::Ok().json(json!({ "keys": keys }))
                }),
            )
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(1)
        .bind(("127.0.0.1", 0))
        .unwrap();
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        JwksServer {
            url: format!("http://127.0.0.1:{port}/.well-known/jwks.json"),
            keys: shared.0,
            fetches: shared.1,
            handle,
        }
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

/// The public JWK of test key `name`, with `kid` (and `alg` when given).
fn jwk(name: &str, kid: &str, alg: Option<&str>) -> Value {
    let mut jwk: Value = serde_json::from_slice(&key_file(&format!("{name}.jwk.json"))).unwrap();
    jwk["kid"] = json!(kid);
    if let Some(alg) = alg {
        jwk["alg"] = json!(alg);
    }
    jwk
}

db_case!(jwks_keys_and_rotation);
async fn jwks_keys_and_rotation(db: Db) {
    let jwks = JwksServer::start(vec![
        jwk("rsa", "rsa-1", Some("RS256")),
        jwk("ec", "ec-1", None),
        jwk("ed25519", "ed-1", Some("EdDSA")),
        // A symmetric key in a JWK set is never used.
        json!({"kty": "oct", "kid": "oct-1", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}),
    ])
    .await;
    let vars = [
        ("CHATKIT_AUTH", "jwt"),
        ("CHATKIT_SECRET_KEY", SECRET_KEY),
        ("CHATKIT_JWKS_URL", jwks.url.as_str()),
    ];
    let Some(app) = spawn_app_with(db, &vars).await else {
        jwks.handle.stop(false).await;
        return;
    };
    assert_eq!(jwks.fetches(), 1, "fetched once at start");
    let c = claims("ann", "default");
    let list = |token: String| {
        let app = &app;
        async move { call(app, Some(&token), None, "threads.list", json!({})).await }
    };

    for (name, kid, alg) in [
        ("rsa", "rsa-1", Algorithm::RS256),
        ("ec", "ec-1", Algorithm::ES256),
        ("ed25519", "ed-1", Algorithm::EdDSA),
    ] {
        let (answer, _) = list(sign(alg, &private_key(name), Some(kid), &c)).await;
        assert_eq!(answer.status, 200, "{kid}: {answer:?}");
    }
    // The key's `alg` rules: RS256 only for rsa-1, even though PS256 is an RSA algorithm.
    let (answer, headers) = list(sign(
        Algorithm::PS256,
        &private_key("rsa"),
        Some("rsa-1"),
        &c,
    ))
    .await;
    assert_refused(&answer, &headers, "invalid_token");
    // A kid naming one key but signed by another.
    let (answer, headers) = list(sign(
        Algorithm::RS256,
        &private_key("rsa2"),
        Some("rsa-1"),
        &c,
    ))
    .await;
    assert_refused(&answer, &headers, "invalid_token");
    // Several keys and no kid: which one is meant is unknown.
    let (answer, headers) = list(sign(Algorithm::RS256, &private_key("rsa"), None, &c)).await;
    assert_refused(&answer, &headers, "invalid_token");
    assert_eq!(jwks.fetches(), 1, "known kids need no fetch");

    // The provider rotates to a new key: the first token naming it makes the server refetch.
    *jwks.keys.lock().unwrap() = vec![jwk("rsa2", "rsa-2", Some("RS256"))];
    let rotated = sign(Algorithm::RS256, &private_key("rsa2"), Some("rsa-2"), &c);
    let (answer, _) = list(rotated.clone()).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(jwks.fetches(), 2);
    let (answer, _) = list(rotated).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    // The old key is gone from the set.
    let (answer, headers) = list(sign(
        Algorithm::RS256,
        &private_key("rsa"),
        Some("rsa-1"),
        &c,
    ))
    .await;
    assert_refused(&answer, &headers, "invalid_token");

    // Unknown kids within the minute cause no more fetches, even once the key exists.
    *jwks.keys.lock().unwrap() = vec![jwk("rsa2", "rsa-2", None), jwk("rsa", "rsa-3", None)];
    for kid in ["nope-1", "nope-2", "rsa-3"] {
        let (answer, headers) =
            list(sign(Algorithm::RS256, &private_key("rsa"), Some(kid), &c)).await;
        assert_refused(&answer, &headers, "invalid_token");
    }
    // The symmetric key was never taken in: its kid is unknown, and HS tokens stay refused.
    let oct = hmac_key(b"secret-secret-secret-secret-secret");
    let (answer, headers) = list(sign(Algorithm::HS256, &oct, Some("oct-1"), &c)).await;
    assert_refused(&answer, &headers, "invalid_token");
    assert_eq!(jwks.fetches(), 2, "at most one refetch a minute");
    jwks.handle.stop(false).await;
}

db_case!(an_unreachable_jwks_url_stops_the_start);
async fn an_unreachable_jwks_url_stops_the_start(db: Db) {
    let Some((_db, url)) = crate::support::app::TestDb::create(db) else {
        return;
    };
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let jwks_url = format!("http://127.0.0.1:{port}/jwks.json");
    let storage = tempfile::tempdir().unwrap();
    let settings = crate::support::app::test_settings(
        &url,
        &[
            ("CHATKIT_AUTH", "jwt"),
            ("CHATKIT_SECRET_KEY", SECRET_KEY),
            ("CHATKIT_JWKS_URL", &jwks_url),
            ("CHATKIT_STORAGE_DIR", &storage.path().display().to_string()),
        ],
    );
    let error = chatkit_server::startup::Application::build(settings)
        .await
        .err();
    let error = error
        .expect("the server must not start without its keys")
        .to_string();
    assert!(error.contains("CHATKIT_JWKS_URL"), "{error}");
}
