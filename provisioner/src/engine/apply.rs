//! Applying a plan: resources in dependency order, independent branches
//! concurrently (bounded), then the deletes of what is no longer wanted.

use crate::engine::{
    delete_observed, diff, order_resources, Ctx, Key, Kind, Observed, Plan, Refs, Resource,
};
use crate::Error;
use futures::stream::{FuturesUnordered, StreamExt};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Clone, Copy)]
pub struct ApplyOptions {
    /// Resources reconciled at the same time, at most.
    pub concurrency: usize,
}

/// Reconciles every resource (create or update, then wait), starting each
/// once its dependencies are done. A failure stops its dependents but lets
/// independent branches finish, so a re-run has less left to do.
pub async fn apply(
    ctx: &Ctx,
    kinds: &[Arc<dyn Kind>],
    resources: &[Arc<dyn Resource>],
    plan: &Plan,
    options: ApplyOptions,
) -> Result<(), Error> {
    let order = order_resources(resources)?;
    let index: HashMap<Key, usize> = resources
        .iter()
        .enumerate()
        .map(|(i, r)| (r.key(), i))
        .collect();
    let mut remaining = vec![0usize; resources.len()];
    let mut dependents = vec![Vec::new(); resources.len()];
    for (i, r) in resources.iter().enumerate() {
        for dep in r.depends_on() {
            remaining[i] += 1;
            dependents[index[&dep]].push(i);
        }
    }
    let mut ready: VecDeque<usize> = order
        .iter()
        .copied()
        .filter(|&i| remaining[i] == 0)
        .collect();
    let mut refs = plan.refs();
    let mut running = FuturesUnordered::new();
    let mut failures: Vec<Error> = Vec::new();
    let limit = options.concurrency.max(1);
    loop {
        while running.len() < limit {
            let Some(i) = ready.pop_front() else { break };
            let r = Arc::clone(&resources[i]);
            let observed = plan.matched.get(&r.key()).cloned();
            let snapshot = refs.clone();
            running.push(
                async move { (i, reconcile_one(ctx, r.as_ref(), observed, &snapshot).await) },
            );
        }
        let Some((i, result)) = running.next().await else {
            break;
        };
        match result {
            Ok(id) => {
                refs.set(resources[i].key(), id);
                for &j in &dependents[i] {
                    remaining[j] -= 1;
                    if remaining[j] == 0 {
                        ready.push_back(j);
                    }
                }
            }
            Err(e) => {
                tracing::error!("{e}");
                failures.push(e);
            }
        }
    }
    if let Some(first) = failures.first() {
        let skipped = remaining.iter().filter(|&&n| n > 0).count();
        if skipped > 0 {
            tracing::warn!("{skipped} resources not reconciled because a dependency failed");
        }
        return Err(if failures.len() == 1 {
            failures.remove(0)
        } else {
            Error::Apply {
                failed: failures.len(),
                first: Box::new(clone_error(first)),
            }
        });
    }
    delete_observed(ctx, kinds, &plan.unwanted).await
}

/// Find → compare → create or update → wait, for one resource. Returns its
/// physical id for the resources that reference it.
async fn reconcile_one(
    ctx: &Ctx,
    r: &dyn Resource,
    observed: Option<Observed>,
    refs: &Refs,
) -> Result<String, Error> {
    let key = r.key();
    let start = Instant::now();
    let (current, created) = match observed {
        Some(o) => (o, false),
        None => {
            tracing::info!("creating {key}");
            (r.create(ctx, refs).await?, true)
        }
    };
    if created || !current.ready {
        r.wait(ctx, &current).await?;
    }
    let changes = diff(&r.desired(refs), &current.attrs);
    if !changes.is_empty() {
        let list: Vec<String> = changes.iter().map(ToString::to_string).collect();
        tracing::info!("updating {key} ({}): {}", current.id, list.join("; "));
        r.update(ctx, &current, &changes, refs).await?;
    }
    if created {
        tracing::info!(
            "created {key} ({}) in {:.1}s",
            current.id,
            start.elapsed().as_secs_f64()
        );
    } else if !changes.is_empty() {
        tracing::info!(
            "updated {key} ({}) in {:.1}s",
            current.id,
            start.elapsed().as_secs_f64()
        );
    }
    Ok(current.id)
}

/// Errors hold no non-clonable sources, so the summary can repeat the first.
fn clone_error(e: &Error) -> Error {
    Error::Plan(e.to_string())
}
