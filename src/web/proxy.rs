//! Which address a request came from, behind reverse proxies.
//!
//! `X-Forwarded-For` is a list each proxy appends to: everything left of the
//! entry our own proxy appended was written by the client and proves nothing.
//! So the client is the right-most entry that is not one of our proxies,
//! and only when the direct peer is one of them.

use std::net::IpAddr;

use ipnet::IpNet;

/// Whom to believe about the client's address.
#[derive(Debug, Clone, Default)]
pub struct ProxyPolicy {
    /// `--trust-proxy`: the direct peer is a proxy of ours (one hop).
    pub trust_peer: bool,
    /// `--trusted-proxies`: addresses or networks of our proxies (any number of hops).
    pub trusted: Vec<IpNet>,
}

impl ProxyPolicy {
    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|n| n.contains(&ip))
    }

    /// Is this direct peer one of our proxies (many clients behind it)?
    pub fn is_proxy(&self, peer: IpAddr) -> bool {
        self.trust_peer || self.is_trusted(peer)
    }

    /// The client's address: the peer's, unless the peer is a trusted proxy;
    /// then the right-most forwarded entry that is not a trusted proxy.
    pub fn client_address(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        if !self.is_proxy(peer) {
            return peer;
        }
        let mut client = peer;
        for entry in forwarded_for
            .iter()
            .flat_map(|h| h.split(','))
            .rev()
            .map(str::trim)
        {
            // A garbled entry was not written by a proxy of ours: stop at the
            // last address a trusted hop vouched for.
            let Some(ip) = parse_entry(entry) else {
                return client;
            };
            client = ip;
            if !self.is_trusted(ip) {
                return ip;
            }
        }
        client
    }
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `[::1]:80` or `::1`.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    entry.parse::<std::net::SocketAddr>().ok().map(|sa| sa.ip())
}

/// Parses one `--trusted-proxies` item: an address or a network in CIDR form.
pub fn parse_trusted(item: &str) -> Result<IpNet, String> {
    let item = item.trim();
    item.parse::<IpNet>()
        .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("`{item}` is not an IP address or a network like 10.0.0.0/8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn without_trust_the_peer_is_the_client() {
        let p = ProxyPolicy::default();
        assert_eq!(
            p.client_address(ip("127.0.0.1"), &["10.0.0.7"]),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn one_trusted_hop_takes_what_that_proxy_appended() {
        let p = ProxyPolicy {
            trust_peer: true,
            trusted: vec![],
        };
        // The client sent "10.0.0.7"; the proxy appended the address it saw.
        assert_eq!(
            p.client_address(ip("127.0.0.1"), &["10.0.0.7, 203.0.113.9"]),
            ip("203.0.113.9")
        );
        assert_eq!(
            p.client_address(ip("127.0.0.1"), &["10.0.0.7", "203.0.113.9:4711"]),
            ip("203.0.113.9")
        );
        // No header: the peer.
        assert_eq!(p.client_address(ip("127.0.0.1"), &[]), ip("127.0.0.1"));
    }

    #[test]
    fn listed_proxies_are_skipped_from_the_right() {
        let p = ProxyPolicy {
            trust_peer: false,
            trusted: vec![
                parse_trusted("10.1.0.0/16").unwrap(),
                parse_trusted("::1").unwrap(),
            ],
        };
        let xff = ["198.51.100.1, 203.0.113.9, 10.1.2.3"];
        assert_eq!(p.client_address(ip("10.1.9.9"), &xff), ip("203.0.113.9"));
        assert_eq!(p.client_address(ip("::1"), &xff), ip("203.0.113.9"));
        // A peer that is not a listed proxy cannot speak for anyone.
        assert_eq!(p.client_address(ip("192.0.2.5"), &xff), ip("192.0.2.5"));
        // Every entry a proxy of ours: the left-most one.
        assert_eq!(
            p.client_address(ip("10.1.0.1"), &["10.1.0.2"]),
            ip("10.1.0.2")
        );
        // Garbage from the client stops the walk at the last vouched-for hop.
        assert_eq!(
            p.client_address(ip("10.1.0.1"), &["<script>, 10.1.0.2"]),
            ip("10.1.0.2")
        );
        assert!(parse_trusted("not-an-ip").is_err());
    }
}
