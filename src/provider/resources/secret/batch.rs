//! Coalesced writes: every `truefoundry_secret` write waiting for one group goes out in the same
//! full-list PUT.
//!
//! Terraform applies up to ten resources at once, so the resources of one group arrive together.
//! Each write joins its group's queue; the first to find no leader starts one (a task of its
//! own, so no apply waits for writes that came after it). The leader takes the group's write
//! lock (the one the group resource takes too), lets the queue fill, drains it, and only then
//! reads the keys the group holds, sends one PUT and reads the group again (`converge`: other
//! processes write to the group too), and answers each write on its own. It goes on while writes
//! wait, and stops when none do.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, oneshot};

use super::converge::{Activity, Converged, write_converging};
use crate::client::{self, SecretGroup, SecretValue};
use crate::diag::Diagnostics;
use crate::provider::ProviderContext;
use crate::provider::errors::of_api_error;
use crate::provider::remote::group::visible_to;
use crate::provider::remote::group::{group_name, secret_fqn};
use crate::provider::remote::secrets::{ServerSecret, list_keys};

/// Why these numbers: Terraform applies at most `-parallelism` resources at once (10 unless
/// told otherwise) and hands out the ready ones of a wave within a few milliseconds of each
/// other (each first goes through its own re-plan and hooks). So a full wave of 10 goes at once:
/// no more can come before it is answered. A smaller one (the last wave, or a configuration with
/// fewer resources) is in once the queue has been quiet for `QUIET`. Waiting costs one short
/// pause per PUT, while not waiting would split each wave into a PUT for the first arrival and
/// one for the rest. `MAX_GATHER` bounds the pause when arrivals keep trickling in (a higher
/// `-parallelism`). Both are small next to one API round trip to a real control plane (tens to
/// hundreds of milliseconds).
const TERRAFORM_PARALLELISM: usize = 10;
const QUIET: Duration = Duration::from_millis(15);
const MAX_GATHER: Duration = Duration::from_millis(100);

/// What a write learnt: the key as the server now has it, its reference, and who can see the
/// group (for the next "not found").
#[derive(Clone, Debug)]
pub struct Written {
    pub secret: ServerSecret,
    pub fqn: String,
    pub visible_to: BTreeSet<String>,
    /// For the apply to pass on: what other writers were seen doing (see `converge`).
    pub warnings: Diagnostics,
}

pub type Outcome = Result<Written, Diagnostics>;

struct Waiting {
    key: String,
    value: SecretValue,
    reply: oneshot::Sender<Outcome>,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<Waiting>,
    leading: bool,
}

/// The queues of writes, one per group.
#[derive(Default)]
pub struct SecretWrites {
    groups: Mutex<HashMap<String, Queue>>,
    /// Woken on every write queued (any group), so a gathering leader need not poll.
    arrived: Notify,
}

impl SecretWrites {
    fn groups(&self) -> MutexGuard<'_, HashMap<String, Queue>> {
        self.groups.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a write; true when no leader runs for the group, so the caller must start one.
    fn enqueue(&self, group_id: &str, waiting: Waiting) -> bool {
        let mut groups = self.groups();
        let queue = groups.entry(group_id.to_owned()).or_default();
        queue.waiting.push(waiting);
        let lead = !std::mem::replace(&mut queue.leading, true);
        self.arrived.notify_waiters();
        lead
    }

    fn waiting(&self, group_id: &str) -> usize {
        self.groups().get(group_id).map_or(0, |q| q.waiting.len())
    }

    /// Whether the leader goes on: false (and the group has no leader) once nothing waits. One
    /// critical section, so a write queued right after is sure to start a new leader.
    fn keep_leading(&self, group_id: &str) -> bool {
        let mut groups = self.groups();
        if groups.get(group_id).is_some_and(|q| !q.waiting.is_empty()) {
            return true;
        }
        groups.remove(group_id);
        false
    }

    /// The waiting writes, one per key: a second write of a key (two resources claiming it)
    /// waits for the next PUT rather than make the API refuse a list naming it twice.
    fn take_batch(&self, group_id: &str) -> Vec<Waiting> {
        let mut groups = self.groups();
        let Some(queue) = groups.get_mut(group_id) else {
            return Vec::new();
        };
        let mut keys = BTreeSet::new();
        let (batch, later) = std::mem::take(&mut queue.waiting)
            .into_iter()
            .partition(|w| keys.insert(w.key.clone()));
        queue.waiting = later;
        batch
    }
}

/// Writes `value` into key `key` of group `group_id`, together with the other writes waiting
/// for that group; returns once the PUT carrying it succeeded, or with its own error.
pub async fn write_secret(
    context: &Arc<ProviderContext>,
    group_id: &str,
    key: &str,
    value: SecretValue,
) -> Outcome {
    let (reply, answer) = oneshot::channel();
    let waiting = Waiting {
        key: key.to_owned(),
        value,
        reply,
    };
    if context.secret_writes.enqueue(group_id, waiting) {
        tokio::spawn(lead(context.clone(), group_id.to_owned()));
    }
    answer.await.unwrap_or_else(|_| {
        Err(Diagnostics::of_error(
            "Secret Write Abandoned",
            format!(
                "The write of `{key}` was dropped before it was sent: the provider is shutting \
                 down. Run `terraform apply` again."
            ),
        ))
    })
}

async fn lead(context: Arc<ProviderContext>, group_id: String) {
    let writes = &context.secret_writes;
    while writes.keep_leading(&group_id) {
        let _guard = context.lock_group(&group_id).await;
        gather(writes, &group_id).await;
        let batch = writes.take_batch(&group_id);
        if batch.is_empty() {
            continue;
        }
        let values: BTreeMap<String, SecretValue> = batch
            .iter()
            .map(|w| (w.key.clone(), w.value.clone()))
            .collect();
        let mut outcomes = write_together(&context, &group_id, &values).await;
        for waiting in batch {
            let outcome = outcomes.remove(&waiting.key).unwrap_or_else(|| {
                Err(Diagnostics::of_error(
                    "Secret Write Lost",
                    "The provider lost track of this write. This is a bug; run `terraform apply` \
                     again.",
                ))
            });
            // A write whose apply was cancelled has no one to answer.
            let _ = waiting.reply.send(outcome);
        }
    }
}

/// Waits until a full wave waits, no write joined the queue for `QUIET`, or `MAX_GATHER` passed.
async fn gather(writes: &SecretWrites, group_id: &str) {
    let deadline = Instant::now() + MAX_GATHER;
    loop {
        // Listening before counting, so an arrival between the two still wakes this.
        let arrival = writes.arrived.notified();
        tokio::pin!(arrival);
        arrival.as_mut().enable();
        if writes.waiting(group_id) >= TERRAFORM_PARALLELISM || Instant::now() >= deadline {
            return;
        }
        if tokio::time::timeout(QUIET, arrival).await.is_err() {
            return;
        }
    }
}

fn every(writes: &BTreeMap<String, SecretValue>, diags: &Diagnostics) -> BTreeMap<String, Outcome> {
    writes
        .keys()
        .map(|key| (key.clone(), Err(diags.clone())))
        .collect()
}

/// One converging write (see `converge`) for all of `writes`; should the API refuse it as a bad
/// request, one per key, so that a bad key fails alone and the others are written.
async fn write_together(
    context: &ProviderContext,
    group_id: &str,
    writes: &BTreeMap<String, SecretValue>,
) -> BTreeMap<String, Outcome> {
    let mut diags = Diagnostics::new();
    let Some(client) = context.client_or_report(&mut diags) else {
        return every(writes, &diags);
    };
    let (group, held) = tokio::join!(
        client.get_secret_group(group_id),
        list_keys(client, group_id)
    );
    let group = match group {
        Ok(group) => group,
        Err(client::Error::NotFound { .. }) => {
            let diags = Diagnostics::of_error(
                "Secret Group Not Found",
                format!(
                    "The secret group {group_id} does not exist or is not visible to this API key. \
                     Check `secret_group_id`, and that the key is a tenant admin or a collaborator \
                     of the group with the `secret-group-editor` or `secret-group-admin` role."
                ),
            );
            return every(writes, &diags);
        }
        Err(err) => {
            let diags = of_api_error(&format!("reading secret group {group_id}"), &err);
            return every(writes, &diags);
        }
    };
    if !context
        .identity()
        .check_tenant(&group.fqn, &group.tenant_name, &mut diags)
    {
        return every(writes, &diags);
    }
    let together = match held {
        Ok(held) => write_converging(client, group_id, held, writes).await,
        Err(err) => Err(err),
    };
    match together {
        Err(client::Error::Validation { .. }) if writes.len() > 1 => {
            let mut outcomes = BTreeMap::new();
            for (key, value) in writes {
                let alone = BTreeMap::from([(key.clone(), value.clone())]);
                let result = match list_keys(client, group_id).await {
                    Ok(held) => write_converging(client, group_id, held, &alone).await,
                    Err(err) => Err(err),
                };
                outcomes.extend(outcomes_of(&group, &alone, result));
            }
            outcomes
        }
        result => outcomes_of(&group, writes, result),
    }
}

fn outcomes_of(
    group: &SecretGroup,
    writes: &BTreeMap<String, SecretValue>,
    result: Result<Converged, client::Error>,
) -> BTreeMap<String, Outcome> {
    let name = group_name(group);
    let converged = match result {
        Ok(converged) => converged,
        Err(err) => {
            return writes
                .keys()
                .map(|key| {
                    let action = format!("writing the key `{key}` of secret group {}", group.fqn);
                    (key.clone(), Err(of_api_error(&action, &err)))
                })
                .collect();
        }
    };
    // One warning for the batch, on its first key written: every resource of the batch saw the
    // same thing.
    let mut warning = concurrent_writes_warning(group, writes, &converged);
    writes
        .keys()
        .map(|key| {
            let outcome = match converged.written.get(key) {
                Some(secret) => Ok(Written {
                    secret: secret.clone(),
                    fqn: secret_fqn(&group.tenant_name, &name, key),
                    visible_to: visible_to(group),
                    warnings: warning.take().unwrap_or_default(),
                }),
                None => Err(removed_again(group, key, &converged)),
            };
            (key.clone(), outcome)
        })
        .collect()
}

/// `A, B`, or `none`.
fn names(keys: &BTreeSet<String>) -> String {
    if keys.is_empty() {
        return "none".to_owned();
    }
    keys.iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// What other writers were seen doing, as a sentence.
fn seen(activity: &Activity) -> String {
    format!(
        "Keys seen appearing meanwhile: {}; vanishing: {}.",
        names(&activity.appeared),
        names(&activity.vanished)
    )
}

/// The warning of a write that saw other writers at work, and so cannot rule out that its own
/// full-list PUT removed a key one of them had just added; `None` for a write that was alone.
fn concurrent_writes_warning(
    group: &SecretGroup,
    writes: &BTreeMap<String, SecretValue>,
    converged: &Converged,
) -> Option<Diagnostics> {
    if converged.activity.is_empty() {
        return None;
    }
    let written: BTreeSet<String> = converged.written.keys().cloned().collect();
    let mut diags = Diagnostics::new();
    diags.warning(
        "Secret Group Written Concurrently",
        format!(
            "While this apply wrote {} to the secret group {}, another writer changed the group at \
             the same moment. {} The API has no conditional write: each write sends the full list \
             of keys read just before it, so a key another writer added between this apply's read \
             and its write may have been removed by this apply without it ever seeing the key. \
             Writers using this provider write their keys again when that happens; others (a \
             person, a script, an older provider) do not. This apply's own keys are in place{}. \
             Check that the other applies on this group succeeded, and run `terraform plan` where \
             they run: a key they lost shows as one to create. Apply the configurations that share \
             a group one at a time to avoid this.",
            names(&writes.keys().cloned().collect()),
            group.fqn,
            seen(&converged.activity),
            if written.len() == writes.len() {
                ""
            } else {
                " except those the errors name"
            },
        ),
    );
    Some(diags)
}

/// The error for a key that another writer's full-list PUT removed in every round.
fn removed_again(group: &SecretGroup, key: &str, converged: &Converged) -> Diagnostics {
    Diagnostics::of_error(
        "Secret Removed By Concurrent Writes",
        format!(
            "The key `{key}` was written to the secret group {} {} times, and each time another \
             writer's full-list write removed it again: the API has no conditional write, so a \
             writer that read the keys before this write and wrote after it drops the key. {} Run \
             `terraform apply` again once the other applies on this group have finished, and apply \
             the configurations that share a group one at a time.",
            group.fqn,
            converged.rounds,
            seen(&converged.activity)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{Client, ClientConfig};

    fn waiting(key: &str) -> (Waiting, oneshot::Receiver<Outcome>) {
        let (reply, answer) = oneshot::channel();
        let value = SecretValue::new("v");
        let key = key.to_owned();
        (Waiting { key, value, reply }, answer)
    }

    #[test]
    fn one_leader_per_group_and_a_key_once_per_put() {
        let writes = SecretWrites::default();
        let (a, _a) = waiting("A");
        let (again, _again) = waiting("A");
        let (b, _b) = waiting("B");
        assert!(writes.enqueue("sg1", a), "the first write leads");
        assert!(!writes.enqueue("sg1", again));
        assert!(!writes.enqueue("sg1", b));
        assert!(writes.keep_leading("sg1"));
        let keys: Vec<String> = writes
            .take_batch("sg1")
            .into_iter()
            .map(|w| w.key)
            .collect();
        assert_eq!(keys, ["A", "B"]);
        assert_eq!(writes.waiting("sg1"), 1, "the second write of A waits");
        assert!(writes.keep_leading("sg1"));
        assert_eq!(writes.take_batch("sg1").len(), 1);
        assert!(
            !writes.keep_leading("sg1"),
            "nothing waits: the leader stops"
        );
        let (c, _c) = waiting("C");
        assert!(writes.enqueue("sg1", c), "the next write leads again");
    }

    #[tokio::test]
    async fn a_write_waits_for_the_group_lock_the_group_resource_takes() {
        let client = Client::new(ClientConfig {
            // Nothing listens there: once it may go, the write fails fast.
            host: "http://127.0.0.1:9".to_owned(),
            api_key: SecretValue::new("key"),
            max_retries: 0,
            request_timeout: Duration::from_secs(2),
            ca_cert_pem: None,
            terraform_version: "test".to_owned(),
        })
        .unwrap();
        let context = Arc::new(ProviderContext::with_client(client));
        let guard = context.lock_group("sg1").await;
        let write = tokio::spawn({
            let context = context.clone();
            async move { write_secret(&context, "sg1", "K", SecretValue::new("v")).await }
        });
        tokio::time::sleep(MAX_GATHER * 3).await;
        assert!(!write.is_finished(), "the write went ahead of the lock");
        drop(guard);
        let outcome = tokio::time::timeout(Duration::from_secs(10), write).await;
        let diags = outcome.unwrap().unwrap().unwrap_err();
        assert!(diags.has_errors());
    }
}
