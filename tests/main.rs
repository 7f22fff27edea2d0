//! Integration tests: the real `cairn` binary on a random port with a fresh data directory.
//! One test binary, so the service crate is linked once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api;
mod common;
