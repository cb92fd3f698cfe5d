//! Applying a plan: resources in dependency order, independent branches
//! concurrently (bounded), then the deletes of what is no longer wanted.

use crate::engine::reconcile::reconcile;
use crate::engine::{delete_observed, order_resources, Ctx, Key, Kind, Plan, Resource};
use crate::Error;
use futures::stream::{FuturesUnordered, StreamExt};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

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
            running.push(async move { (i, reconcile(ctx, r.as_ref(), observed, &snapshot).await) });
        }
        let Some((i, result)) = running.next().await else {
            break;
        };
        match result {
            Ok(current) => {
                refs.set(resources[i].key(), current.id);
                for &j in &dependents[i] {
                    remaining[j] -= 1;
                    if remaining[j] == 0 {
                        ready.push_back(j);
                    }
                }
            }
            Err(e) => {
                tracing::error!("{}", crate::explain::short(&e));
                failures.push(e);
            }
        }
    }
    if !failures.is_empty() {
        let skipped = remaining.iter().filter(|&&n| n > 0).count();
        if skipped > 0 {
            tracing::warn!("{skipped} resources not reconciled because a dependency failed");
        }
        let failed = failures.len();
        let first = failures.remove(0);
        return Err(if failed == 1 {
            first
        } else {
            Error::Apply {
                failed,
                first: Box::new(first),
            }
        });
    }
    delete_observed(ctx, kinds, &plan.unwanted).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{plan, Attrs, Change, Inventory, Observed, Refs, State};
    use crate::wait::WaitPolicy;
    use async_trait::async_trait;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    /// Shared record of what the fake resources did.
    #[derive(Default)]
    struct Log {
        created: Mutex<Vec<String>>,
        running: AtomicUsize,
        max_running: AtomicUsize,
    }

    struct Fake {
        name: &'static str,
        deps: Vec<&'static str>,
        fail: bool,
        log: Arc<Log>,
    }

    #[async_trait]
    impl Resource for Fake {
        fn key(&self) -> Key {
            Key::new("fake", self.name)
        }
        fn depends_on(&self) -> Vec<Key> {
            self.deps.iter().map(|d| Key::new("fake", *d)).collect()
        }
        fn desired(&self, _refs: &Refs) -> Attrs {
            Attrs::new()
        }
        async fn create(&self, _ctx: &Ctx, refs: &Refs) -> Result<String, Error> {
            for d in self.depends_on() {
                refs.require(&d)?;
            }
            let now = self.log.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.log.max_running.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            self.log.running.fetch_sub(1, Ordering::SeqCst);
            if self.fail {
                return Err(Error::unexpected("fake", self.name, "refused"));
            }
            self.log.created.lock().unwrap().push(self.name.to_string());
            Ok(format!("id-{}", self.name))
        }
        async fn read(&self, _ctx: &Ctx, id: &str) -> Result<Option<Observed>, Error> {
            Ok(Some(Observed {
                kind: "fake",
                id: id.to_string(),
                name: Some(self.name.to_string()),
                attrs: Attrs::new(),
                details: Attrs::new(),
                state: State::Ready,
                owned: true,
            }))
        }
        async fn update(&self, _: &Ctx, _: &Observed, _: &[Change], _: &Refs) -> Result<(), Error> {
            Ok(())
        }
    }

    async fn ctx() -> Ctx {
        Ctx::offline(WaitPolicy::default(), 2).await
    }

    /// a → {b, c} → d, and an independent chain e → f.
    fn graph(log: &Arc<Log>, failing: &str) -> Vec<Arc<dyn Resource>> {
        let spec: [(&'static str, Vec<&'static str>); 6] = [
            ("a", vec![]),
            ("b", vec!["a"]),
            ("c", vec!["a"]),
            ("d", vec!["b", "c"]),
            ("e", vec![]),
            ("f", vec!["e"]),
        ];
        spec.into_iter()
            .map(|(name, deps)| {
                Arc::new(Fake {
                    name,
                    deps,
                    fail: name == failing,
                    log: Arc::clone(log),
                }) as Arc<dyn Resource>
            })
            .collect()
    }

    #[tokio::test]
    async fn applies_in_dependency_order_within_the_concurrency_bound() {
        let log = Arc::new(Log::default());
        let resources = graph(&log, "");
        let plan = plan(&resources, &Inventory::default()).unwrap();
        apply(
            &ctx().await,
            &[],
            &resources,
            &plan,
            ApplyOptions { concurrency: 2 },
        )
        .await
        .unwrap();
        let created = log.created.lock().unwrap().clone();
        let pos = |n: &str| created.iter().position(|c| c == n).unwrap();
        assert_eq!(created.len(), 6);
        assert!(pos("a") < pos("b") && pos("a") < pos("c"));
        assert!(pos("b") < pos("d") && pos("c") < pos("d"));
        assert!(pos("e") < pos("f"));
        assert_eq!(log.max_running.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_failure_stops_its_dependents_but_not_other_branches() {
        let log = Arc::new(Log::default());
        let resources = graph(&log, "b");
        let plan = plan(&resources, &Inventory::default()).unwrap();
        let err = apply(
            &ctx().await,
            &[],
            &resources,
            &plan,
            ApplyOptions { concurrency: 2 },
        )
        .await
        .unwrap_err();
        assert_eq!(err.to_string(), "fake b: refused");
        let mut created = log.created.lock().unwrap().clone();
        created.sort();
        assert_eq!(created, ["a", "c", "e", "f"]);
    }
}
