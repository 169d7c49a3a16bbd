//! devserve's integration tests: one binary, a real server on port 0 per test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

/// The chat example's backend, served by the tests on port 0.
#[path = "../../examples/chat/server.rs"]
mod chat;

/// The vote example's backend.
#[path = "../../examples/vote/server.rs"]
mod vote;

mod backend;
mod builds;
mod cli;
mod files;
mod hardening;
mod headers;
mod https;
mod injection;
mod layer;
mod polish;
mod precompressed;
mod proxy;
mod reload;
mod security;
mod triggers;
mod watching;
