//! The chat page: where it loads the ChatKit web component from and the domain key it hands
//! the client.

#[derive(Debug, Clone)]
pub struct PageSettings {
    /// Where the demo page loads the ChatKit web component from (`CHATKIT_SCRIPT_URL`).
    pub script_url: String,
    /// The domain key the demo page gives the ChatKit client (`CHATKIT_DOMAIN_KEY`, alias
    /// `CHATKIT_PK`). It is public (the browser sees it), so it is no [`super::Secret`].
    pub domain_key: String,
}

impl PageSettings {
    pub(super) fn from_vars(get: &impl Fn(&str) -> Option<String>) -> PageSettings {
        PageSettings {
            script_url: get("CHATKIT_SCRIPT_URL").unwrap_or_else(|| {
                "https://cdn.platform.openai.com/deployments/chatkit/chatkit.js".into()
            }),
            domain_key: get("CHATKIT_DOMAIN_KEY")
                .or_else(|| get("CHATKIT_PK"))
                .unwrap_or_else(|| "local-dev".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::settings;

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
}
