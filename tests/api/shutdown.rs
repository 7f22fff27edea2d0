//! Graceful shutdown on SIGTERM.
//! Each test starts the real binary ([`crate::common::TestApp`]).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::json;

use crate::common::TestApp;

#[tokio::test]
async fn sigterm_lets_an_in_flight_request_finish_and_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut app = TestApp::spawn_on(&data, &[]).await;
    let session = app.register("persist@example.com").await;
    app.create_workspace(&session, "kept").await;

    // A request whose body has not arrived yet is in flight when the signal comes.
    let addr = app.base.trim_start_matches("http://").to_string();
    let body = json!({"email": "persist@example.com", "password": "s3cret-password"}).to_string();
    let mut stream = TcpStream::connect(&addr).unwrap();
    write!(
        stream,
        "POST /api/auth/login HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    app.signal("TERM");
    std::thread::sleep(Duration::from_millis(300));
    stream.write_all(body.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");

    let status = app
        .wait_exit(Duration::from_secs(20))
        .expect("exits after SIGTERM");
    assert!(status.success(), "{status}");
    drop(app);

    let again = TestApp::spawn_on(&data, &[]).await;
    let token = again.login("persist@example.com").await;
    assert_eq!(again.get("/v1/workspaces/kept", &token).await.status(), 200);
}
