//! The behaviour every `Store` implementation must have, written once against the trait.
//!
//! Each test is an async function taking a [`Harness`]; a backend's test file implements the
//! harness and instantiates everything with [`store_suite!`], so a new backend (Postgres) gets
//! every test by construction and cannot forget one.

pub mod batch;
pub mod claim;
pub mod conversations;
pub mod ingest;
pub mod leases;
pub mod lifecycle;
pub mod rate;
pub mod records;
pub mod retention;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
use deskline_store::{NewInboundEvent, NewJob, Store};
use serde_json::json;

/// Opens one backend's database for one test.
#[async_trait]
pub trait Harness: Send + Sync {
    /// Opens the test's database. Opening again after dropping every store opened before must
    /// show the same data: that is a process restart.
    async fn open(&self) -> Arc<dyn Store>;
}

/// Instantiates every suite test as a `#[tokio::test]` for the harness `$harness`
/// (an expression evaluated afresh in each test, so each test gets its own database).
#[macro_export]
macro_rules! store_suite {
    ($harness:expr) => {
        $crate::store_suite!(@module $harness; ingest {
            stores_event_and_jobs,
            duplicate_writes_nothing,
            dedupe_key_is_per_source,
            concurrent_duplicates_store_once,
            failed_job_insert_stores_nothing,
            list_events_filters_and_pages,
        });
        $crate::store_suite!(@module $harness; batch {
            batch_answers_each_item_in_order,
            duplicates_inside_and_across_batches,
            a_bad_item_fails_alone,
            unique_jobs_across_a_batch,
            an_empty_batch_answers_nothing,
            concurrent_batches_store_each_delivery_once,
        });
        $crate::store_suite!(@module $harness; claim {
            claims_due_jobs_in_order,
            scheduled_at_is_respected,
            concurrent_claimers_never_share_a_job,
            paused_queue_yields_nothing_until_the_pause_ends,
            ordering_key_serialises_jobs,
            unique_jobs_are_inserted_once,
        });
        $crate::store_suite!(@module $harness; lifecycle {
            retry_then_discard_after_max_attempts,
            discard_keeps_the_reason,
            snooze_keeps_the_attempt_count,
            rescue_returns_stale_running_jobs,
            cancel_and_retry_now_rules,
            transitions_on_a_missing_job_are_not_found,
            attempts_are_recorded_with_the_job,
            list_and_count_jobs,
        });
        $crate::store_suite!(@module $harness; leases {
            renewed_leases_are_not_rescued,
            a_lapsed_lease_can_neither_settle_nor_renew,
            settle_records_each_outcome,
            one_holder_at_a_time_gets_the_leader_lease,
        });
        $crate::store_suite!(@module $harness; rate {
            a_bucket_grants_its_burst_then_its_rate,
            concurrent_takers_never_exceed_the_rate,
        });
        $crate::store_suite!(@module $harness; retention {
            pruning_removes_finished_work_and_keeps_dead_letters,
            pruning_goes_in_bounded_batches,
            the_database_stays_bounded_under_continuous_load,
        });
        $crate::store_suite!(@module $harness; conversations {
            conversations_save_and_find,
            open_phone_sessions_match_exactly,
        });
        $crate::store_suite!(@module $harness; records {
            links_upsert_get_delete,
            directory_replace_and_lookup,
            agent_mismatches_are_counted_and_resolved,
            reopening_keeps_everything,
            health_answers,
        });
    };
    (@module $harness:expr; $module:ident { $($test:ident),* $(,)? }) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let harness = $harness;
                    $crate::suite::$module::$test(&harness).await;
                }
            )*
        }
    };
}

/// The suite's fixed "now": tests move time by passing later instants, never by sleeping.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0)
        .single()
        .expect("a valid fixed date")
}

/// `secs` seconds after [`t0`].
pub fn at(secs: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(secs)
}

/// A MyOperator-like delivery with the given dedupe key.
pub fn event(source: &str, dedupe_key: &str) -> NewInboundEvent {
    NewInboundEvent {
        source: source.to_owned(),
        kind: "call.completed".to_owned(),
        dedupe_key: dedupe_key.to_owned(),
        received_at: t0(),
        headers: json!({"content-type": "application/json"}),
        raw_body: format!(r#"{{"call_id":"{dedupe_key}"}}"#).into_bytes(),
        normalized: json!({"call_id": dedupe_key, "direction": "inbound"}),
    }
}

/// A job on the `zendesk` queue, due at [`t0`].
pub fn job(kind: &str) -> NewJob {
    NewJob::new(kind, "zendesk", json!({"kind": kind}), t0())
}
