//! deskline's HTTP surface (ingress, admin, health, metrics) and its workers.

pub mod config;
