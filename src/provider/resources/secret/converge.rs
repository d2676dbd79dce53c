//! Many writers, one group: a full-list PUT that does not lose other writers' keys, and puts
//! back its own when another writer's PUT removed them.
//!
//! The API has no conditional write: `PUT /v1/secret-groups/{id}` replaces the key list, so a
//! PUT built from a listing drops every key another writer added after that listing was taken.
//! Within that, each round here
//! 1. lists the group immediately before the PUT (again for every retry: a list read before a
//!    wait is stale after it),
//! 2. sends the PUT once (the client does not repeat it with the old list),
//! 3. waits as long as the PUT took, then reads the group again: by then any PUT another writer
//!    built from a listing taken before this one landed has landed too (its listing's answer and
//!    its PUT travel the same way this PUT and this read do),
//! 4. and writes the keys of its own that are missing again, after a jittered backoff, for a
//!    bounded number of rounds.
//!
//! Writers that run at the same time so converge: in every round the last PUT keeps its keys,
//! and the others write theirs again. What a writer cannot rule out is that its own PUT removed
//! a key another writer added in the moment between its listing and its PUT, which it never
//! saw: when it saw other writers at work (keys appearing or vanishing around its write) it says
//! so, naming them ([`Activity`]).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::body::put_body;
use crate::client::{self, Client, SecretValue};
use crate::provider::remote::secrets::{ServerSecret, ServerSecrets, list_keys};

/// Rounds of list, PUT and re-read before the keys still missing are given up on. Each round
/// at least one of the writers racing in it keeps its keys, so this is room for eight writers
/// hitting the same moment, with backoff spreading them out.
pub const MAX_ROUNDS: u32 = 8;
/// The shortest wait before the re-read: the time another writer needs between its listing's
/// answer and its PUT (a few milliseconds of its own work), when the PUT itself was quicker.
const SETTLE_FLOOR: Duration = Duration::from_millis(5);
/// The longest backoff before a repair round.
const BACKOFF_CAP: Duration = Duration::from_secs(10);

/// What other writers were seen doing while this one wrote: the keys that appeared in the
/// group that this writer did not write, and those that vanished that it did not delete.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Activity {
    pub appeared: BTreeSet<String>,
    pub vanished: BTreeSet<String>,
}

impl Activity {
    pub fn is_empty(&self) -> bool {
        self.appeared.is_empty() && self.vanished.is_empty()
    }

    /// Notes what changed between the listing a PUT of `written` was built from and the
    /// re-read after it, other than the written keys themselves.
    fn note(&mut self, listed: &ServerSecrets, after: &ServerSecrets, written: &BTreeSet<&String>) {
        let others = |secrets: &ServerSecrets| -> BTreeSet<String> {
            secrets
                .keys()
                .filter(|key| !written.contains(key))
                .cloned()
                .collect()
        };
        let (before, now) = (others(listed), others(after));
        self.appeared.extend(now.difference(&before).cloned());
        self.vanished.extend(before.difference(&now).cloned());
    }
}

/// How a converging write ended.
#[derive(Debug)]
pub struct Converged {
    /// Each written key as the re-read that found it in place saw it.
    pub written: BTreeMap<String, ServerSecret>,
    /// Keys still missing after [`MAX_ROUNDS`] rounds: each time, another writer's PUT removed
    /// them again.
    pub missing: BTreeSet<String>,
    pub activity: Activity,
    pub rounds: u32,
}

/// Writes `writes` (key → value) into group `group_id`, whose keys were just listed as `listed`,
/// until each written key is found in place after a write or [`MAX_ROUNDS`] rounds are spent.
/// An error is the last PUT's or listing's when no round got through.
pub async fn write_converging(
    client: &Client,
    group_id: &str,
    mut listed: ServerSecrets,
    writes: &BTreeMap<String, SecretValue>,
) -> Result<Converged, client::Error> {
    let mut pending = writes.clone();
    let mut converged = Converged {
        written: BTreeMap::new(),
        missing: BTreeSet::new(),
        activity: Activity::default(),
        rounds: 0,
    };
    let mut failures = 0;
    loop {
        converged.rounds += 1;
        let started = Instant::now();
        if let Err(err) = client
            .set_secrets_once(group_id, &put_body(&listed, &pending))
            .await
        {
            // Worth a new round: a failure that may pass, and a refusal the next listing
            // explains (a key listed without a value was deleted meanwhile, and the API refuses
            // a list naming a key it does not hold). Anything else is the caller's.
            let transient = Client::is_transient(&err);
            let refused = matches!(err, client::Error::Validation { .. });
            if !(transient || refused) || converged.rounds >= MAX_ROUNDS {
                return Err(err);
            }
            if transient {
                if failures >= client.max_retries() {
                    return Err(err);
                }
                failures += 1;
                tokio::time::sleep(Client::retry_wait(failures)).await;
            }
            let relisted = list_keys(client, group_id).await?;
            if refused && relisted.keys().eq(listed.keys()) {
                // Nothing moved: the refusal is about what this write sends.
                return Err(err);
            }
            listed = relisted;
            continue;
        }
        let took = started.elapsed();
        tokio::time::sleep(took.max(SETTLE_FLOOR)).await;
        let after = list_keys(client, group_id).await?;
        let written_keys: BTreeSet<&String> = writes.keys().collect();
        converged.activity.note(&listed, &after, &written_keys);
        pending.retain(|key, _| match after.get(key) {
            Some(secret) => {
                converged.written.insert(key.clone(), secret.clone());
                false
            }
            None => true,
        });
        if pending.is_empty() || converged.rounds >= MAX_ROUNDS {
            converged.missing = pending.into_keys().collect();
            return Ok(converged);
        }
        tracing::debug!(
            group_id,
            round = converged.rounds,
            missing = pending.len(),
            "keys written were removed by a concurrent full-list write; writing them again"
        );
        tokio::time::sleep(repair_backoff(converged.rounds, took, fastrand::f64())).await;
        listed = list_keys(client, group_id).await?;
    }
}

/// The wait before repair round `round + 1`: "full jitter" over a step that starts at one list
/// and PUT (two of the PUT's durations) and doubles every round, so writers that collided
/// spread out instead of colliding again. `jitter` is in 0..1.
fn repair_backoff(round: u32, put_took: Duration, jitter: f64) -> Duration {
    let cycle = put_took.max(SETTLE_FLOOR) * 2;
    let step = cycle
        .saturating_mul(2u32.saturating_pow(round.saturating_sub(1)))
        .min(BACKOFF_CAP);
    step.mul_f64(jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(keys: &[&str]) -> ServerSecrets {
        keys.iter()
            .map(|key| {
                let secret = ServerSecret {
                    id: format!("id-{key}"),
                    version: 1,
                    active_deployments: None,
                };
                ((*key).to_owned(), secret)
            })
            .collect()
    }

    #[test]
    fn activity_is_what_others_added_or_removed() {
        let mine = "MINE".to_owned();
        let written = BTreeSet::from([&mine]);
        let mut activity = Activity::default();
        activity.note(&held(&["KEPT", "GONE"]), &held(&["KEPT", "MINE"]), &written);
        assert_eq!(activity.vanished, BTreeSet::from(["GONE".to_owned()]));
        assert!(activity.appeared.is_empty());
        activity.note(&held(&["KEPT"]), &held(&["KEPT", "NEW", "MINE"]), &written);
        assert_eq!(activity.appeared, BTreeSet::from(["NEW".to_owned()]));
        let mut alone = Activity::default();
        alone.note(&held(&["KEPT"]), &held(&["KEPT", "MINE"]), &written);
        assert!(
            alone.is_empty(),
            "a lone writer sees only its own keys move"
        );
    }

    #[test]
    fn repair_backoff_doubles_scales_with_the_put_and_is_capped() {
        let put = Duration::from_millis(300);
        assert_eq!(repair_backoff(1, put, 1.0), Duration::from_millis(600));
        assert_eq!(repair_backoff(3, put, 1.0), Duration::from_millis(2400));
        assert_eq!(repair_backoff(3, put, 0.5), Duration::from_millis(1200));
        assert_eq!(repair_backoff(1, put, 0.0), Duration::ZERO);
        assert_eq!(repair_backoff(30, put, 1.0), BACKOFF_CAP);
        assert_eq!(
            repair_backoff(1, Duration::ZERO, 1.0),
            SETTLE_FLOOR * 2,
            "a PUT quicker than the floor still backs off"
        );
    }
}
