//! What deskline counts and the process's metrics recorder, shared by HTTP and workers without
//! either importing the other (`/metrics` renders it in `observe`).

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static PROMETHEUS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide metrics recorder once; later calls reuse it (tests start several
/// services in one process).
pub fn metrics_handle() -> Option<&'static PrometheusHandle> {
    PROMETHEUS
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok().map(|_| handle)
        })
        .as_ref()
}

/// What made deskline create a ticket: the `origin` label of `deskline_tickets_created_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TicketOrigin {
    /// A call (its end, or its ringing when the source opens tickets on ring).
    Call,
    /// An AI or chat handoff.
    Handoff,
}

impl TicketOrigin {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            TicketOrigin::Call => "call",
            TicketOrigin::Handoff => "handoff",
        }
    }
}

/// Counts a ticket deskline created in Zendesk (not one it added to or found again).
pub fn ticket_created(source: &str, origin: TicketOrigin) {
    metrics::counter!("deskline_tickets_created_total",
        "source" => source.to_string(), "origin" => origin.as_str())
    .increment(1);
}
