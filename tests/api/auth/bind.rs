//! The production modes serve a public address: a jwt-mode and a proxy-mode server bound to
//! 0.0.0.0 answer on 127.0.0.1. (Dev mode refuses such an address; the config tests show it.)

use serde_json::json;

use super::{JWT_VARS, SECRET_KEY, call, claims, hs_token};
use crate::support::app::{Db, spawn_app_with};
use crate::support::macros::db_case;

db_case!(jwt_and_proxy_modes_serve_every_address);
async fn jwt_and_proxy_modes_serve_every_address(db: Db) {
    let mut jwt = JWT_VARS.to_vec();
    jwt.push(("CHATKIT_BIND", "0.0.0.0:0"));
    let Some(app) = spawn_app_with(db, &jwt).await else {
        return;
    };
    let token = hs_token(&claims("ann", "default"));
    let (answer, _) = call(&app, Some(&token), None, "threads.list", json!({})).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let (answer, _) = call(&app, None, None, "threads.list", json!({})).await;
    assert_eq!(answer.status, 401, "{answer:?}");

    let proxy = [
        ("CHATKIT_AUTH", "proxy"),
        ("CHATKIT_SECRET_KEY", SECRET_KEY),
        ("CHATKIT_TRUSTED_PROXIES", "127.0.0.1/32"),
        ("CHATKIT_BIND", "0.0.0.0:0"),
    ];
    let app = spawn_app_with(db, &proxy).await.expect("proxy app");
    let answer = app
        .client
        .post(format!("{}/chatkit", app.address))
        .header("X-Forwarded-User", "ann")
        .body(json!({"type": "threads.list", "params": {}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
}
