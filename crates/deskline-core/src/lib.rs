//! deskline's domain: what a call is, phone numbers, source adapters that turn provider
//! payloads into call records, and the pure ticket planner. No IO happens here.

pub mod phone;
pub mod call;
pub mod sources;
