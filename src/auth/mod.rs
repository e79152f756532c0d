//! Who is calling: turns what a ChatKit request carries into the [`RequestContext`] every
//! service call is scoped by; [`operators`]: the credentials of console operators.

pub mod operators;
pub mod signed;

use crate::config::AuthMode;
use crate::store::{AccountRow, AgentRow, Scope, Store, StoreError};

/// The header that names the user in dev mode.
pub const USER_HEADER: &str = "X-ChatKit-User";
/// The user of a dev-mode request that names none.
pub const ANONYMOUS: &str = "anonymous";
const MAX_USER_ID_CHARS: usize = 256;

/// What a request says about its caller, as the route found it.
#[derive(Debug, Default, Clone)]
pub struct Credentials {
    /// The `X-ChatKit-User` header, if any.
    pub user: Option<String>,
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
    #[error(transparent)]
    Store(StoreError),
}

/// Resolves credentials; holds the default account and agent so most requests need no query.
#[derive(Clone)]
pub struct Authenticator {
    mode: AuthMode,
    store: Store,
    account: AccountRow,
    default_agent: AgentRow,
}

impl Authenticator {
    pub fn new(mode: AuthMode, store: Store, account: AccountRow, default_agent: AgentRow) -> Self {
        Authenticator {
            mode,
            store,
            account,
            default_agent,
        }
    }

    pub async fn authenticate(
        &self,
        credentials: &Credentials,
    ) -> Result<RequestContext, AuthError> {
        let AuthMode::Dev = self.mode;
        let user = match credentials.user.as_deref().map(str::trim) {
            None | Some("") => ANONYMOUS.to_owned(),
            Some(user) if valid_user_id(user) => user.to_owned(),
            Some(_) => return Err(AuthError::InvalidUser),
        };
        let agent = self.agent(credentials.agent.as_deref()).await?;
        Ok(RequestContext {
            scope: Scope {
                account_id: self.account.id.clone(),
                agent_id: agent.id.clone(),
                user_id: user,
            },
            agent,
        })
    }
}

impl Authenticator {
    /// The enabled agent `slug` of the account, or the default agent.
    pub async fn agent(&self, slug: Option<&str>) -> Result<AgentRow, AuthError> {
        match slug {
            None | Some("") => Ok(self.default_agent.clone()),
            Some(slug) if slug == self.default_agent.slug => Ok(self.default_agent.clone()),
            Some(slug) => match self.store.find_agent(&self.account.id, slug).await {
                Ok(agent) => Ok(agent),
                Err(StoreError::NotFound(_)) => Err(AuthError::UnknownAgent(slug.to_owned())),
                Err(e) => Err(AuthError::Store(e)),
            },
        }
    }
}

fn valid_user_id(user: &str) -> bool {
    user.chars().count() <= MAX_USER_ID_CHARS && !user.chars().any(char::is_control)
}
