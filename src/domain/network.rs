//! Which peers may say who the real client is.
//!
//! Throttles count failures per client address. Behind a load balancer or a
//! front end that calls identityd for its users, the TCP peer is that proxy,
//! so every client would share one address and one failure count. A peer in
//! `server.trusted_proxies` may name the client: in `x-forwarded-for` (the
//! rightmost address no trusted proxy added is the client) or, when every
//! hop is trusted, in `x-client-ip`. Anyone else's headers are ignored, so
//! nobody picks their own address.

use std::fmt;
use std::net::IpAddr;

/// A block of addresses in CIDR notation, such as `10.0.0.0/8` or `fd00::/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork {
    base: IpAddr,
    prefix: u8,
}

/// A CIDR block that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IP address or CIDR block such as 10.0.0.0/8 or fd00::/8")]
pub struct BadNetwork(pub String);

impl IpNetwork {
    /// Parses `a.b.c.d/n`, `x::y/n`, or a single address (a block of one).
    /// Host bits set below the prefix are refused: `10.0.0.1/8` is more
    /// likely a typo than a block.
    pub fn parse(text: &str) -> Result<Self, BadNetwork> {
        let bad = || BadNetwork(text.to_owned());
        let trimmed = text.trim();
        let (address, prefix) = match trimmed.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (trimmed, None),
        };
        let base: IpAddr = address.parse().map_err(|_| bad())?;
        let width = address_bits(base);
        let prefix = match prefix {
            None => width,
            Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                digits.parse::<u8>().map_err(|_| bad())?
            }
            Some(_) => return Err(bad()),
        };
        if prefix > width {
            return Err(bad());
        }
        let network = Self { base, prefix };
        if bits(base) & !network.mask() != 0 {
            return Err(bad());
        }
        Ok(network)
    }

    fn mask(&self) -> u128 {
        let width = u32::from(address_bits(self.base));
        let host_bits = width - u32::from(self.prefix);
        let all = if width == 128 {
            u128::MAX
        } else {
            (1u128 << width) - 1
        };
        all.checked_shl(host_bits).unwrap_or(0) & all
    }

    /// Whether `address` is in this block. An IPv4 address written as
    /// IPv6 (`::ffff:a.b.c.d`) counts as the IPv4 address.
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        if address.is_ipv4() != self.base.is_ipv4() {
            return false;
        }
        bits(address) & self.mask() == bits(self.base)
    }
}

impl fmt::Display for IpNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

fn address_bits(address: IpAddr) -> u8 {
    if address.is_ipv4() { 32 } else { 128 }
}

fn bits(address: IpAddr) -> u128 {
    match address {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// The proxies whose word on the client address is taken; empty trusts nobody.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNetwork>);

impl TrustedProxies {
    /// Parses every block, refusing the list if one is bad.
    pub fn parse<S: AsRef<str>>(blocks: &[S]) -> Result<Self, BadNetwork> {
        blocks
            .iter()
            .map(|block| IpNetwork::parse(block.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// Whether `address` is a trusted proxy.
    pub fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|network| network.contains(address))
    }

    /// The client's address for a call from `peer` carrying the
    /// `x-forwarded-for` values `forwarded_for` (in header order) and the
    /// `x-client-ip` value `client_ip`. Headers count only when `peer` is
    /// trusted; `x-forwarded-for` is read from the right, and the first
    /// address not trusted is the client; `x-client-ip` counts only when
    /// every hop is trusted (the request came from a trusted caller, not
    /// through it).
    pub fn client_address<'a>(
        &self,
        peer: Option<IpAddr>,
        forwarded_for: impl IntoIterator<Item = &'a str>,
        client_ip: Option<&str>,
    ) -> Option<IpAddr> {
        let peer = peer?;
        if !self.trusts(peer) {
            return Some(peer);
        }
        let hops: Vec<&str> = forwarded_for
            .into_iter()
            .flat_map(|value| value.split(','))
            .collect();
        let mut nearest = peer;
        for hop in hops.iter().rev() {
            // Anything left of an unreadable hop was written by someone we
            // cannot place: stop at the last address we could.
            let Some(address) = parse_hop(hop) else {
                return Some(nearest);
            };
            if !self.trusts(address) {
                return Some(address);
            }
            nearest = address;
        }
        Some(client_ip.and_then(parse_hop).unwrap_or(nearest))
    }
}

/// One address of a forwarding header: `a.b.c.d`, `a.b.c.d:port`, an IPv6
/// address, or `[v6]:port`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(address) = hop.parse::<IpAddr>() {
        return Some(address.to_canonical());
    }
    hop.parse::<std::net::SocketAddr>()
        .ok()
        .map(|socket| socket.ip().to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn blocks_parse_and_contain_their_addresses() {
        let private = IpNetwork::parse("10.0.0.0/8").expect("valid");
        assert!(private.contains(ip("10.255.1.2")));
        assert!(private.contains(ip("::ffff:10.1.2.3")));
        assert!(!private.contains(ip("11.0.0.1")));
        let one = IpNetwork::parse("192.0.2.7").expect("valid");
        assert!(one.contains(ip("192.0.2.7")));
        assert!(!one.contains(ip("192.0.2.8")));
        let v6 = IpNetwork::parse("fd00::/8").expect("valid");
        assert!(v6.contains(ip("fd12::1")));
        assert!(!v6.contains(ip("10.0.0.1")));
        assert!(
            IpNetwork::parse("0.0.0.0/0")
                .expect("valid")
                .contains(ip("8.8.8.8"))
        );
        assert!(
            IpNetwork::parse("::/0")
                .expect("valid")
                .contains(ip("2001:db8::1"))
        );
    }

    #[test]
    fn bad_blocks_are_refused() {
        for bad in [
            "",
            "10.0.0.0/33",
            "10.0.0.1/8",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "fd00::/129",
            "example.com",
            "10.0.0.0/8/8",
        ] {
            assert!(IpNetwork::parse(bad).is_err(), "{bad:?}");
        }
        assert!(TrustedProxies::parse(&["10.0.0.0/8", "nonsense"]).is_err());
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8"]).expect("valid");
        let client = proxies.client_address(Some(ip("203.0.113.9")), ["1.2.3.4"], Some("5.6.7.8"));
        assert_eq!(client, Some(ip("203.0.113.9")));
        let nobody = TrustedProxies::default();
        let client = nobody.client_address(Some(ip("10.0.0.1")), ["1.2.3.4"], None);
        assert_eq!(client, Some(ip("10.0.0.1")));
    }

    #[test]
    fn forwarded_for_is_read_from_the_right_up_to_the_first_untrusted_hop() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8"]).expect("valid");
        let peer = Some(ip("10.0.0.1"));
        // The client forged the leftmost entry; the proxy appended the real one.
        let client = proxies.client_address(peer, ["6.6.6.6, 198.51.100.4, 10.0.0.2"], None);
        assert_eq!(client, Some(ip("198.51.100.4")));
        let client = proxies.client_address(peer, ["6.6.6.6", "198.51.100.4:5512"], None);
        assert_eq!(client, Some(ip("198.51.100.4")));
        // A client-ip header from behind the proxy does not override it.
        let client = proxies.client_address(peer, ["198.51.100.4"], Some("6.6.6.6"));
        assert_eq!(client, Some(ip("198.51.100.4")));
        // An unreadable hop stops the walk at the nearest readable one.
        let client = proxies.client_address(peer, ["garbage, 10.0.0.3"], None);
        assert_eq!(client, Some(ip("10.0.0.3")));
    }

    #[test]
    fn a_trusted_caller_names_its_client_with_x_client_ip() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8"]).expect("valid");
        let peer = Some(ip("10.0.0.1"));
        let client = proxies.client_address(peer, [], Some("198.51.100.4"));
        assert_eq!(client, Some(ip("198.51.100.4")));
        let client = proxies.client_address(peer, [], Some("not an address"));
        assert_eq!(client, peer);
        assert_eq!(proxies.client_address(None, [], None), None);
    }
}
