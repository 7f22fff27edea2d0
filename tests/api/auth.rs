//! Accounts over HTTP: registration, login, refresh and the session cookie.
//! Each test starts the real binary ([`crate::common::TestApp`]).

use reqwest::{Method, Response};
use serde_json::{json, Value};

use crate::common::api::{error_message, header_of};
use crate::common::{json_of, TestApp};

fn refresh_cookie(res: &reqwest::Response) -> String {
    let set = res.headers()["set-cookie"].to_str().unwrap();
    assert!(set.contains("HttpOnly"), "{set}");
    set.split(';').next().unwrap().to_string()
}

/// `POST /api/auth/{register|login}` with an email and a password.
async fn post_credentials(app: &TestApp, route: &str, email: &str, password: &str) -> Response {
    let body = json!({"email": email, "password": password});
    app.post_public(&format!("/api/auth/{route}"), body).await
}

/// `POST /api/auth/{refresh|logout}` with the refresh cookie, if any.
async fn post_cookie(app: &TestApp, route: &str, cookie: Option<&String>) -> Response {
    let mut req = app.client.post(app.url(&format!("/api/auth/{route}")));
    if let Some(cookie) = cookie {
        req = req.header("cookie", cookie);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn registering_first_grants_no_operator_rights_and_the_setup_token_makes_the_admin() {
    let app = TestApp::spawn().await;
    let first = app.register("first@example.com").await;
    let me = json_of(app.get("/api/auth/me", &first).await).await;
    assert_eq!(me["role"], "reviewer");
    assert_eq!(me["email"], "first@example.com");
    assert_eq!(app.get("/v1/users", &first).await.status(), 403);

    let token = app
        .setup_token()
        .await
        .expect("a fresh server prints a setup token");
    let guess =
        json!({"setup_token": "guess", "email": "a@example.com", "password": "long-enough"});
    let wrong = app.post_public("/v1/setup", guess).await;
    assert_eq!(wrong.status(), 403);
    let admin = app.admin("ops@example.com").await;
    let me = json_of(app.get("/api/auth/me", &admin).await).await;
    assert_eq!(me["role"], "admin");
    let second = json!({"setup_token": token, "email": "b@example.com", "password": "long-enough"});
    let again = app.post_public("/v1/setup", second).await;
    assert_eq!(again.status(), 409, "the token works once");
}

#[tokio::test]
async fn register_login_and_me_round_trip() {
    let app = TestApp::spawn().await;
    let res = post_credentials(&app, "register", "Ann@Example.com", "long-enough").await;
    assert_eq!(res.status(), 200);
    assert!(refresh_cookie(&res).starts_with("cairn_refresh="));
    let body = json_of(res).await;
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["user"]["email"], "ann@example.com");

    let dup = post_credentials(&app, "register", "ann@example.com", "long-enough").await;
    assert_eq!(dup.status(), 409);

    let bad = post_credentials(&app, "login", "ann@example.com", "wrong-password").await;
    assert_eq!(bad.status(), 401);
    assert_eq!(json_of(bad).await["error"], "Invalid email or password");

    let ok = post_credentials(&app, "login", "ann@example.com", "long-enough").await;
    assert_eq!(ok.status(), 200);
    let token = json_of(ok).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let me = app.get("/api/auth/me", &token).await;
    assert_eq!(me.status(), 200);
    assert_eq!(json_of(me).await["email"], "ann@example.com");
}

#[tokio::test]
async fn short_passwords_and_bad_emails_are_rejected() {
    let app = TestApp::spawn().await;
    let res = post_credentials(&app, "register", "a@example.com", "short").await;
    assert!(error_message(res, 400).await.contains("password"));
    let res = post_credentials(&app, "register", "not-an-email", "long-enough").await;
    assert!(error_message(res, 400).await.contains("email"));
}

#[tokio::test]
async fn refresh_rotates_the_cookie_and_a_reused_refresh_token_is_refused() {
    let app = TestApp::spawn().await;
    let res = post_credentials(&app, "register", "r@example.com", "long-enough").await;
    let first_cookie = refresh_cookie(&res);

    let res = post_cookie(&app, "refresh", Some(&first_cookie)).await;
    assert_eq!(res.status(), 200);
    let second_cookie = refresh_cookie(&res);
    assert_ne!(first_cookie, second_cookie);
    let token = json_of(res).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(app.get("/api/auth/me", &token).await.status(), 200);

    // The rotated-away token is refused, and its reuse revokes the newer one too.
    let replay = post_cookie(&app, "refresh", Some(&first_cookie)).await;
    assert_eq!(replay.status(), 401);
    let after = post_cookie(&app, "refresh", Some(&second_cookie)).await;
    assert_eq!(after.status(), 401);

    let missing = post_cookie(&app, "refresh", None).await;
    assert_eq!(missing.status(), 401);
}

#[tokio::test]
async fn logout_revokes_the_refresh_token() {
    let app = TestApp::spawn().await;
    let res = post_credentials(&app, "register", "l@example.com", "long-enough").await;
    let cookie = refresh_cookie(&res);
    let out = post_cookie(&app, "logout", Some(&cookie)).await;
    assert_eq!(out.status(), 200);
    assert!(out.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let res = post_cookie(&app, "refresh", Some(&cookie)).await;
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn five_failed_logins_lock_the_ip_out_even_for_the_right_password() {
    let app = TestApp::spawn().await;
    app.register("victim@example.com").await;
    for _ in 0..5 {
        let res = post_credentials(&app, "login", "victim@example.com", "guess-guess").await;
        assert_eq!(res.status(), 401);
    }
    let res = post_credentials(&app, "login", "victim@example.com", "s3cret-password").await;
    assert_eq!(res.status(), 429);
    let retry: u64 = header_of(&res, "retry-after");
    assert!(retry > 800 && retry <= 900, "{retry}");
}

#[tokio::test]
async fn missing_or_invalid_credentials_get_401() {
    let app = TestApp::spawn().await;
    let res = app.request(Method::GET, "/api/auth/me", None, None).await;
    assert_eq!(res.status(), 401);
    let body: Value = json_of(res).await;
    assert_eq!(body["error"], "Missing Authorization header");
    for token in ["tok_unknown", "eyJhbGciOiJIUzI1NiJ9.e30.x", "garbage"] {
        let res = app.get("/v1/keys", token).await;
        assert_eq!(res.status(), 401, "{token}");
        assert_eq!(json_of(res).await["error"], "Invalid or expired credential");
    }
}
