//! The chat page: which web client it runs (our own, or OpenAI's ChatKit JS with its script
//! URL and domain key).

use super::ConfigError;

/// Which chat client the pages `/` and `/agents/{slug}/chat` run (`CHATKIT_CLIENT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatClient {
    /// `<chatkit-chat>` from `static/chat/`: served by this server, works with no internet
    /// (`builtin`, the default).
    Builtin,
    /// OpenAI's ChatKit web component from `CHATKIT_SCRIPT_URL` (`chatkit-js`).
    ChatKitJs,
}

#[derive(Debug, Clone)]
pub struct PageSettings {
    pub client: ChatClient,
    /// Where the ChatKit JS page loads the web component from (`CHATKIT_SCRIPT_URL`).
    pub script_url: String,
    /// The domain key the ChatKit JS page gives the client (`CHATKIT_DOMAIN_KEY`, alias
    /// `CHATKIT_PK`). It is public (the browser sees it), so it is no [`super::Secret`].
    pub domain_key: String,
}

impl PageSettings {
    pub(super) fn from_vars(
        get: &impl Fn(&str) -> Option<String>,
    ) -> Result<PageSettings, ConfigError> {
        let client = match get("CHATKIT_CLIENT").as_deref() {
            None | Some("builtin") => ChatClient::Builtin,
            Some("chatkit-js") => ChatClient::ChatKitJs,
            Some(other) => {
                return Err(ConfigError::new(
                    "CHATKIT_CLIENT",
                    format!("{other:?} is neither \"builtin\" nor \"chatkit-js\""),
                ));
            }
        };
        Ok(PageSettings {
            client,
            script_url: get("CHATKIT_SCRIPT_URL").unwrap_or_else(|| {
                "https://cdn.platform.openai.com/deployments/chatkit/chatkit.js".into()
            }),
            domain_key: get("CHATKIT_DOMAIN_KEY")
                .or_else(|| get("CHATKIT_PK"))
                .unwrap_or_else(|| "local-dev".into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::settings;
    use super::ChatClient;

    #[test]
    fn domain_key_and_its_alias() {
        let s = settings(&[]).unwrap().pages;
        assert_eq!(s.domain_key, "local-dev");
        assert!(s.script_url.starts_with("https://"));
        let s = settings(&[("CHATKIT_PK", "pk")]).unwrap().pages;
        assert_eq!(s.domain_key, "pk");
        let s = settings(&[("CHATKIT_PK", "pk"), ("CHATKIT_DOMAIN_KEY", "dk")])
            .unwrap()
            .pages;
        assert_eq!(s.domain_key, "dk");
    }

    #[test]
    fn the_client_is_ours_unless_chatkit_js_is_asked_for() {
        assert_eq!(settings(&[]).unwrap().pages.client, ChatClient::Builtin);
        let s = settings(&[("CHATKIT_CLIENT", "builtin")]).unwrap().pages;
        assert_eq!(s.client, ChatClient::Builtin);
        let s = settings(&[("CHATKIT_CLIENT", "chatkit-js")]).unwrap().pages;
        assert_eq!(s.client, ChatClient::ChatKitJs);
        let error = settings(&[("CHATKIT_CLIENT", "react")]).unwrap_err();
        assert_eq!(error.var, "CHATKIT_CLIENT");
    }
}
