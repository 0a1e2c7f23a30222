//! deskline's typed client for the Zendesk Support API: token auth, a client-side rate budget,
//! errors classified for the job queue, idempotent ticket creation, pagination to the end, and
//! webhook signature verification.
//!
//! It is written from Zendesk's documents and OpenAPI file, independently of the sandbox it is
//! tested against, so the two cannot share a mistake.

#![warn(missing_docs)]

pub mod budget;
pub mod client;
pub mod config;
pub mod error;
pub mod gate;
pub mod signature;
pub mod types;

pub use budget::{BudgetSnapshot, Endpoint, RateBudget};
pub use client::ZendeskClient;
pub use config::{base_url_for_subdomain, ConfigError, Secret, ZendeskConfig};
pub use error::ZendeskError;
pub use gate::{GateFuture, Reach, RequestGate};
pub use signature::SignatureError;
pub use types::*;
