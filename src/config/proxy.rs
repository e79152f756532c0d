//! `CHATKIT_AUTH=proxy`: the headers an authenticating reverse proxy sets, and the addresses
//! allowed to set them (`CHATKIT_TRUSTED_PROXIES`, a list of CIDR blocks parsed here).

use std::net::IpAddr;

use super::{ConfigError, parse};

/// The user header when `CHATKIT_PROXY_USER_HEADER` is unset (oauth2-proxy's name).
pub const DEFAULT_USER_HEADER: &str = "X-Forwarded-User";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxySettings {
    /// The header naming the user (`CHATKIT_PROXY_USER_HEADER`).
    pub user_header: String,
    /// The header naming the account, by id or slug (`CHATKIT_PROXY_ACCOUNT_HEADER`); `None`
    /// puts every user in the default account.
    pub account_header: Option<String>,
    /// Peers whose headers are believed (`CHATKIT_TRUSTED_PROXIES`); never empty.
    pub trusted: Vec<Cidr>,
}

impl ProxySettings {
    pub(super) fn from_vars(
        get: &impl Fn(&str) -> Option<String>,
    ) -> Result<ProxySettings, ConfigError> {
        let user_header = header(get, "CHATKIT_PROXY_USER_HEADER")?
            .unwrap_or_else(|| DEFAULT_USER_HEADER.to_owned());
        let account_header = header(get, "CHATKIT_PROXY_ACCOUNT_HEADER")?;
        let trusted = parse::list(get, "CHATKIT_TRUSTED_PROXIES")
            .unwrap_or_default()
            .iter()
            .map(|raw| {
                Cidr::parse(raw).ok_or_else(|| {
                    ConfigError::new(
                        "CHATKIT_TRUSTED_PROXIES",
                        format!("'{raw}' is not an address or CIDR block like 10.0.0.0/8"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if trusted.is_empty() {
            return Err(ConfigError::new(
                "CHATKIT_TRUSTED_PROXIES",
                "proxy mode needs the addresses of the proxy (e.g. 10.0.0.5/32)",
            ));
        }
        Ok(ProxySettings {
            user_header,
            account_header,
            trusted,
        })
    }

    /// Whether a request from `peer` may name its user in headers.
    pub fn trusts(&self, peer: IpAddr) -> bool {
        self.trusted.iter().any(|block| block.contains(peer))
    }
}

/// A header name: letters, digits and `-` only, so it cannot be mistaken or smuggled.
fn header(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
) -> Result<Option<String>, ConfigError> {
    match get(var) {
        None => Ok(None),
        Some(name) if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') => Ok(Some(name)),
        Some(name) => Err(ConfigError::new(
            var,
            format!("'{name}' is not an HTTP header name"),
        )),
    }
}

/// A block of addresses: `10.0.0.0/8`, `::1/128`, or one address (a block of one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(raw: &str) -> Option<Cidr> {
        let (addr, prefix) = match raw.split_once('/') {
            Some((addr, prefix)) => (addr.trim(), Some(prefix.trim())),
            None => (raw.trim(), None),
        };
        let network: IpAddr = addr.parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p.parse().ok().filter(|p| *p <= max)?,
        };
        Some(Cidr { network, prefix })
    }

    /// Whether `ip` is in the block; an IPv4 address mapped into IPv6 counts as IPv4.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

/// Whether the first `bits` bits of `a` and `b` are equal.
fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let bits = usize::from(bits);
    let (whole, rest) = (bits / 8, bits % 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    a[whole] & mask == b[whole] & mask
}

#[cfg(test)]
mod tests {
    use super::super::tests::settings;
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidr_blocks() {
        let block = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(block.contains(ip("10.1.255.3")));
        assert!(!block.contains(ip("10.2.0.1")));
        assert!(block.contains(ip("::ffff:10.1.0.9")));
        let odd = Cidr::parse("192.168.0.128/25").unwrap();
        assert!(odd.contains(ip("192.168.0.200")));
        assert!(!odd.contains(ip("192.168.0.127")));
        let one = Cidr::parse("::1").unwrap();
        assert!(one.contains(ip("::1")) && !one.contains(ip("::2")));
        assert!(!one.contains(ip("127.0.0.1")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        for bad in ["10.0.0.0/33", "10.0.0/8", "x", "::/129", "10.0.0.0/-1"] {
            assert_eq!(Cidr::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn proxy_mode_settings() {
        let key = "k".repeat(32);
        let base = [
            ("CHATKIT_AUTH", "proxy"),
            ("CHATKIT_SECRET_KEY", key.as_str()),
        ];
        let e = settings(&base).unwrap_err();
        assert_eq!(e.var, "CHATKIT_TRUSTED_PROXIES");
        let mut vars = base.to_vec();
        vars.push(("CHATKIT_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1"));
        vars.push(("CHATKIT_BIND", "0.0.0.0:8000"));
        let proxy = match settings(&vars).unwrap().auth.mode {
            super::super::AuthMode::Proxy(proxy) => proxy,
            other => panic!("{other:?}"),
        };
        assert_eq!(proxy.user_header, DEFAULT_USER_HEADER);
        assert_eq!(proxy.account_header, None);
        assert!(proxy.trusts(ip("127.0.0.1")) && proxy.trusts(ip("10.9.9.9")));
        assert!(!proxy.trusts(ip("127.0.0.2")));
        vars.push(("CHATKIT_PROXY_ACCOUNT_HEADER", "X-Tenant: x"));
        let e = settings(&vars).unwrap_err();
        assert_eq!(e.var, "CHATKIT_PROXY_ACCOUNT_HEADER");
        vars.pop();
        vars.push(("CHATKIT_TRUSTED_PROXIES", "10.0.0.0/8, nope"));
        assert_eq!(settings(&vars).unwrap_err().var, "CHATKIT_TRUSTED_PROXIES");
    }
}
