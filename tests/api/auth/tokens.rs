//! Bearer tokens against an HS256 server with an issuer and an audience: a valid token works
//! and names the user; a missing, expired, not-yet-valid, foreign, unsigned, confused or
//! malformed one is a 401 with its code and the bearer challenge, and never reaches data.

use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

use super::{
    JWT_VARS, SECRET_KEY, assert_refused, call, claims, hmac_key, hs_token, key_file, now,
    private_key, sign,
};
use crate::support::app::TestApp;
use crate::support::fixtures::user_input;
use crate::support::macros::db_test;

db_test!(a_valid_token_names_the_user, vars = JWT_VARS);
async fn a_valid_token_names_the_user(app: TestApp) {
    let ann = hs_token(&claims("ann", "default"));
    let input = json!({"input": user_input("hello")});
    let (answer, _) = call(&app, Some(&ann), None, "threads.create", input).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let thread = answer.events()[0]["thread"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let (listed, _) = call(&app, Some(&ann), None, "threads.list", json!({})).await;
    assert_eq!(listed.json()["data"][0]["id"], thread);
    let stored = app
        .store
        .load_thread(&app.scope("ann").await, &thread)
        .await;
    assert!(
        stored.is_ok(),
        "the thread is ann's, from `sub`: {stored:?}"
    );

    // A few seconds past `exp` is inside the leeway for clock skew.
    let mut skewed = claims("ann", "default");
    skewed["exp"] = json!(now() - 5);
    let (answer, _) = call(
        &app,
        Some(&hs_token(&skewed)),
        None,
        "threads.list",
        json!({}),
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");

    // Another user's token sees nothing of ann's.
    let bob = hs_token(&claims("bob", "default"));
    let (listed, _) = call(&app, Some(&bob), None, "threads.list", json!({})).await;
    assert_eq!(listed.json()["data"], json!([]));
}

db_test!(bad_tokens_are_refused, vars = JWT_VARS);
async fn bad_tokens_are_refused(app: TestApp) {
    let ann = hs_token(&claims("ann", "default"));
    call(
        &app,
        Some(&ann),
        None,
        "threads.create",
        json!({"input": user_input("x")}),
    )
    .await;

    let with = |key: &str, value: Value| {
        let mut c = claims("ann", "default");
        c[key] = value;
        c
    };
    let without = |key: &str| {
        let mut c = claims("ann", "default");
        c.as_object_mut().unwrap().remove(key);
        c
    };
    let other_secret = hmac_key(b"another-secret-0123456789-abcdefghij");
    let header_none = b64(br#"{"alg":"none","typ":"JWT"}"#);
    let body = b64(claims("ann", "default").to_string().as_bytes());
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "expired",
            hs_token(&with("exp", json!(now() - 120))),
            "token_expired",
        ),
        (
            "not yet valid",
            hs_token(&with("nbf", json!(now() + 120))),
            "invalid_token",
        ),
        ("no exp", hs_token(&without("exp")), "invalid_token"),
        (
            "wrong issuer",
            hs_token(&with("iss", json!("https://evil.test/"))),
            "invalid_token",
        ),
        ("no issuer", hs_token(&without("iss")), "invalid_token"),
        (
            "wrong audience",
            hs_token(&with("aud", json!("other-app"))),
            "invalid_token",
        ),
        ("no audience", hs_token(&without("aud")), "invalid_token"),
        ("no sub", hs_token(&without("sub")), "invalid_token"),
        (
            "wrong key",
            sign(
                Algorithm::HS256,
                &other_secret,
                None,
                &claims("ann", "default"),
            ),
            "invalid_token",
        ),
        (
            "alg none",
            format!("{header_none}.{body}."),
            "invalid_token",
        ),
        (
            "RS256 token",
            sign(
                Algorithm::RS256,
                &private_key("rsa"),
                None,
                &claims("ann", "default"),
            ),
            "invalid_token",
        ),
        (
            "HS384",
            sign(
                Algorithm::HS384,
                &hmac_key(super::JWT_SECRET.as_bytes()),
                None,
                &claims("ann", "default"),
            ),
            "invalid_token",
        ),
        ("garbage", "not-a-token".to_owned(), "invalid_token"),
        ("three junk parts", "a.b.c".to_owned(), "invalid_token"),
        (
            "bad signature",
            format!("{}x", &ann[..ann.len() - 2]),
            "invalid_token",
        ),
        (
            "signing key of URLs",
            sign(
                Algorithm::HS256,
                &hmac_key(SECRET_KEY.as_bytes()),
                None,
                &claims("ann", "default"),
            ),
            "invalid_token",
        ),
    ];
    for (case, token, code) in cases {
        for kind in ["threads.list", "threads.create"] {
            let params = match kind {
                "threads.list" => json!({}),
                _ => json!({"input": user_input("sneaky")}),
            };
            let (answer, headers) = call(&app, Some(&token), None, kind, params).await;
            assert_refused(&answer, &headers, code);
            assert!(!answer.body.contains(&token), "{case}: the token is echoed");
        }
    }

    let (answer, headers) = call(&app, None, None, "threads.list", json!({})).await;
    assert_refused(&answer, &headers, "missing_token");
    // Dev mode's header means nothing here.
    let answer = app.send("ann", "threads.list", json!({})).await;
    assert_eq!(answer.status, 401, "{answer:?}");
    assert_eq!(answer.error_code(), "missing_token");
    // Another scheme is not a bearer token.
    let response = app
        .client
        .post(format!("{}/chatkit", app.address))
        .header("Authorization", format!("Basic {ann}"))
        .body(json!({"type": "threads.list", "params": {}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    let (listed, _) = call(&app, Some(&ann), None, "threads.list", json!({})).await;
    let threads = listed.json()["data"].as_array().unwrap().len();
    assert_eq!(threads, 1, "no refused request created a thread");
}

/// HS/RS confusion: a server holding an RSA public key refuses an HS256 token whose "secret"
/// is that public key, the classic forgery.
const RSA_PEM_VARS: &[(&str, &str)] = &[
    ("CHATKIT_AUTH", "jwt"),
    ("CHATKIT_SECRET_KEY", SECRET_KEY),
    ("CHATKIT_JWT_PUBLIC_KEY", "tests/api/auth/keys/rsa.pub.pem"),
    ("CHATKIT_JWT_DEFAULT_ACCOUNT", "true"),
];

db_test!(
    hs_tokens_signed_with_the_public_key_are_refused,
    vars = RSA_PEM_VARS
);
async fn hs_tokens_signed_with_the_public_key_are_refused(app: TestApp) {
    let mut c = claims("mallory", "default");
    c.as_object_mut().unwrap().remove("account");
    let public = key_file("rsa.pub.pem");
    let forged = sign(Algorithm::HS256, &hmac_key(&public), None, &c);
    let (answer, headers) = call(&app, Some(&forged), None, "threads.list", json!({})).await;
    assert_refused(&answer, &headers, "invalid_token");

    let real = sign(Algorithm::RS256, &private_key("rsa"), None, &c);
    let (answer, _) = call(&app, Some(&real), None, "threads.list", json!({})).await;
    assert_eq!(answer.status, 200, "{answer:?}");
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
