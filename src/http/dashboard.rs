//! The dashboard: the web app in `web/`, built at build time (`make setup` runs its npm build)
//! and embedded in the binary (`build.rs`), served at `/admin` with `/` redirecting there. No
//! CDN: every asset comes from here, so it works offline. Paths under `/admin` that are no
//! file are the app's own pages: they get `index.html` (the app routes on the client). The
//! API under `/admin/v1` is never shadowed: an unknown API path is the API's JSON 404.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use crate::error::ApiError;
use crate::state::AppState;

mod assets {
    include!(concat!(env!("OUT_DIR"), "/dashboard_assets.rs"));
}

pub fn routes(_state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::temporary("/admin/") }))
        .route("/admin", get(|| async { Redirect::temporary("/admin/") }))
        .route("/admin/", get(|| async { page("index.html") }))
        .route("/admin/{*path}", get(asset))
}

async fn asset(Path(path): Path<String>) -> Response {
    if path.starts_with("v1/") || path == "v1" {
        return crate::http::middleware::error_response(
            &format!("/admin/{path}"),
            ApiError::NotFound("Route"),
        );
    }
    if find(&path).is_some() {
        return page(&path);
    }
    if path.starts_with("assets/") {
        // A missing script or stylesheet is a 404, not the app's page served as one.
        return (StatusCode::NOT_FOUND, "No such asset").into_response();
    }
    page("index.html")
}

fn find(path: &str) -> Option<&'static [u8]> {
    assets::ASSETS
        .iter()
        .find(|(name, _)| *name == path)
        .map(|(_, bytes)| *bytes)
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}

/// One embedded file; hashed assets are cached for a year, `index.html` never.
fn page(path: &str) -> Response {
    let Some(bytes) = find(path) else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "The dashboard was not built into this binary: run `make setup` (it runs `npm run build` in web/), then build Cairn again.",
        )
            .into_response();
    };
    let cache = if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_get_their_content_type() {
        assert_eq!(
            content_type("assets/index-abc.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("x.unknown"), "application/octet-stream");
    }
}
