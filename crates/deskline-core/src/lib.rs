//! deskline's domain: what a call is, phone numbers, source adapters that turn provider
//! payloads into call records, and the pure ticket planner. No IO happens here.

pub mod call;
pub mod conversation;
pub mod directory;
pub mod event;
pub mod handoff;
pub mod hours;
pub mod phone;
pub mod plan;
pub mod recording;
pub mod sources;
pub mod template;
pub mod threading;
