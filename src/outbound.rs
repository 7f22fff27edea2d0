//! Outbound HTTP: every call Cairn makes to another server (URL ingest, gateway providers,
//! local endpoints, the remote embedder) goes through an [`Outbound`] client, and
//! the rule is the same for all of them:
//!
//! - the client follows no redirect (URL ingest follows them by hand, each hop vetted again);
//! - every address a host name resolves to is vetted by the client's own resolver, and the
//!   connection goes to those vetted addresses only: there is no second lookup to rebind, and
//!   no proxy (a proxy would resolve the name again). IP literals, which skip the resolver, are
//!   vetted when the request is built ([`Outbound::request`]);
//! - link-local addresses, cloud metadata (169.254.169.254, fd00:ec2::254,
//!   metadata.google.internal), unspecified, broadcast and multicast addresses are refused
//!   whatever the configuration;
//! - internal addresses (loopback, private ranges, CGNAT, ULA, ...) only where the [`Reach`]
//!   allows them: `Public` (URL ingest, members' local endpoints) never, but for the hosts the
//!   operator allow-lists; `Networks` (admins' local endpoints) within the networks the
//!   operator lists (`gateway.local_endpoint_networks`); `Operator` (URLs written in the
//!   config file) anywhere;
//! - response bodies are read through [`Outbound::body`] (or its JSON and text forms), which
//!   stops at the client's size cap, and every request runs under a timeout.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Host names of cloud metadata services, refused before any lookup (they resolve to
/// link-local addresses, which are refused too; the names make the message clearer).
const METADATA_HOSTS: &[&str] = &["metadata.google.internal", "metadata.goog", "metadata"];

/// AWS's metadata service over IPv6.
const AWS_METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x254);

/// The cap on a response body when the caller sets none.
pub const DEFAULT_MAX_BODY: usize = 16 * 1024 * 1024;

/// Where a client may connect, beyond the public internet.
#[derive(Debug, Clone)]
pub enum Reach {
    /// Public addresses only, and internal ones of the allow-listed hosts (names or IPs).
    Public { allow_hosts: Vec<String> },
    /// Public addresses, and internal ones inside these networks.
    Networks(Vec<IpNet>),
    /// Anything but what is always refused: URLs the operator wrote in the config file.
    Operator,
}

/// Why an outbound call was not made.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// The policy refuses the destination (the caller's 400).
    #[error("{0}")]
    Refused(String),
    /// The URL is not one Cairn calls (scheme, no host).
    #[error("{0}")]
    BadUrl(String),
    /// The host name did not resolve.
    #[error("{0}")]
    Unresolved(String),
}

/// Why a response body was not read whole.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the response is larger than {0} bytes")]
    TooLarge(usize),
    #[error("{0}")]
    Failed(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Never called: link-local, metadata, unspecified, broadcast, multicast.
    Forbidden,
    /// Loopback, private and other non-public ranges: only where the reach allows.
    Internal,
    Public,
}

fn class_v4(ip: Ipv4Addr) -> Class {
    let o = ip.octets();
    // 0.0.0.0/8 reaches the host itself on Linux; 100.100.100.200 is Alibaba's metadata.
    if ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || o[0] == 0
        || o == [100, 100, 100, 200]
    {
        return Class::Forbidden;
    }
    let internal = ip.is_loopback()
        || ip.is_private()
        || ip.is_documentation()
        || (o[0] == 100 && (64..128).contains(&o[1])) // carrier-grade NAT
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
        || (o[0] == 198 && (18..20).contains(&o[1]))
        || o[0] >= 240;
    if internal {
        Class::Internal
    } else {
        Class::Public
    }
}

/// The IPv4 address an IPv6 one stands for: mapped, compatible, NAT64 and 6to4 forms.
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match v6.segments() {
        [0, 0, 0, 0, 0, 0, hi, lo] => Some(v4(hi, lo)),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(v4(hi, lo)),
        [0x2002, hi, lo, ..] => Some(v4(hi, lo)),
        _ => None,
    }
}

fn class_v6(v6: Ipv6Addr) -> Class {
    if v6.is_loopback() {
        return Class::Internal;
    }
    if v6.is_unspecified() {
        return Class::Forbidden;
    }
    if let Some(v4) = embedded_v4(v6) {
        return class_v4(v4);
    }
    let seg = v6.segments();
    if v6.is_multicast() || (seg[0] & 0xffc0) == 0xfe80 || v6 == AWS_METADATA_V6 {
        return Class::Forbidden;
    }
    let internal = (seg[0] & 0xfe00) == 0xfc00 // unique local
        || (seg[0] & 0xffc0) == 0xfec0 // site local (deprecated)
        || (seg[0] == 0x2001 && seg[1] == 0x0db8); // documentation
    if internal {
        Class::Internal
    } else {
        Class::Public
    }
}

fn class(ip: IpAddr) -> Class {
    match ip {
        IpAddr::V4(v4) => class_v4(v4),
        IpAddr::V6(v6) => class_v6(v6),
    }
}

/// Parses networks (`10.0.0.0/8`, or a bare address for one host); the error names the
/// entry.
pub fn parse_networks(list: &[String]) -> Result<Vec<IpNet>, String> {
    list.iter()
        .map(|n| {
            n.parse::<IpNet>()
                .or_else(|_| n.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{n:?} is not a network such as 192.168.0.0/16"))
        })
        .collect()
}

impl Reach {
    fn allow_listed(hosts: &[String], host: &str, ip: IpAddr) -> bool {
        hosts
            .iter()
            .any(|a| a.eq_ignore_ascii_case(host) || a.parse::<IpAddr>().ok() == Some(ip))
    }

    /// Why `ip`, an address of `host`, may not be called; `None` when it may.
    pub fn refusal(&self, host: &str, ip: IpAddr) -> Option<String> {
        let subject = if literal_ip(host) == Some(ip) {
            format!("{ip} is")
        } else {
            format!("{host} resolves to {ip}, which is")
        };
        let internal = match (class(ip), self) {
            (Class::Forbidden, _) => {
                return Some(format!(
                    "{subject} a link-local, metadata or unroutable internal address, which \
                     Cairn never calls"
                ))
            }
            (Class::Public, _) | (Class::Internal, Reach::Operator) => return None,
            (Class::Internal, Reach::Networks(nets)) => {
                if nets.iter().any(|n| n.contains(&ip)) {
                    return None;
                }
                "outside the networks the operator allows (gateway.local_endpoint_networks)"
            }
            (Class::Internal, Reach::Public { allow_hosts }) => {
                if Self::allow_listed(allow_hosts, host, ip) {
                    return None;
                }
                "(loopback, private, link-local or metadata)"
            }
        };
        Some(format!("{subject} an internal address {internal}"))
    }

    fn refuse_name(&self, host: &str) -> Result<(), OutboundError> {
        let name = host.trim_end_matches('.').to_ascii_lowercase();
        if METADATA_HOSTS.contains(&name.as_str()) {
            return Err(OutboundError::Refused(format!(
                "{host} is a cloud metadata service, which Cairn never calls"
            )));
        }
        Ok(())
    }

    /// Resolves `host` and vets every address it resolves to: one refused address refuses
    /// the host (a name that resolves both ways must not be a coin toss).
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, OutboundError> {
        self.refuse_name(host)?;
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| OutboundError::Unresolved(format!("cannot resolve {host}: {e}")))?
            .collect();
        if addrs.is_empty() {
            return Err(OutboundError::Unresolved(format!(
                "{host} resolves to no address"
            )));
        }
        for a in &addrs {
            if let Some(why) = self.refusal(host, a.ip()) {
                return Err(OutboundError::Refused(why));
            }
        }
        Ok(addrs)
    }
}

/// The client's resolver: it answers only vetted addresses, and the connection is made to
/// exactly those, so a name cannot resolve one way for a check and another for the call.
struct VettingResolver(Arc<Reach>);

impl Resolve for VettingResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let reach = self.0.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            // Port 0: reqwest puts the URL's port in.
            match reach.resolve(&host, 0).await {
                Ok(addrs) => Ok(Box::new(addrs.into_iter()) as Addrs),
                Err(e) => Err(Box::new(e) as Box<dyn std::error::Error + Send + Sync>),
            }
        })
    }
}

/// The address of an IP-literal host (`[::1]` included); `None` for a name.
fn literal_ip(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// A client that calls only where its [`Reach`] allows, follows no redirect and reads capped
/// bodies. Cheap to clone.
#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
    reach: Arc<Reach>,
    max_body: usize,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("reach", &self.reach)
            .field("max_body", &self.max_body)
            .finish_non_exhaustive()
    }
}

impl Outbound {
    /// `timeout`: the default for each request, body included (a request may set its own).
    pub fn new(reach: Reach, timeout: Duration, max_body: usize) -> anyhow::Result<Self> {
        let reach = Arc::new(reach);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(VettingResolver(reach.clone())))
            .timeout(timeout)
            .pool_max_idle_per_host(64)
            .user_agent(concat!("cairn/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            client,
            reach,
            max_body,
        })
    }

    /// The same policy with another body cap.
    pub fn with_max_body(&self, max_body: usize) -> Self {
        Self {
            max_body,
            ..self.clone()
        }
    }

    /// Checks what can be checked without a lookup: http(s), a host, no metadata name, and
    /// an IP literal's address (the resolver never sees literals).
    pub fn check_url(&self, url: &reqwest::Url) -> Result<(), OutboundError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(OutboundError::BadUrl(format!(
                "only http and https URLs are called, not {}",
                url.scheme()
            )));
        }
        let host = url
            .host_str()
            .ok_or_else(|| OutboundError::BadUrl("the URL has no host".into()))?;
        match literal_ip(host) {
            Some(ip) => self.refuse_ip(host, ip),
            None => self.reach.refuse_name(host),
        }
    }

    fn refuse_ip(&self, host: &str, ip: IpAddr) -> Result<(), OutboundError> {
        match self.reach.refusal(host, ip) {
            Some(why) => Err(OutboundError::Refused(why)),
            None => Ok(()),
        }
    }

    /// Vets `url` fully, resolving its host now: for answering a caller why its URL is
    /// refused before anything is saved. The call itself is vetted again by the resolver.
    pub async fn vet(&self, url: &reqwest::Url) -> Result<(), OutboundError> {
        self.check_url(url)?;
        match url.host_str() {
            Some(host) if literal_ip(host).is_none() => {
                let port = url.port_or_known_default().unwrap_or(80);
                self.reach.resolve(host, port).await.map(|_| ())
            }
            _ => Ok(()),
        }
    }

    /// A request to `url`, which must pass [`Self::check_url`].
    pub fn request(
        &self,
        method: reqwest::Method,
        url: &str,
    ) -> Result<reqwest::RequestBuilder, OutboundError> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| OutboundError::BadUrl(format!("not a valid URL ({e})")))?;
        self.check_url(&parsed)?;
        Ok(self.client.request(method, parsed))
    }

    pub fn get(&self, url: &str) -> Result<reqwest::RequestBuilder, OutboundError> {
        self.request(reqwest::Method::GET, url)
    }

    pub fn post(&self, url: &str) -> Result<reqwest::RequestBuilder, OutboundError> {
        self.request(reqwest::Method::POST, url)
    }

    /// The inner client, for code outside this crate that builds its own requests to
    /// `base_url` (the remote embedder): the URL is checked here, and the resolver still
    /// vets every connection.
    pub fn client_for(&self, base_url: &str) -> Result<reqwest::Client, OutboundError> {
        let parsed = reqwest::Url::parse(base_url)
            .map_err(|e| OutboundError::BadUrl(format!("not a valid URL ({e})")))?;
        self.check_url(&parsed)?;
        Ok(self.client.clone())
    }

    /// The body, streamed so that a server that lies about (or omits) its length is cut off
    /// at the cap.
    pub async fn body(&self, res: reqwest::Response) -> Result<Vec<u8>, BodyError> {
        let max = self.max_body;
        if res.content_length().is_some_and(|l| l > max as u64) {
            return Err(BodyError::TooLarge(max));
        }
        let mut bytes = Vec::new();
        let mut stream = res.bytes_stream();
        while let Some(piece) = stream.next().await {
            let piece = piece.map_err(|e| BodyError::Failed(e.without_url().to_string()))?;
            if bytes.len() + piece.len() > max {
                return Err(BodyError::TooLarge(max));
            }
            bytes.extend_from_slice(&piece);
        }
        Ok(bytes)
    }

    /// The body as JSON; the error says what went wrong, without the URL.
    pub async fn json<T: serde::de::DeserializeOwned>(
        &self,
        res: reqwest::Response,
    ) -> Result<T, String> {
        let bytes = self.body(res).await.map_err(|e| e.to_string())?;
        serde_json::from_slice(&bytes).map_err(|e| format!("unreadable answer ({e})"))
    }

    /// The body as text for an error message: at most 64 KiB of it, never an error.
    pub async fn text(&self, res: reqwest::Response) -> String {
        let short = self.with_max_body(self.max_body.min(64 * 1024));
        short
            .body(res)
            .await
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
}

/// The policy's refusal inside a failed call's error chain, if that is why it failed.
pub fn refusal_in(e: &reqwest::Error) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(OutboundError::Refused(why)) = err.downcast_ref::<OutboundError>() {
            return Some(why.clone());
        }
        cur = err.source();
    }
    None
}

/// A failed call's message without its URL: the policy's refusal when that was the cause.
pub fn describe(e: reqwest::Error) -> String {
    match refusal_in(&e) {
        Some(why) => format!("refused by the outbound policy: {why}"),
        None => e.without_url().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn addresses_are_classed_forbidden_internal_or_public() {
        for s in [
            "169.254.169.254",
            "169.254.1.1",
            "fe80::1",
            "fd00:ec2::254",
            "0.0.0.0",
            "0.1.2.3",
            "::",
            "255.255.255.255",
            "224.0.0.1",
            "ff02::1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
            "100.100.100.200",
        ] {
            assert_eq!(class(ip(s)), Class::Forbidden, "{s}");
        }
        for s in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::127.0.0.1",
        ] {
            assert_eq!(class(ip(s)), Class::Internal, "{s}");
        }
        for s in ["93.184.216.34", "1.1.1.1", "2606:4700::1111"] {
            assert_eq!(class(ip(s)), Class::Public, "{s}");
        }
    }

    #[test]
    fn each_reach_allows_only_its_internal_addresses() {
        // config/default.toml's gateway.local_endpoint_networks
        let defaults = [
            "127.0.0.0/8",
            "::1/128",
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
        ]
        .map(str::to_string);
        let nets = parse_networks(&defaults).unwrap();
        let lan = Reach::Networks(nets);
        assert!(lan.refusal("h", ip("127.0.0.1")).is_none());
        assert!(lan.refusal("h", ip("192.168.1.9")).is_none());
        assert!(lan.refusal("h", ip("100.64.0.1")).is_some());
        assert!(lan.refusal("h", ip("169.254.169.254")).is_some());
        let public = Reach::Public {
            allow_hosts: vec!["127.0.0.1".into()],
        };
        assert!(public.refusal("h", ip("127.0.0.1")).is_none());
        assert!(public.refusal("h", ip("10.0.0.1")).is_some());
        assert!(public.refusal("h", ip("1.1.1.1")).is_none());
        assert!(Reach::Operator.refusal("h", ip("10.0.0.1")).is_none());
        assert!(Reach::Operator.refusal("h", ip("fe80::1")).is_some());
        assert!(Reach::Operator
            .refuse_name("metadata.google.internal.")
            .is_err());
        assert!(parse_networks(&["10.0.0.0/33".into()]).is_err());
        assert_eq!(parse_networks(&["10.0.0.7".into()]).unwrap().len(), 1);
    }
}
