//! One integration-test binary: every test drives the real HTTP server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;
mod mcp_server;

mod agent_runs;
mod architecture;
mod attachments;
mod bad_input;
mod conformance;
mod fake_llm;
mod human;
mod isolation;
mod mcp;
mod pages;
mod pagination;
mod requests;
mod streams;
