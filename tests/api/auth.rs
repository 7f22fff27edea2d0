//! Accounts over HTTP: registration, login, refresh and the session cookie.
//! Each test starts the real binary ([`crate::common::TestApp`]).

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{json_of, TestApp};

fn refresh_cookie(res: &reqwest::Response) -> String {
    let set = res.headers()["set-cookie"].to_str().unwrap();
    assert!(set.contains("HttpOnly"), "{set}");
    set.split(';').next().unwrap().to_string()
}

#[tokio::test]
async fn first_user_is_admin_and_later_users_are_not() {
    let app = TestApp::spawn().await;
    let first = app.register("first@example.com").await;
    let me = json_of(app.get("/api/auth/me", &first).await).await;
    assert_eq!(me["role"], "admin");
    assert_eq!(me["email"], "first@example.com");
    let second = app.register("second@example.com").await;
    let me = json_of(app.get("/api/auth/me", &second).await).await;
    assert_eq!(me["role"], "user");
}

#[tokio::test]
async fn register_login_and_me_round_trip() {
    let app = TestApp::spawn().await;
    let res = app
        .request(
            Method::POST,
            "/api/auth/register",
            None,
            Some(json!({"email": "Ann@Example.com", "password": "long-enough"})),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(refresh_cookie(&res).starts_with("cairn_refresh="));
    let body = json_of(res).await;
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["user"]["email"], "ann@example.com");

    let dup = app
        .request(
            Method::POST,
            "/api/auth/register",
            None,
            Some(json!({"email": "ann@example.com", "password": "long-enough"})),
        )
        .await;
    assert_eq!(dup.status(), 409);

    let bad = app
        .request(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"email": "ann@example.com", "password": "wrong-password"})),
        )
        .await;
    assert_eq!(bad.status(), 401);
    assert_eq!(json_of(bad).await["error"], "Invalid email or password");

    let ok = app
        .request(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"email": "ann@example.com", "password": "long-enough"})),
        )
        .await;
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
    let res = app
        .request(
            Method::POST,
            "/api/auth/register",
            None,
            Some(json!({"email": "a@example.com", "password": "short"})),
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(json_of(res).await["message"]
        .as_str()
        .unwrap()
        .contains("password"));
    let res = app
        .request(
            Method::POST,
            "/api/auth/register",
            None,
            Some(json!({"email": "not-an-email", "password": "long-enough"})),
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(json_of(res).await["message"]
        .as_str()
        .unwrap()
        .contains("email"));
}

#[tokio::test]
async fn refresh_rotates_the_cookie_and_a_reused_refresh_token_is_refused() {
    let app = TestApp::spawn().await;
    let res = app
        .request(
            Method::POST,
            "/api/auth/register",
            None,
            Some(json!({"email": "r@example.com", "password": "long-enough"})),
        )
        .await;
    let first_cookie = refresh_cookie(&res);

    let res = app
        .client
        .post(app.url("/api/auth/refresh"))
        .header("cookie", &first_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let second_cookie = refresh_cookie(&res);
    assert_ne!(first_cookie, second_cookie);
    let token = json_of(res).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(app.get("/api/auth/me", &token).await.status(), 200);

    // The rotated-away token is refused, and its reuse revokes the newer one too.
    let replay = app
        .client
        .post(app.url("/api/auth/refresh"))
        .header("cookie", &first_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 401);
    let after = app
        .client
        .post(app.url("/api/auth/refresh"))
        .header("cookie", &second_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401);

    let missing = app
        .client
        .post(app.url("/api/auth/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 401);
}

#[tokio::test]
async fn logout_revokes_the_refresh_token() {
    let app = TestApp::spawn().await;
    let res = app
        .request(
            Method::POST,
            "/api/auth/register",
            None,
            Some(json!({"email": "l@example.com", "password": "long-enough"})),
        )
        .await;
    let cookie = refresh_cookie(&res);
    let out = app
        .client
        .post(app.url("/api/auth/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 200);
    assert!(out.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let res = app
        .client
        .post(app.url("/api/auth/refresh"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn five_failed_logins_lock_the_ip_out_even_for_the_right_password() {
    let app = TestApp::spawn().await;
    app.register("victim@example.com").await;
    for _ in 0..5 {
        let res = app
            .request(
                Method::POST,
                "/api/auth/login",
                None,
                Some(json!({"email": "victim@example.com", "password": "guess-guess"})),
            )
            .await;
        assert_eq!(res.status(), 401);
    }
    let res = app
        .request(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"email": "victim@example.com", "password": "s3cret-password"})),
        )
        .await;
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
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
