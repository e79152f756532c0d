//! One integration-test binary: every test drives the real HTTP server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod bad_input;
mod conformance;
mod isolation;
mod pagination;
mod requests;
mod streams;
