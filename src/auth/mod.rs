//! Who is calling: turns what a ChatKit request carries into the [`RequestContext`] every
//! service call is scoped by. Three modes: `dev` trusts a header, `jwt` verifies bearer tokens
//! ([`jwt`]), `proxy` trusts headers from a trusted proxy address. In the production modes the
//! caller's account (tenant) comes from the token or the proxy and must exist; agents resolve
//! within that account only. [`operators`]: the credentials of console operators.

pub mod jwt;
pub mod operators;
pub mod signed;

use std::net::IpAddr;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::config::{AuthMode, JwtSettings, ProxySettings};
use crate::store::{AccountRow, AgentRow, DEFAULT_SLUG, Scope, Store, StoreError};
use jwt::{JwtVerifier, KeyError, TokenRefusal};

/// The header that names the user in dev mode.
pub const USER_HEADER: &str = "X-ChatKit-User";
/// The user of a dev-mode request that names none.
pub const ANONYMOUS: &str = "anonymous";
const MAX_USER_ID_CHARS: usize = 256;

/// What a request says about its caller, as the route found it. Which fields count depends on
/// the mode; the others are ignored.
#[derive(Debug, Default, Clone)]
pub struct Credentials {
    /// The `X-ChatKit-User` header (dev mode).
    pub user: Option<String>,
    /// The `Authorization` header (jwt mode).
    pub authorization: Option<String>,
    /// The proxy's user header (proxy mode).
    pub proxy_user: Option<String>,
    /// The proxy's account header (proxy mode, when configured).
    pub proxy_account: Option<String>,
    /// The address the request came from (proxy mode).
    pub peer: Option<IpAddr>,
    /// The `?agent=<slug>` query parameter, if any.
    pub agent: Option<String>,
}

/// The authenticated caller and the agent it talks to.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub scope: Scope,
    pub agent: AgentRow,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{USER_HEADER} must be 1 to {MAX_USER_ID_CHARS} printable characters")]
    InvalidUser,
    #[error("no agent '{0}'")]
    UnknownAgent(String),
    /// An operator switched the agent off in the console.
    #[error("the agent '{0}' is disabled")]
    AgentDisabled(String),
    #[error("an Authorization: Bearer token is required")]
    MissingToken,
    #[error("the bearer token is not valid")]
    InvalidToken,
    #[error("the bearer token has expired")]
    TokenExpired,
    /// Proxy mode: the request did not come through the proxy, or it named no valid caller.
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error(transparent)]
    Store(StoreError),
}

impl AuthError {
    /// Whether the answer should carry `WWW-Authenticate: Bearer`.
    pub fn is_bearer_challenge(&self) -> bool {
        matches!(
            self,
            AuthError::MissingToken | AuthError::InvalidToken | AuthError::TokenExpired
        )
    }
}

impl From<TokenRefusal> for AuthError {
    fn from(refusal: TokenRefusal) -> Self {
        match refusal {
            TokenRefusal::Invalid => AuthError::InvalidToken,
            TokenRefusal::Expired => AuthError::TokenExpired,
        }
    }
}

/// The keys or settings of the configured mode cannot be used.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct AuthSetupError(#[from] KeyError);

#[derive(Clone)]
enum Mode {
    Dev,
    Jwt(Arc<JwtVerifier>, Arc<JwtSettings>),
    Proxy(Arc<ProxySettings>),
}

/// Who a request is from: its account and user, and the agents it is limited to, if any.
struct Caller {
    account: AccountRow,
    user: String,
    agents: Option<Vec<String>>,
}

/// Resolves credentials; holds the default account and agent so most requests need no query.
#[derive(Clone)]
pub struct Authenticator {
    mode: Mode,
    store: Store,
    account: AccountRow,
    default_agent: AgentRow,
}

impl Authenticator {
    /// Loads what the mode needs: in jwt mode the PEM key or the JWK set.
    pub async fn new(
        mode: &AuthMode,
        store: Store,
        account: AccountRow,
        default_agent: AgentRow,
    ) -> Result<Self, AuthSetupError> {
        let mode = match mode {
            AuthMode::Dev => Mode::Dev,
            AuthMode::Jwt(settings) => Mode::Jwt(
                Arc::new(JwtVerifier::load(settings).await?),
                Arc::new(settings.clone()),
            ),
            AuthMode::Proxy(settings) => Mode::Proxy(Arc::new(settings.clone())),
        };
        Ok(Authenticator {
            mode,
            store,
            account,
            default_agent,
        })
    }

    /// Proxy mode's user and account header names, for the routes to read.
    pub fn proxy_headers(&self) -> Option<(&str, Option<&str>)> {
        match &self.mode {
            Mode::Proxy(proxy) => Some((&proxy.user_header, proxy.account_header.as_deref())),
            _ => None,
        }
    }

    pub async fn authenticate(
        &self,
        credentials: &Credentials,
    ) -> Result<RequestContext, AuthError> {
        let caller = match self.caller(credentials).await? {
            Some(caller) => caller,
            None => return Err(self.missing()),
        };
        let slug = credentials
            .agent
            .as_deref()
            .filter(|s| !s.is_empty())
            .unwrap_or(DEFAULT_SLUG);
        if let Some(allowed) = &caller.agents
            && !allowed.iter().any(|a| a == slug)
        {
            log::debug!("the caller's token does not allow agent '{slug}'");
            return Err(AuthError::UnknownAgent(slug.to_owned()));
        }
        let agent = self.agent_of(&caller.account, Some(slug)).await?;
        Ok(RequestContext {
            scope: Scope {
                account_id: caller.account.id,
                agent_id: agent.id.clone(),
                user_id: caller.user,
            },
            agent,
        })
    }

    /// The account and user a request presents, if it presents any: a request that carries a
    /// signed URL token may also carry credentials, which must then be the owner's. Presented
    /// credentials that are wrong are an error.
    pub async fn identity(
        &self,
        credentials: &Credentials,
    ) -> Result<Option<(String, String)>, AuthError> {
        let presents_none = match &self.mode {
            Mode::Dev => credentials
                .user
                .as_deref()
                .is_none_or(|u| u.trim().is_empty()),
            Mode::Jwt(..) => credentials.authorization.is_none(),
            Mode::Proxy(proxy) => !credentials.peer.is_some_and(|peer| proxy.trusts(peer)),
        };
        if presents_none {
            return Ok(None);
        }
        Ok(self
            .caller(credentials)
            .await?
            .map(|caller| (caller.account.id, caller.user)))
    }

    /// The enabled agent `slug` of the default account, or its default agent.
    pub async fn agent(&self, slug: Option<&str>) -> Result<AgentRow, AuthError> {
        self.agent_of(&self.account.clone(), slug).await
    }

    /// The refusal of a request that presents no caller at all.
    fn missing(&self) -> AuthError {
        match &self.mode {
            Mode::Jwt(..) => AuthError::MissingToken,
            Mode::Proxy(_) => AuthError::Unauthenticated("the proxy named no user"),
            // Dev mode always has a caller (`anonymous`).
            Mode::Dev => AuthError::InvalidUser,
        }
    }

    /// The caller the credentials name, `None` when they name none.
    async fn caller(&self, credentials: &Credentials) -> Result<Option<Caller>, AuthError> {
        match &self.mode {
            Mode::Dev => {
                let user = match credentials.user.as_deref().map(str::trim) {
                    None | Some("") => ANONYMOUS.to_owned(),
                    Some(user) if valid_user_id(user) => user.to_owned(),
                    Some(_) => return Err(AuthError::InvalidUser),
                };
                Ok(Some(Caller {
                    account: self.account.clone(),
                    user,
                    agents: None,
                }))
            }
            Mode::Jwt(verifier, settings) => {
                let Some(token) = credentials.authorization.as_deref().and_then(bearer) else {
                    if credentials.authorization.is_some() {
                        log::debug!("bearer token refused: not a Bearer authorization");
                        return Err(AuthError::InvalidToken);
                    }
                    return Ok(None);
                };
                let claims = verifier.verify(token).await?;
                self.jwt_caller(settings, &claims).await.map(Some)
            }
            Mode::Proxy(proxy) => self.proxy_caller(proxy, credentials).await,
        }
    }

    async fn jwt_caller(
        &self,
        settings: &JwtSettings,
        claims: &Map<String, Value>,
    ) -> Result<Caller, AuthError> {
        let invalid = |why: &str| {
            log::debug!("bearer token refused: {why}");
            AuthError::InvalidToken
        };
        let user = match claims.get("sub").and_then(Value::as_str).map(str::trim) {
            Some(sub) if !sub.is_empty() && valid_user_id(sub) => sub.to_owned(),
            _ => return Err(invalid("no usable sub claim")),
        };
        let account = match claims.get(&settings.account_claim) {
            Some(Value::String(key)) => match self.account(key).await? {
                Some(account) => account,
                None => return Err(invalid("the account claim names no account")),
            },
            Some(Value::Number(key)) => match self.account(&key.to_string()).await? {
                Some(account) => account,
                None => return Err(invalid("the account claim names no account")),
            },
            None | Some(Value::Null) if settings.default_account => self.account.clone(),
            None | Some(Value::Null) => return Err(invalid("no account claim")),
            Some(_) => return Err(invalid("the account claim is not a string")),
        };
        let agents = match &settings.agents_claim {
            None => None,
            Some(claim) => match claims.get(claim) {
                Some(Value::Array(items)) => Some(
                    items
                        .iter()
                        .map(|v| v.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| invalid("the agents claim holds a non-string"))?,
                ),
                Some(Value::String(one)) => {
                    Some(one.split_whitespace().map(str::to_owned).collect())
                }
                // No claim: the token may use no agent at all.
                None | Some(Value::Null) => Some(Vec::new()),
                Some(_) => return Err(invalid("the agents claim is not a list")),
            },
        };
        Ok(Caller {
            account,
            user,
            agents,
        })
    }

    async fn proxy_caller(
        &self,
        proxy: &ProxySettings,
        credentials: &Credentials,
    ) -> Result<Option<Caller>, AuthError> {
        if !credentials.peer.is_some_and(|peer| proxy.trusts(peer)) {
            log::debug!(
                "refused a request from {:?}: not a trusted proxy address",
                credentials.peer
            );
            return Err(AuthError::Unauthenticated(
                "the request did not come through the trusted proxy",
            ));
        }
        let user = match credentials.proxy_user.as_deref().map(str::trim) {
            None | Some("") => return Ok(None),
            Some(user) if valid_user_id(user) => user.to_owned(),
            Some(_) => return Err(AuthError::Unauthenticated("the proxy's user is not valid")),
        };
        let account = match proxy.account_header {
            None => self.account.clone(),
            Some(_) => {
                let key = credentials.proxy_account.as_deref().map(str::trim);
                let key = key
                    .filter(|k| !k.is_empty())
                    .ok_or(AuthError::Unauthenticated("the proxy named no account"))?;
                self.account(key).await?.ok_or(AuthError::Unauthenticated(
                    "the proxy named an unknown account",
                ))?
            }
        };
        Ok(Some(Caller {
            account,
            user,
            agents: None,
        }))
    }

    /// The account whose id or slug is `key`; the default one needs no query.
    async fn account(&self, key: &str) -> Result<Option<AccountRow>, AuthError> {
        if key == self.account.id || key == self.account.slug {
            return Ok(Some(self.account.clone()));
        }
        match self.store.find_account(key).await {
            Ok(account) => Ok(Some(account)),
            Err(StoreError::NotFound(_)) => Ok(None),
            Err(e) => Err(AuthError::Store(e)),
        }
    }

    /// The enabled agent `slug` of `account` (its `default` agent when no slug is given). The
    /// default agent is held from the start (it cannot be disabled); others are read each
    /// time, so a switch in the console applies at once.
    async fn agent_of(
        &self,
        account: &AccountRow,
        slug: Option<&str>,
    ) -> Result<AgentRow, AuthError> {
        let slug = slug.filter(|s| !s.is_empty()).unwrap_or(DEFAULT_SLUG);
        if account.id == self.default_agent.account_id && slug == self.default_agent.slug {
            return Ok(self.default_agent.clone());
        }
        match self.store.find_agent(&account.id, slug).await {
            Ok(agent) if agent.enabled => Ok(agent),
            Ok(_) => Err(AuthError::AgentDisabled(slug.to_owned())),
            Err(StoreError::NotFound(_)) => Err(AuthError::UnknownAgent(slug.to_owned())),
            Err(e) => Err(AuthError::Store(e)),
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header (the scheme in any case).
fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn valid_user_id(user: &str) -> bool {
    user.chars().count() <= MAX_USER_ID_CHARS && !user.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header() {
        assert_eq!(bearer("Bearer abc.def.ghi"), Some("abc.def.ghi"));
        assert_eq!(bearer("bearer  t "), Some("t"));
        assert_eq!(bearer("Basic dXNlcg=="), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("Bearer"), None);
    }
}
