//! Production authentication through the real server: bearer tokens (`tokens`: every way a
//! token can be wrong; `keys`: PEM keys and a JWK set served inside the test, with rotation),
//! the authenticating-proxy mode (`proxy`), tenants kept apart (`tenants`), and binding a
//! public address (`bind`). Tokens are signed here with the fixed test keys of `keys/`.

mod bind;
mod keys;
mod proxy;
mod tenants;
mod tokens;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::support::answer::Answer;
use crate::support::app::{TestApp, execute_sql};

/// The HS256 secret of the servers in these tests.
pub const JWT_SECRET: &str = "test-jwt-secret-0123456789-abcdefghij";
/// The key of signed URLs, required outside dev mode.
pub const SECRET_KEY: &str = "test-url-signing-key-0123456789-abcdef";
pub const ISSUER: &str = "https://idp.example.test/";
pub const AUDIENCE: &str = "chatkit-tests";
/// Where the test keys live, relative to the package (the tests' working directory).
pub const KEYS: &str = "tests/api/auth/keys";

/// A jwt-mode server with the HS256 secret, issuer and audience above.
pub const JWT_VARS: &[(&str, &str)] = &[
    ("CHATKIT_AUTH", "jwt"),
    ("CHATKIT_SECRET_KEY", SECRET_KEY),
    ("CHATKIT_JWT_SECRET", JWT_SECRET),
    ("CHATKIT_JWT_ISSUER", ISSUER),
    ("CHATKIT_JWT_AUDIENCE", AUDIENCE),
];

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Claims of a valid token for `sub` in `account` (by id or slug), valid for ten minutes.
pub fn claims(sub: &str, account: &str) -> Value {
    json!({"sub": sub, "account": account, "iss": ISSUER, "aud": AUDIENCE,
           "iat": now(), "exp": now() + 600})
}

/// `claims` signed with `alg` and `key`, naming `kid` in the header when given.
pub fn sign(alg: Algorithm, key: &EncodingKey, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).expect("token signed")
}

/// An HMAC signing key.
pub fn hmac_key(secret: &[u8]) -> EncodingKey {
    EncodingKey::from_secret(secret).expect("HMAC key")
}

/// `claims` signed with the servers' HS256 secret.
pub fn hs_token(claims: &Value) -> String {
    sign(
        Algorithm::HS256,
        &hmac_key(JWT_SECRET.as_bytes()),
        None,
        claims,
    )
}

/// A test key file's contents.
pub fn key_file(name: &str) -> Vec<u8> {
    std::fs::read(format!("{KEYS}/{name}")).expect("test key")
}

/// The private key of `name` (`rsa`, `rsa2`, `ec`, `ed25519`) for signing.
pub fn private_key(name: &str) -> EncodingKey {
    let pem = key_file(&format!("{name}.pem"));
    match name {
        "ec" => EncodingKey::from_ec_pem(&pem),
        "ed25519" => EncodingKey::from_ed_pem(&pem),
        _ => EncodingKey::from_rsa_pem(&pem),
    }
    .expect("test private key")
}

/// A ChatKit request with `Authorization: Bearer <token>` (none when `token` is `None`), to
/// `?agent=` when given; the answer and its headers.
pub async fn call(
    app: &TestApp,
    token: Option<&str>,
    agent: Option<&str>,
    kind: &str,
    params: Value,
) -> (Answer, HeaderMap) {
    let query = agent.map(|a| format!("?agent={a}")).unwrap_or_default();
    let mut request = app
        .client
        .post(format!("{}/chatkit{query}", app.address))
        .header("Content-Type", "application/json")
        .body(json!({"type": kind, "params": params}).to_string());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let (answer, headers, _) = Answer::read(request.send().await.expect("request sent")).await;
    (answer, headers)
}

/// Asserts a 401 with `code` and the bearer challenge.
pub fn assert_refused(answer: &Answer, headers: &HeaderMap, code: &str) {
    assert_eq!(answer.status, 401, "{answer:?}");
    assert_eq!(answer.error_code(), code, "{answer:?}");
    assert_eq!(
        headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer"),
        "{answer:?}"
    );
}

/// Adds account `slug` (id `acc_<slug>`) with an enabled `default` agent (`agt_<slug>`) and
/// the enabled `extra` agents (`agt_<slug>_<agent>`); returns the account id.
pub fn add_account(app: &TestApp, slug: &str, extra: &[&str]) -> String {
    let id = format!("acc_{slug}");
    execute_sql(
        &app.db_url,
        &format!(
            "INSERT INTO accounts (id, slug, name, created_at) \
             VALUES ('{id}', '{slug}', '{slug}', '2026-01-01 00:00:00')"
        ),
    );
    let agents = std::iter::once(("default".to_owned(), format!("agt_{slug}"))).chain(
        extra
            .iter()
            .map(|a| (a.to_string(), format!("agt_{slug}_{a}"))),
    );
    for (agent, agent_id) in agents {
        execute_sql(
            &app.db_url,
            &format!(
                "INSERT INTO agents (id, account_id, slug, name, enabled, created_at) \
                 VALUES ('{agent_id}', '{id}', '{agent}', '{agent}', TRUE, '2026-01-01 00:00:00')"
            ),
        );
    }
    id
}
