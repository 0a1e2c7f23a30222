//! The Zendesk request budget shared by every instance on one database. Zendesk counts requests
//! per account, so instances that each kept to the plan's rate on their own would exceed it
//! together; each request therefore also takes a slot from buckets in the store, sized like the
//! client's own per-process limiter (which stays in front, so one process never polls the
//! database for a slot its own limiter would refuse anyway).

use std::time::Duration;

use deskline_store::{RateQuota, Store};
use deskline_zendesk::{Endpoint, ZendeskClient, ZendeskConfig};

use crate::state::Clock;

/// The buckets of one Zendesk account.
#[derive(Clone, Debug)]
pub struct SharedBudget {
    account: (String, RateQuota),
    create_or_update: (String, RateQuota),
    ticket_updates: (String, RateQuota),
}

impl SharedBudget {
    /// The budget of the account at `host`: `requests_per_minute` in all, of which
    /// `ticket_updates_per_minute` ticket updates, and one `create_or_update` of a user per
    /// 1.1 s, with the bursts the client's own limiter allows.
    pub fn new(host: &str, requests_per_minute: u32, ticket_updates_per_minute: u32) -> Self {
        let bucket = |what: &str| format!("zendesk:{host}:{what}");
        let per_minute = requests_per_minute.max(1);
        // Fixed windows at Zendesk: the sustained update rate leaves room for the burst, as
        // in the client's limiter, so no window ever holds more than the limit.
        let updates = ticket_updates_per_minute.max(2);
        let update_burst = updates.div_ceil(10).min(updates - 1);
        SharedBudget {
            account: (
                bucket("requests"),
                RateQuota::per_minute(per_minute, per_minute.div_ceil(6)),
            ),
            create_or_update: (
                bucket("create_or_update_user"),
                RateQuota {
                    interval: Duration::from_millis(1100),
                    burst: 1,
                },
            ),
            ticket_updates: (
                bucket("ticket_updates"),
                RateQuota::per_minute(updates - update_burst, update_burst),
            ),
        }
    }

    /// The budget of the account `client` talks to, at the rates of `config`.
    pub fn for_client(client: &ZendeskClient, config: &ZendeskConfig) -> Self {
        Self::new(
            &budget_host(client),
            config.requests_per_minute,
            config.ticket_updates_per_minute,
        )
    }

    /// The buckets a request to `endpoint` draws on, the endpoint's last: the request goes
    /// out right after its scarcest slot, not a wait on another bucket later.
    fn buckets(&self, endpoint: Endpoint) -> Vec<&(String, RateQuota)> {
        match endpoint {
            Endpoint::General => vec![&self.account],
            Endpoint::CreateOrUpdateUser => vec![&self.account, &self.create_or_update],
            Endpoint::TicketUpdate => vec![&self.account, &self.ticket_updates],
        }
    }

    /// Waits until every bucket of `endpoint` has granted one slot. When the store cannot be
    /// written the request goes on under the per-process limit alone: an unavailable database
    /// must not also stop the requests that could drain the work.
    pub async fn take(&self, store: &dyn Store, clock: &dyn Clock, endpoint: Endpoint) {
        for (bucket, quota) in self.buckets(endpoint) {
            loop {
                match store.take_rate_slot(bucket, *quota, clock.now()).await {
                    Ok(None) => break,
                    Ok(Some(wait)) => tokio::time::sleep(wait).await,
                    Err(e) => {
                        tracing::warn!(error = %e, bucket, "cannot take a slot of the shared Zendesk budget; sending under this process's limit only");
                        break;
                    }
                }
            }
        }
    }
}

/// The account `client` talks to, as its buckets name it: the host (with the port, which only
/// a test double has), so every instance and command of one account shares the buckets.
pub fn budget_host(client: &ZendeskClient) -> String {
    let base = client.base_url();
    match (base.host_str(), base.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_string(),
        (None, _) => base.as_str().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use deskline_store::SqliteStore;

    use super::*;
    use crate::state::SystemClock;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_instances_share_one_budget() {
        let dir = tempfile::TempDir::new().expect("temporary directory");
        let path = dir.path().join("shared.db");
        let mut instances = Vec::new();
        for _ in 0..2 {
            let store: Arc<dyn Store> = Arc::new(
                SqliteStore::open(&path)
                    .await
                    .expect("open the shared file"),
            );
            instances.push(store);
        }
        // 600 a minute is one per 100 ms, with a burst of 100: spend the burst first.
        let budget = SharedBudget::new("example.zendesk.com", 600, 100);
        let clock = SystemClock;
        for _ in 0..100 {
            budget.take(&*instances[0], &clock, Endpoint::General).await;
        }
        // Each instance now sends three more: six in all need about 600 ms, not 300 ms.
        let started = Instant::now();
        let mut takers = Vec::new();
        for store in &instances {
            let (store, budget) = (store.clone(), budget.clone());
            takers.push(tokio::spawn(async move {
                for _ in 0..3 {
                    budget.take(&*store, &SystemClock, Endpoint::General).await;
                }
            }));
        }
        for taker in takers {
            taker.await.expect("taker");
        }
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(450),
            "six requests at 10/s went out in {took:?}"
        );
    }

    #[test]
    fn each_endpoint_draws_on_the_account_and_its_own_bucket() {
        let budget = SharedBudget::new("acme.zendesk.com", 700, 100);
        let names = |e| {
            budget
                .buckets(e)
                .iter()
                .map(|(name, _)| name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(Endpoint::General),
            ["zendesk:acme.zendesk.com:requests"]
        );
        assert_eq!(
            names(Endpoint::TicketUpdate),
            [
                "zendesk:acme.zendesk.com:requests",
                "zendesk:acme.zendesk.com:ticket_updates"
            ]
        );
        assert_eq!(budget.account.1, RateQuota::per_minute(700, 117));
        assert_eq!(budget.ticket_updates.1, RateQuota::per_minute(90, 10));
    }
}
