//! Integration tests: the real `cairn` binary on a random port with a fresh data directory.
//! One test binary, so the service crate is linked once.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a failed unwrap, expect or panic is how a test reports a failure"
)]

mod api;
mod common;
