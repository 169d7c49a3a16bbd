//! devserve's integration tests: one binary, a real server on port 0 per test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod cli;
mod files;
mod injection;
mod proxy;
mod reload;
mod security;
mod watching;
