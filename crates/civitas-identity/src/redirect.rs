//! Redirect URIs, parsed and compared by the rules of RFC 8252 §7.3 and RFC 9700 §4.1.3: a
//! registered URI must be `https` (or `http` on a loopback IP literal), carry no userinfo and no
//! fragment, and be in its canonical form; a requested URI matches a registered one exactly,
//! except that the port alone may differ for `http` loopback literals (`127.0.0.1`, `[::1]`).
//! `localhost` is not loopback here: its name can be resolved elsewhere.
//!
//! Nothing is compared by prefix: every URI goes through a real URL parser first.

use url::{Host, Url};

/// Why a URI cannot be a redirect URI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectError {
    #[error("is not an absolute URL")]
    Unparsable,
    #[error("must use https (http only on the loopback addresses 127.0.0.1 or [::1])")]
    Scheme,
    #[error("must not carry a user name or password")]
    Userinfo,
    #[error("must not carry a fragment")]
    Fragment,
    #[error("must be written in canonical form (as {0})")]
    NotCanonical(String),
}

fn is_loopback_literal(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip == std::net::Ipv4Addr::LOCALHOST,
        Some(Host::Ipv6(ip)) => ip == std::net::Ipv6Addr::LOCALHOST,
        _ => false,
    }
}

/// Parses a URI an operator registers (redirect or post-logout redirect).
pub fn parse_registered(raw: &str) -> Result<Url, RedirectError> {
    let url = Url::parse(raw).map_err(|_| RedirectError::Unparsable)?;
    match url.scheme() {
        "https" if url.host().is_some() => {}
        "http" if is_loopback_literal(&url) => {}
        _ => return Err(RedirectError::Scheme),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(RedirectError::Userinfo);
    }
    if url.fragment().is_some() || raw.contains('#') {
        return Err(RedirectError::Fragment);
    }
    if url.as_str() != raw {
        return Err(RedirectError::NotCanonical(url.as_str().to_owned()));
    }
    Ok(url)
}

/// Whether a requested redirect URI matches a registered one.
pub fn matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        // A registered URI passed `parse_registered` (or came from before it existed: check again).
        return parse_registered(registered).is_ok();
    }
    let (Ok(reg), Ok(req)) = (parse_registered(registered), parse_registered(requested)) else {
        return false;
    };
    reg.scheme() == "http"
        && req.scheme() == "http"
        && is_loopback_literal(&reg)
        && reg.host() == req.host()
        && reg.path() == req.path()
        && reg.query() == req.query()
}

/// The origin (`scheme://host[:port]`) of a redirect URI, for a CSP `form-action` source; only
/// for a URI that is a valid redirect URI.
pub fn origin(uri: &str) -> Option<String> {
    let url = parse_registered(uri).ok()?;
    Some(url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_port_may_vary() {
        assert!(matches("http://127.0.0.1/callback", "http://127.0.0.1:53211/callback"));
        assert!(matches("http://127.0.0.1:8080/callback", "http://127.0.0.1:1/callback"));
        assert!(matches("http://[::1]/cb", "http://[::1]:4000/cb"));
        assert!(!matches("http://127.0.0.1/callback", "http://127.0.0.1:5/other"));
        assert!(!matches("http://127.0.0.1/callback", "http://[::1]:5/callback"));
        assert!(!matches("http://localhost/callback", "http://localhost:5/callback"));
        assert!(!matches("https://rp.example/cb", "https://rp.example:444/cb"));
        assert!(matches("https://rp.example/cb", "https://rp.example/cb"));
    }

    #[test]
    fn userinfo_and_tricks_are_refused() {
        for bad in [
            "http://127.0.0.1:80@evil.example/callback",
            "http://127.0.0.1:@evil.example/callback",
            "http://127.0.0.1:x@evil.example/callback",
            "http://[::1]@evil.example/callback",
            "http://127.0.0.1\\@evil.example/callback",
            "http://127.0.0.1:5/callback#x",
            "http://127.0.0.1:5/callback/../x",
            "http://127.0.0.1.evil.example/callback",
            "HTTP://127.0.0.1:5/callback",
        ] {
            assert!(!matches("http://127.0.0.1/callback", bad), "{bad}");
        }
    }

    #[test]
    fn registration_is_parsed() {
        assert!(parse_registered("https://rp.example/cb").is_ok());
        assert!(parse_registered("http://127.0.0.1/callback").is_ok());
        assert!(parse_registered("http://[::1]:8080/cb").is_ok());
        assert_eq!(parse_registered("http://127.0.0.1.evil.example/cb"), Err(RedirectError::Scheme));
        assert_eq!(parse_registered("http://localhost.evil.example/cb"), Err(RedirectError::Scheme));
        assert_eq!(parse_registered("http://localhost/cb"), Err(RedirectError::Scheme));
        assert_eq!(parse_registered("https://a@evil.example/cb"), Err(RedirectError::Userinfo));
        assert_eq!(parse_registered("https://rp.example/cb#f"), Err(RedirectError::Fragment));
        assert_eq!(parse_registered("javascript:alert(1)"), Err(RedirectError::Scheme));
        assert!(matches!(parse_registered("https://RP.example/cb"), Err(RedirectError::NotCanonical(_))));
    }

    #[test]
    fn origin_is_serialized_by_the_parser() {
        assert_eq!(origin("https://rp.example:8443/cb?x=1").as_deref(), Some("https://rp.example:8443"));
        assert_eq!(origin("http://127.0.0.1:80@evil.example/cb; frame-ancestors *"), None);
    }
}
