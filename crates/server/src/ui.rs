//! The analysts' web UI: three files from `assets/`, compiled into the binary.
//!
//! `/` is the page, `/ui/app.js` its script and `/ui/app.css` its style; the script talks
//! to the native API under `/api/v1` on the same origin. Nothing is loaded from anywhere
//! else, and the Content-Security-Policy says so to the browser: only this origin, no
//! inline script or style, no plugins, no framing. That also blunts what hostile DNS data
//! could do if some day it reached the page as markup (the script never builds HTML from
//! strings).
//!
//! The files are not fingerprinted, so they go out with `Cache-Control: no-cache` and an
//! `ETag` (a hash of the bytes, computed at compile time): browsers revalidate each time
//! and get a `304` until the binary is upgraded.

use axum::Router;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// Only this origin; no inline code; `data:` images only for the page's empty favicon.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// One embedded file.
#[derive(Debug)]
struct Asset {
    body: &'static [u8],
    content_type: &'static str,
    etag: u64,
}

impl Asset {
    const fn new(body: &'static [u8], content_type: &'static str) -> Self {
        Asset {
            body,
            content_type,
            etag: fnv1a(body),
        }
    }
}

static INDEX: Asset = Asset::new(
    include_bytes!("../assets/index.html"),
    "text/html; charset=utf-8",
);
static APP_JS: Asset = Asset::new(
    include_bytes!("../assets/app.js"),
    "text/javascript; charset=utf-8",
);
static APP_CSS: Asset = Asset::new(
    include_bytes!("../assets/app.css"),
    "text/css; charset=utf-8",
);

/// FNV-1a, 64 bits: enough to tell two builds' files apart, and computable in a `const`.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

/// The UI's routes, to merge into the server's router (any state).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|h: HeaderMap| async move { serve(&INDEX, &h) }))
        .route(
            "/ui/app.js",
            get(|h: HeaderMap| async move { serve(&APP_JS, &h) }),
        )
        .route(
            "/ui/app.css",
            get(|h: HeaderMap| async move { serve(&APP_CSS, &h) }),
        )
}

fn serve(asset: &'static Asset, request: &HeaderMap) -> Response {
    let etag = format!("\"{:016x}\"", asset.etag);
    let fresh = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let t = t.trim();
            t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag
        });
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        asset.body.into_response()
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    let fixed: [(HeaderName, &'static str); 7] = [
        (header::CONTENT_TYPE, asset.content_type),
        (header::CACHE_CONTROL, "no-cache"),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    for (name, value) in fixed {
        h.insert(name, HeaderValue::from_static(value));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

    /// Serves [`routes`] on loopback and sends one raw HTTP/1.1 request.
    async fn get_raw(path: &str, extra: &str) -> Result<(u16, String, Vec<u8>)> {
        use std::io::{Read, Write};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move { axum::serve(listener, routes::<()>()).await });
        let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}\r\n");
        // A plain blocking client, so the test needs no more tokio features than the crate.
        let raw = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
            let mut conn = std::net::TcpStream::connect(addr)?;
            conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
            conn.write_all(req.as_bytes())?;
            let mut raw = Vec::new();
            conn.read_to_end(&mut raw)?;
            Ok(raw)
        })
        .await??;
        server.abort();
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or("no end of headers")?;
        let head = String::from_utf8(raw[..split].to_vec())?.to_ascii_lowercase();
        let status = head.split_whitespace().nth(1).ok_or("no status")?.parse()?;
        Ok((status, head, raw[split + 4..].to_vec()))
    }

    #[tokio::test]
    async fn serves_each_file_with_its_type_and_strict_headers() -> Result {
        for (path, asset) in [
            ("/", &INDEX),
            ("/ui/app.js", &APP_JS),
            ("/ui/app.css", &APP_CSS),
        ] {
            let (status, head, body) = get_raw(path, "").await?;
            assert_eq!(status, 200, "{path}");
            assert_eq!(body, asset.body, "{path}");
            let has = |line: &str| head.lines().any(|l| l.trim() == line.to_ascii_lowercase());
            assert!(
                has(&format!("content-type: {}", asset.content_type)),
                "{path}: {head}"
            );
            assert!(has("cache-control: no-cache"), "{head}");
            assert!(
                has(&format!(
                    "content-security-policy: {CONTENT_SECURITY_POLICY}"
                )),
                "{head}"
            );
            assert!(has("x-content-type-options: nosniff"), "{head}");
            assert!(has(&format!("etag: \"{:016x}\"", asset.etag)), "{head}");
        }
        Ok(())
    }

    #[tokio::test]
    async fn matching_etag_answers_not_modified() -> Result {
        let tag = format!("\"{:016x}\"", APP_JS.etag);
        let (status, _, body) = get_raw("/ui/app.js", &format!("If-None-Match: {tag}\r\n")).await?;
        assert_eq!(status, 304);
        assert!(body.is_empty());
        let (status, _, _) = get_raw("/ui/app.js", "If-None-Match: \"0\"\r\n").await?;
        assert_eq!(status, 200);
        Ok(())
    }

    #[test]
    fn etags_differ_between_files() {
        assert_ne!(INDEX.etag, APP_JS.etag);
        assert_ne!(APP_JS.etag, APP_CSS.etag);
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    /// The page loads only its own two files, and no inline code that the CSP would block.
    #[test]
    fn page_loads_nothing_from_elsewhere() -> Result {
        let html = std::str::from_utf8(INDEX.body)?;
        let js = std::str::from_utf8(APP_JS.body)?;
        let css = std::str::from_utf8(APP_CSS.body)?;
        // The SVG namespace is a name, not a place anything is fetched from.
        let js = js.replace("'http://www.w3.org/2000/svg'", "");
        for text in [html, js.as_str(), css] {
            assert!(!text.contains("http://") && !text.contains("https://"));
            assert!(!text.contains("@import") && !text.contains("url("));
        }
        assert!(html.contains(r#"<script src="/ui/app.js" defer></script>"#));
        assert!(html.contains(r#"<link rel="stylesheet" href="/ui/app.css">"#));
        assert_eq!(html.matches("<script").count(), 1);
        assert!(!html.contains("<style") && !html.contains(" style="));
        // No inline event handlers (` onclick=` and the like).
        for (i, _) in html.match_indices(" on") {
            let rest = &html[i + 3..];
            let word = rest.bytes().take_while(u8::is_ascii_lowercase).count();
            assert!(
                rest.as_bytes().get(word) != Some(&b'='),
                "inline handler at {i}"
            );
        }
        Ok(())
    }

    /// Hostile DNS data must never be parsed as markup.
    #[test]
    fn script_never_builds_html_from_strings() -> Result {
        let js = std::str::from_utf8(APP_JS.body)?;
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!js.contains(sink), "app.js uses {sink}");
        }
        Ok(())
    }
}
