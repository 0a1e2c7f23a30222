//! A local emulator of the part of the Zendesk Support API that deskline uses: tickets, users,
//! groups, ticket fields, webhooks and triggers, with Zendesk's authentication, validation
//! errors, idempotency, rate limits and signed webhook deliveries, plus fault injection.
//!
//! It is written from Zendesk's documentation and OpenAPI file and shares no code with
//! deskline's own Zendesk client, so the two cannot agree on the same mistake.

mod app;
mod auth;
mod change;
pub mod config;
mod delivery;
mod error;
pub mod faults;
mod idempotency;
mod limits;
mod model;
mod params;
mod persist;
mod render;
mod reqlog;
mod routes;
mod rules;
pub mod seed;
mod server;
mod tickets;

pub use config::{Plan, SandboxConfig, DEFAULT_ADMIN_EMAIL, DEFAULT_API_TOKEN, DEFAULT_PORT};
pub use faults::FaultSettings;
pub use seed::Seed;
pub use server::{start, SandboxHandle, StartError};
