//! Outbound HTTP for deliveries. An endpoint is somebody else's server,
//! named by an admin: requests time out, never follow a redirect, and by
//! default never reach loopback, private, link-local or other internal
//! addresses, checked on the addresses actually connected to (a name that
//! resolves to one is refused too, so DNS cannot smuggle one in).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use actix_tls::connect::{Resolve, Resolver};
use futures_util::future::LocalBoxFuture;

/// May a delivery go to this address?
pub fn public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                // Shared address space (carrier-grade NAT), and benchmarking.
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 198 && (18..20).contains(&o[1]))
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // Unique local fc00::/7, link-local fe80::/10, documentation.
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8))
        }
    }
}

/// An endpoint URL as an admin may register it: http or https, with a
/// host, no credentials in it, and not an internal address written out.
pub fn check_url(raw: &str, allow_private: bool) -> Result<url::Url, &'static str> {
    let u = url::Url::parse(raw.trim()).map_err(|_| "not a URL")?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err("only http and https URLs");
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err("no credentials in the URL");
    }
    let ip = match u.host() {
        None => return Err("a URL needs a host"),
        Some(url::Host::Ipv4(a)) => Some(IpAddr::V4(a)),
        Some(url::Host::Ipv6(a)) => Some(IpAddr::V6(a)),
        Some(url::Host::Domain(_)) => None,
    };
    if let Some(ip) = ip {
        if !allow_private && !public(ip) {
            return Err("not a public address");
        }
    }
    Ok(u)
}

/// Name lookups that keep only the addresses a delivery may go to.
struct Guarded {
    allow_private: bool,
}

impl Resolve for Guarded {
    fn lookup<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> LocalBoxFuture<'a, Result<Vec<SocketAddr>, Box<dyn std::error::Error>>> {
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
            let kept: Vec<SocketAddr> = all
                .into_iter()
                .filter(|a| self.allow_private || public(a.ip()))
                .collect();
            if kept.is_empty() {
                return Err(format!("{host} has no public address").into());
            }
            Ok(kept)
        })
    }
}

/// A client for one thread's deliveries (awc clients are not `Send`).
pub fn client(timeout: Duration, allow_private: bool) -> awc::Client {
    let tcp = actix_tls::connect::Connector::new(Resolver::custom(Guarded { allow_private }));
    let connector = awc::Connector::new()
        .connector(tcp.service())
        .timeout(timeout.min(Duration::from_secs(5)));
    awc::Client::builder()
        .connector(connector)
        .timeout(timeout)
        .disable_redirects()
        .add_default_header(("User-Agent", "livedesk-webhooks/1"))
        .finish()
}

/// What an endpoint answered: its status, or why there was none.
pub async fn post(
    client: &awc::Client,
    url: &str,
    headers: &[(&'static str, String)],
    body: String,
    allow_private: bool,
) -> Result<u16, String> {
    check_url(url, allow_private).map_err(str::to_owned)?;
    let mut req = client
        .post(url)
        .insert_header(("Content-Type", "application/json"));
    for (k, v) in headers {
        req = req.insert_header((*k, v.as_str()));
    }
    let mut res = req.send_body(body).await.map_err(|e| e.to_string())?;
    // Read (a little of) the answer, so the connection can be reused.
    let _ = res.body().limit(64 * 1024).await;
    Ok(res.status().as_u16())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_not_public() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "255.255.255.255",
            "224.0.0.1",
        ] {
            assert!(!public(a.parse().unwrap()), "{a}");
        }
        for a in ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"] {
            assert!(public(a.parse().unwrap()), "{a}");
        }
    }

    #[test]
    fn urls_are_checked_before_anything_is_sent() {
        assert!(check_url("https://hooks.example.com/x", false).is_ok());
        assert!(check_url("http://127.0.0.1:9/x", false).is_err());
        assert!(check_url("http://[::1]/x", false).is_err());
        assert!(check_url("http://169.254.169.254/latest/meta-data", false).is_err());
        assert!(check_url("http://127.0.0.1:9/x", true).is_ok());
        assert!(check_url("ftp://example.com/", true).is_err());
        assert!(check_url("https://user:pw@example.com/", true).is_err());
        assert!(check_url("not a url", true).is_err());
    }
}
