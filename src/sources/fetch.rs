//! Fetching URLs for ingest without becoming a proxy into private networks, through the
//! outbound policy (`crate::outbound`) with the public reach: http(s) only, every address a
//! host resolves to is checked (loopback, private and other internal ranges are refused
//! unless allow-listed in `sources.url_allow_hosts`; link-local and metadata always), the
//! connection is pinned to the checked addresses, redirects are followed by hand and each
//! hop checked again, size and time capped.

use std::time::Duration;

use crate::outbound::{self, BodyError, Outbound, OutboundError, Reach};

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

pub struct UrlFetcher {
    settings: FetchSettings,
    client: Outbound,
}

impl UrlFetcher {
    pub fn new(settings: FetchSettings) -> anyhow::Result<Self> {
        let client = Outbound::new(
            Reach::Public {
                allow_hosts: settings.allow_hosts.clone(),
            },
            settings.timeout,
            settings.max_bytes,
        )?;
        Ok(Self { settings, client })
    }

    /// Checks scheme and every resolved address now, for a clear 400; the client's resolver
    /// checks the addresses it connects to again.
    async fn vet(&self, url: &reqwest::Url) -> Result<(), FetchError> {
        self.client.vet(url).await.map_err(|e| match e {
            OutboundError::Refused(why) => FetchError::Blocked(format!(
                "url: {why}; the operator may allow-list an internal host that is not \
                 link-local or metadata in sources.url_allow_hosts"
            )),
            OutboundError::BadUrl(why) if why.starts_with("only http") => {
                FetchError::Blocked(format!(
                    "url: only http and https URLs can be ingested, not {}",
                    url.scheme()
                ))
            }
            OutboundError::BadUrl(why) => FetchError::Blocked(format!("url: {why}")),
            OutboundError::Unresolved(why) => FetchError::Failed(format!("url: {why}")),
        })
    }

    pub async fn fetch(&self, raw: &str) -> Result<Fetched, FetchError> {
        let mut url = reqwest::Url::parse(raw)
            .map_err(|e| FetchError::Blocked(format!("url: not a valid URL ({e})")))?;
        for _ in 0..=self.settings.max_redirects {
            self.vet(&url).await?;
            let res = self
                .client
                .get(url.as_str())
                .map_err(|e| FetchError::Blocked(format!("url: {e}")))?
                .send()
                .await
                .map_err(|e| match outbound::refusal_in(&e) {
                    Some(why) => FetchError::Blocked(format!("url: {why}")),
                    None => FetchError::Failed(format!(
                        "url: fetching {url} failed: {}",
                        e.without_url()
                    )),
                })?;
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
            let media_type = res
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let bytes = self.client.body(res).await.map_err(|e| match e {
                BodyError::TooLarge(n) => FetchError::TooLarge(n),
                BodyError::Failed(why) => {
                    FetchError::Failed(format!("url: reading {url} failed: {why}"))
                }
            })?;
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
}
