//! One module per area of the API; shared helpers live in `tests/common`.

mod actions;
mod auth;
mod bad_input;
mod cli;
mod cli_sources;
mod contract;
mod gateway;
mod gateway_catalog;
mod harness;
mod health;
mod isolation;
mod keys;
mod local_endpoints;
mod mcp;
mod memory;
mod openapi;
mod rate_limit;
mod recovery;
mod security_exposure;
mod security_extract;
mod security_money;
mod security_outbound;
mod security_roles;
mod shutdown;
mod sources;
mod workspaces;
