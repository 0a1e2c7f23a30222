//! The shared request budget: a bucket grants its burst, then one request per interval, to all
//! its takers together, and says how long a refused one should wait.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deskline_store::{RateQuota, Store};

use super::{at, t0, Harness};

/// `ms` milliseconds after [`t0`].
fn at_ms(ms: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::milliseconds(ms)
}

async fn take(
    store: &Arc<dyn Store>,
    bucket: &str,
    quota: RateQuota,
    now: DateTime<Utc>,
) -> Option<Duration> {
    store
        .take_rate_slot(bucket, quota, now)
        .await
        .expect("take_rate_slot")
}

pub async fn a_bucket_grants_its_burst_then_its_rate(h: &dyn Harness) {
    let store = h.open().await;
    // One a second, three at once.
    let quota = RateQuota::per_minute(60, 3);
    for i in 0..3 {
        assert_eq!(
            take(&store, "zendesk", quota, at(0)).await,
            None,
            "burst {i}"
        );
    }
    assert_eq!(
        take(&store, "zendesk", quota, at(0)).await,
        Some(Duration::from_secs(1)),
        "the fourth waits for the next slot"
    );
    assert_eq!(
        take(&store, "zendesk", quota, at_ms(400)).await,
        Some(Duration::from_millis(600))
    );
    assert_eq!(take(&store, "zendesk", quota, at(1)).await, None);
    assert!(take(&store, "zendesk", quota, at(1)).await.is_some());
    // Another bucket is another budget.
    assert_eq!(take(&store, "zendesk:users", quota, at(1)).await, None);
    // After a quiet spell the whole burst is back, and no more.
    for i in 0..3 {
        assert_eq!(
            take(&store, "zendesk", quota, at(100)).await,
            None,
            "burst {i}"
        );
    }
    assert!(take(&store, "zendesk", quota, at(100)).await.is_some());
    // A clock that went back (or another host's, running ahead) does not hold every request
    // until it catches up, nor buys a new burst: one request per interval from the earlier time.
    assert_eq!(take(&store, "zendesk", quota, at(10)).await, None);
    assert_eq!(
        take(&store, "zendesk", quota, at(10)).await,
        Some(Duration::from_secs(1))
    );
    assert_eq!(take(&store, "zendesk", quota, at(11)).await, None);

    // Kept in the database: a restarted instance goes on with the same bucket.
    drop(store);
    let store = h.open().await;
    assert!(take(&store, "zendesk", quota, at(11)).await.is_some());
}

pub async fn concurrent_takers_never_exceed_the_rate(h: &dyn Harness) {
    // Two instances on one database, each with several requests waiting at every instant.
    let instances = [h.open().await, h.open().await];
    let quota = RateQuota::per_minute(60, 3);
    let mut granted = 0;
    // Five seconds in steps of 100 ms: the burst at 0, then one at each whole second.
    for step in 0..50 {
        let now = at_ms(step * 100);
        let mut takers = Vec::new();
        for store in &instances {
            for _ in 0..3 {
                let store = store.clone();
                takers.push(tokio::spawn(async move {
                    take(&store, "zendesk", quota, now).await.is_none()
                }));
            }
        }
        for taker in takers {
            if taker.await.expect("taker") {
                granted += 1;
            }
        }
        let allowed = 3 + step / 10;
        assert!(
            granted <= allowed,
            "{granted} granted by {}ms, the quota allows {allowed}",
            step * 100
        );
    }
    assert_eq!(granted, 3 + 4, "every slot the quota has is used");
}
