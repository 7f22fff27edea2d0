//! Fetching URLs for ingest without becoming a proxy into private networks: http(s) only,
//! every address a host resolves to is checked (loopback, private, link-local, metadata and
//! other internal ranges are refused unless allow-listed), the connection is pinned to the
//! checked address, redirects are followed by hand and checked again, size and time capped.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use futures::StreamExt;

#[derive(Debug, Clone)]
pub struct FetchSettings {
    pub allow_hosts: Vec<String>,
    pub max_bytes: usize,
    pub timeout: Duration,
    pub max_redirects: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The URL is not acceptable (HTTP 400).
    #[error("{0}")]
    Blocked(String),
    /// The remote end failed or sent something unusable (HTTP 422).
    #[error("{0}")]
    Failed(String),
    #[error("the response is larger than {0} bytes")]
    TooLarge(usize),
}

pub struct Fetched {
    pub bytes: Vec<u8>,
    pub media_type: Option<String>,
    pub final_url: String,
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (64..128).contains(&o[1])) // carrier-grade NAT
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
        || (o[0] == 198 && (18..20).contains(&o[1]))
        || o[0] >= 240
}

/// Whether `ip` is an address a server-side fetch must not reach by default.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return internal_v4(v4);
            }
            let seg = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00 // unique local
                || (seg[0] & 0xffc0) == 0xfe80 // link local
                || (seg[0] == 0x2001 && seg[1] == 0x0db8) // documentation
                || (seg[0] == 0x64 && seg[1] == 0xff9b) // NAT64
                || v6 == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x254) // AWS metadata (v6)
        }
    }
}

pub struct UrlFetcher {
    settings: FetchSettings,
}

impl UrlFetcher {
    pub fn new(settings: FetchSettings) -> Self {
        Self { settings }
    }

    fn allowed(&self, host: &str, ip: Option<IpAddr>) -> bool {
        self.settings.allow_hosts.iter().any(|a| {
            a.eq_ignore_ascii_case(host)
                || ip.is_some_and(|ip| a.parse::<IpAddr>().ok() == Some(ip))
        })
    }

    /// Checks scheme and every resolved address; returns the address to connect to.
    async fn vet(&self, url: &reqwest::Url) -> Result<SocketAddr, FetchError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(FetchError::Blocked(format!(
                "url: only http and https URLs can be ingested, not {}",
                url.scheme()
            )));
        }
        let host = url
            .host_str()
            .ok_or_else(|| FetchError::Blocked("url: the URL has no host".into()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = url.port_or_known_default().unwrap_or(80);
        let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((host.as_str(), port))
                .await
                .map_err(|e| FetchError::Failed(format!("url: cannot resolve {host}: {e}")))?
                .collect(),
        };
        let first = *addrs
            .first()
            .ok_or_else(|| FetchError::Failed(format!("url: {host} resolves to no address")))?;
        for addr in &addrs {
            if is_internal(addr.ip()) && !self.allowed(&host, Some(addr.ip())) {
                return Err(FetchError::Blocked(format!(
                    "url: {host} resolves to {}, an internal address (loopback, private, link-local \
                     or metadata); ask the operator to allow-list it in sources.url_allow_hosts",
                    addr.ip()
                )));
            }
        }
        Ok(first)
    }

    pub async fn fetch(&self, raw: &str) -> Result<Fetched, FetchError> {
        let mut url = reqwest::Url::parse(raw)
            .map_err(|e| FetchError::Blocked(format!("url: not a valid URL ({e})")))?;
        for _ in 0..=self.settings.max_redirects {
            let addr = self.vet(&url).await?;
            let host = url.host_str().unwrap_or_default().to_string();
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                // A proxy would resolve the host again and undo the address check.
                .no_proxy()
                .timeout(self.settings.timeout)
                .resolve(&host, addr)
                .user_agent(concat!("cairn/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| FetchError::Failed(e.to_string()))?;
            let res = client
                .get(url.clone())
                .send()
                .await
                .map_err(|e| FetchError::Failed(format!("url: fetching {url} failed: {e}")))?;
            if res.status().is_redirection() {
                let location = res
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| FetchError::Failed("url: redirect without a Location".into()))?;
                url = url
                    .join(location)
                    .map_err(|e| FetchError::Failed(format!("url: bad redirect target ({e})")))?;
                continue;
            }
            if !res.status().is_success() {
                return Err(FetchError::Failed(format!(
                    "url: {url} answered {}",
                    res.status()
                )));
            }
            if res
                .content_length()
                .is_some_and(|l| l > self.settings.max_bytes as u64)
            {
                return Err(FetchError::TooLarge(self.settings.max_bytes));
            }
            let media_type = res
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let bytes = self.read_body(res, &url).await?;
            return Ok(Fetched {
                bytes,
                media_type,
                final_url: url.to_string(),
            });
        }
        Err(FetchError::Failed(format!(
            "url: more than {} redirects",
            self.settings.max_redirects
        )))
    }

    /// The body, streamed so that a server that lies about (or omits) its length is cut off
    /// at `max_bytes`.
    async fn read_body(
        &self,
        res: reqwest::Response,
        url: &reqwest::Url,
    ) -> Result<Vec<u8>, FetchError> {
        let mut bytes = Vec::new();
        let mut stream = res.bytes_stream();
        while let Some(piece) = stream.next().await {
            let piece =
                piece.map_err(|e| FetchError::Failed(format!("url: reading {url} failed: {e}")))?;
            if bytes.len() + piece.len() > self.settings.max_bytes {
                return Err(FetchError::TooLarge(self.settings.max_bytes));
            }
            bytes.extend_from_slice(&piece);
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::is_internal;

    #[test]
    fn internal_ranges_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700::1111"] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }
}
