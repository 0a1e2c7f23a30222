//! deskline's HTTP surface (ingress, admin, health, metrics) and its workers.

pub mod admin;
pub mod app;
pub mod auth;
pub mod config;
pub mod handoff_hook;
pub mod health;
pub mod http_error;
pub mod ingest_writer;
pub mod ingress;
pub mod leadership;
pub mod listener;
pub mod lookup;
pub mod observe;
pub mod periodic;
pub mod preflight;
pub mod preview;
pub mod provision;
pub mod recordings;
pub mod sessions;
pub mod state;
pub mod telemetry;
pub mod worker;
pub mod zendesk_hook;
