//! The operator console from a test: operators made directly in the store, the sign-in form as
//! a browser gets it, and a signed-in [`ConsoleSession`] whose requests carry the session
//! cookie (redirects are not followed, so tests see them).

use chatkit_server::auth::operators::{hash_password, token_hash};
use chatkit_server::store::{AuditEntry, AuditFilter, NewOperator, Operator, Role, Store};
use reqwest::header::HeaderMap;

use super::app::TestApp;
use super::browser::Browser;

/// The password of operators made by [`add_operator`].
pub const PASSWORD: &str = "correct horse battery";

/// The headers every console answer must carry.
pub const SECURITY_HEADERS: [(&str, &str); 5] = [
    (
        "content-security-policy",
        "default-src 'self'; img-src 'self' data: https:; style-src 'self'; script-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("cache-control", "no-store"),
];

/// Adds an operator with [`PASSWORD`].
pub async fn add_operator(app: &TestApp, email: &str, role: Role) -> Operator {
    let password_hash = hash_password(PASSWORD).expect("hash");
    app.store
        .create_operator(NewOperator {
            email: email.to_owned(),
            password_hash,
            role,
        })
        .await
        .expect("operator created")
}

/// An answer of the console, read whole.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    async fn read(response: reqwest::Response) -> Page {
        Page {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.text().await.expect("body read"),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Where a redirect points.
    pub fn location(&self) -> &str {
        self.header("location").unwrap_or_default()
    }

    /// The `Set-Cookie` header for cookie `name`, whole (with its attributes).
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(str::to_owned)
    }

    /// The value of the first `<input name="{name}" value="...">` of the page.
    pub fn input_value(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker)? + marker.len();
        let end = self.body[start..].find('"')?;
        Some(self.body[start..start + end].to_owned())
    }

    /// Fails unless every security header is there with its exact value.
    pub fn assert_secure(&self) {
        for (name, value) in SECURITY_HEADERS {
            assert_eq!(self.header(name), Some(value), "{name} on {self:?}");
        }
    }
}

/// The type of a form post.
pub const FORM: &str = "application/x-www-form-urlencoded";

/// `fields` as a form body (`a=1&b=x%40y`).
pub fn form_body(fields: &[(&str, &str)]) -> String {
    let encode = |text: &str| {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    char::from(b).to_string()
                }
                b => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A client that does not follow redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// A GET of `path` with no cookie.
pub async fn get(app: &TestApp, path: &str) -> Page {
    get_at(&app.address, path).await
}

async fn get_at(address: &str, path: &str) -> Page {
    let response = client()
        .get(format!("{address}{path}"))
        .send()
        .await
        .expect("request sent");
    Page::read(response).await
}

/// The sign-in form as a browser gets it: its CSRF cookie (`name=value`) and form token.
#[derive(Debug, Clone)]
pub struct LoginForm {
    pub cookie: String,
    pub csrf_token: String,
}

pub async fn login_form(app: &TestApp) -> LoginForm {
    login_form_at(&app.address).await
}

async fn login_form_at(address: &str) -> LoginForm {
    let page = get_at(address, "/admin/login").await;
    assert_eq!(page.status, 200, "{page:?}");
    let cookie = page
        .set_cookie("chatkit_admin_login")
        .expect("login cookie");
    let cookie = cookie.split(';').next().unwrap_or_default().to_owned();
    let csrf_token = page.input_value("csrf_token").expect("csrf field");
    LoginForm { cookie, csrf_token }
}

/// Posts the sign-in form.
pub async fn post_login(app: &TestApp, form: &LoginForm, email: &str, password: &str) -> Page {
    post_login_at(&app.address, form, email, password).await
}

async fn post_login_at(address: &str, form: &LoginForm, email: &str, password: &str) -> Page {
    let response = client()
        .post(format!("{address}/admin/login"))
        .header("cookie", &form.cookie)
        .header("content-type", FORM)
        .body(form_body(&[
            ("email", email),
            ("password", password),
            ("csrf_token", form.csrf_token.as_str()),
        ]))
        .send()
        .await
        .expect("request sent");
    Page::read(response).await
}

/// A signed-in operator.
pub struct ConsoleSession {
    address: String,
    /// The session cookie's value.
    pub token: String,
    /// The session's CSRF token.
    pub csrf_token: String,
}

/// Signs in through the form; fails the test unless it works.
pub async fn sign_in(app: &TestApp, email: &str, password: &str) -> ConsoleSession {
    sign_in_at(&app.address, &app.store, email, password).await
}

/// [`sign_in`] to the server at `address` (a server process), whose database `store` opens.
pub async fn sign_in_at(
    address: &str,
    store: &Store,
    email: &str,
    password: &str,
) -> ConsoleSession {
    let form = login_form_at(address).await;
    let page = post_login_at(address, &form, email, password).await;
    assert_eq!(page.status, 303, "sign-in failed: {page:?}");
    let cookie = page.set_cookie("chatkit_admin").expect("session cookie");
    let token = cookie
        .split(';')
        .next()
        .and_then(|c| c.strip_prefix("chatkit_admin="))
        .expect("cookie value")
        .to_owned();
    let (session, _) = store
        .session_by_token_hash(&token_hash(&token))
        .await
        .expect("store")
        .expect("the session is stored");
    ConsoleSession {
        address: address.to_owned(),
        token,
        csrf_token: session.csrf_token,
    }
}

impl ConsoleSession {
    pub async fn get(&self, path: &str) -> Page {
        let response = client()
            .get(format!("{}{path}", self.address))
            .header("cookie", format!("chatkit_admin={}", self.token))
            .send()
            .await
            .expect("request sent");
        Page::read(response).await
    }

    /// POSTs `fields` as a form, as they are (add `csrf_token` yourself, or use [`Self::act`]).
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let response = client()
            .post(format!("{}{path}", self.address))
            .header("cookie", format!("chatkit_admin={}", self.token))
            .header("content-type", FORM)
            .body(form_body(fields))
            .send()
            .await
            .expect("request sent");
        Page::read(response).await
    }

    /// POSTs `fields` with the session's CSRF token.
    pub async fn act(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut all = vec![("csrf_token", self.csrf_token.as_str())];
        all.extend_from_slice(fields);
        self.post(path, &all).await
    }
}

/// Fills and sends the sign-in form the browser shows, as `email` with [`PASSWORD`].
pub async fn sign_in_browser(browser: &Browser, email: &str) {
    browser.wait_for("form.login-card").await;
    browser.fill("input[name=email]", email).await;
    browser.fill("input[name=password]", PASSWORD).await;
    browser.click("form.login-card button[type=submit]").await;
}

/// The audit rows with `action`, oldest first.
pub async fn audit_rows(app: &TestApp, action: &str) -> Vec<AuditEntry> {
    let filter = AuditFilter {
        action: Some(action.to_owned()),
        ..Default::default()
    };
    let mut rows = app.store.audit_page(&filter, 200, None).await.unwrap().data;
    rows.reverse();
    rows
}

/// Every value of `attribute="…"` in `html`, in order.
pub fn attribute_values(html: &str, attribute: &str) -> Vec<String> {
    let marker = format!("{attribute}=\"");
    html.match_indices(&marker)
        .map(|(at, _)| {
            let rest = &html[at + marker.len()..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect()
}
