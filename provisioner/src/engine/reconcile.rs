//! One resource: create it if it is missing, wait until it is ready, apply
//! what differs, and read it back until AWS shows the desired state.
//!
//! AWS is eventually consistent: a resource just created may answer
//! NotFound, and a read right after an update may not show it yet. So the
//! engine never trusts what a call returned; it reads the resource back,
//! within `WaitPolicy::settle`.

use crate::engine::{diff, Change, Ctx, Key, Observed, Refs, Resource, State};
use crate::retry::{self, Transient};
use crate::wait::{self, Poll};
use crate::Error;
use std::sync::Mutex;
use std::time::Instant;

/// Find → compare → create or update → wait → read back, for one resource.
/// Returns it as AWS reports it at the end.
pub async fn reconcile(
    ctx: &Ctx,
    r: &dyn Resource,
    observed: Option<Observed>,
    refs: &Refs,
) -> Result<Observed, Error> {
    let key = r.key();
    let start = Instant::now();
    let created = observed.is_none();
    let current = match observed {
        Some(o) => o,
        None => {
            tracing::info!("creating {key}");
            let id = retry::settling(ctx, key.kind, &key.name, || r.create(ctx, refs)).await?;
            read_back(ctx, r, &key, &id).await?
        }
    };
    let current = until_ready(ctx, r, &key, current).await?;
    let changes = diff(&r.desired(refs), &current.attrs);
    let updated = !changes.is_empty();
    let current = if updated {
        let list: Vec<String> = changes.iter().map(ToString::to_string).collect();
        tracing::info!("updating {key} ({}): {}", current.id, list.join("; "));
        apply_changes(ctx, r, &key, current, changes, refs).await?
    } else {
        current
    };
    if created || updated {
        tracing::info!(
            "{} {key} ({}) in {:.1}s",
            if created { "created" } else { "updated" },
            current.id,
            start.elapsed().as_secs_f64()
        );
    }
    Ok(current)
}

/// Applies `changes`; while AWS answers that something is not visible yet,
/// reads the resource again and applies what still differs (so no change
/// is sent twice). Then reads back until AWS shows them all.
async fn apply_changes(
    ctx: &Ctx,
    r: &dyn Resource,
    key: &Key,
    mut current: Observed,
    mut changes: Vec<Change>,
    refs: &Refs,
) -> Result<Observed, Error> {
    let settle = ctx.wait.settling();
    let deadline = Instant::now() + settle.timeout;
    loop {
        match r.update(ctx, &current, &changes, refs).await {
            Ok(()) => break,
            Err(e)
                if retry::classify(&e) == Some(Transient::NotYetVisible)
                    && Instant::now() < deadline =>
            {
                tracing::debug!("{e}; retrying");
                tokio::time::sleep(settle.interval).await;
                current = read_back(ctx, r, key, &current.id).await?;
                changes = diff(&r.desired(refs), &current.attrs);
                if changes.is_empty() {
                    return Ok(current);
                }
            }
            Err(e) => return Err(e),
        }
    }
    converged(ctx, r, key, &current.id, refs).await
}

/// Reads a resource that exists, waiting while AWS does not show it yet.
async fn read_back(ctx: &Ctx, r: &dyn Resource, key: &Key, id: &str) -> Result<Observed, Error> {
    let seen = Mutex::new(None);
    wait::until(
        &ctx.wait.settling(),
        key.kind,
        &key.name,
        "visible",
        || async {
            match read(ctx, r, id).await? {
                Some(o) => {
                    *lock(&seen) = Some(o);
                    Ok(Poll::Done)
                }
                None => Ok(Poll::Pending("not visible yet".into())),
            }
        },
    )
    .await?;
    take(seen, key)
}

/// Waits until AWS reports the resource ready; a failed one is an error
/// carrying AWS's reason.
async fn until_ready(
    ctx: &Ctx,
    r: &dyn Resource,
    key: &Key,
    current: Observed,
) -> Result<Observed, Error> {
    if let State::Failed(why) = &current.state {
        return Err(Error::unexpected(
            key.kind,
            &key.name,
            format!("AWS reports it failed: {why}"),
        ));
    }
    if current.is_ready() {
        return Ok(current);
    }
    let seen = Mutex::new(None);
    wait::until(&ctx.wait, key.kind, &key.name, "ready", || async {
        let Some(o) = read(ctx, r, &current.id).await? else {
            return Ok(Poll::Pending("not visible yet".into()));
        };
        match o.state.clone() {
            State::Ready => {
                *lock(&seen) = Some(o);
                Ok(Poll::Done)
            }
            State::Pending(status) => Ok(Poll::Pending(status)),
            State::Failed(why) => Err(Error::unexpected(
                key.kind,
                &key.name,
                format!("AWS reports it failed: {why}"),
            )),
        }
    })
    .await?;
    take(seen, key)
}

/// Reads back until AWS shows every desired attribute, within `settle`.
async fn converged(
    ctx: &Ctx,
    r: &dyn Resource,
    key: &Key,
    id: &str,
    refs: &Refs,
) -> Result<Observed, Error> {
    let desired = r.desired(refs);
    let seen = Mutex::new(None);
    let result = wait::until(
        &ctx.wait.settling(),
        key.kind,
        &key.name,
        "as planned",
        || async {
            let Some(o) = read(ctx, r, id).await? else {
                return Ok(Poll::Pending("not visible yet".into()));
            };
            let left: Vec<String> = diff(&desired, &o.attrs)
                .iter()
                .map(ToString::to_string)
                .collect();
            if left.is_empty() && o.is_ready() {
                *lock(&seen) = Some(o);
                return Ok(Poll::Done);
            }
            Ok(Poll::Pending(if left.is_empty() {
                format!("{:?}", o.state)
            } else {
                left.join("; ")
            }))
        },
    )
    .await;
    match result {
        Ok(()) => take(seen, key),
        Err(Error::WaitTimeout {
            waited_secs, last, ..
        }) => Err(Error::NotConverged {
            kind: key.kind,
            name: key.name.clone(),
            waited_secs,
            left: last,
        }),
        Err(e) => Err(e),
    }
}

/// Reads the resource; a NotFound anywhere in the reading (its tags, its
/// attributes) means AWS does not show it everywhere yet.
async fn read(ctx: &Ctx, r: &dyn Resource, id: &str) -> Result<Option<Observed>, Error> {
    crate::error::found(r.read(ctx, id).await).map(Option::flatten)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn take(seen: Mutex<Option<Observed>>, key: &Key) -> Result<Observed, Error> {
    seen.into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .ok_or_else(|| Error::unexpected(key.kind, &key.name, "read returned nothing"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Attrs;
    use crate::error::{AwsFailure, FailureKind};
    use crate::wait::WaitPolicy;
    use async_trait::async_trait;
    use std::time::Duration;

    /// A resource that behaves as EC2 does right after a create: invisible
    /// to reads for a while, refusing changes with NotFound, and showing an
    /// applied change only some reads later.
    #[derive(Default)]
    struct Eventual {
        /// Creates refused because a dependency is not visible yet.
        create_refusals: Mutex<u32>,
        invisible_reads: Mutex<u32>,
        refusals: Mutex<u32>,
        stale_reads: Mutex<u32>,
        /// What AWS holds, and what reads show.
        held: Mutex<Attrs>,
        shown: Mutex<Attrs>,
        creates: Mutex<u32>,
        updates: Mutex<Vec<Vec<String>>>,
    }

    fn not_found() -> Error {
        Error::Aws {
            action: "updating",
            kind: "vpc",
            name: "v".into(),
            failure: Box::new(AwsFailure {
                kind: FailureKind::Service,
                code: Some("InvalidVpcID.NotFound".into()),
                message: Some("The vpc ID 'vpc-1' does not exist".into()),
                summary: "InvalidVpcID.NotFound".into(),
                source: "InvalidVpcID.NotFound".into(),
            }),
        }
    }

    fn wanted() -> Attrs {
        Attrs::from([
            ("dns".to_string(), "true".to_string()),
            ("tag:Name".to_string(), "v".to_string()),
        ])
    }

    #[async_trait]
    impl Resource for Eventual {
        fn key(&self) -> Key {
            Key::new("vpc", "v")
        }
        fn depends_on(&self) -> Vec<Key> {
            Vec::new()
        }
        fn desired(&self, _refs: &Refs) -> Attrs {
            wanted()
        }
        async fn create(&self, _ctx: &Ctx, _refs: &Refs) -> Result<String, Error> {
            let mut refusals = lock(&self.create_refusals);
            if *refusals > 0 {
                *refusals -= 1;
                return Err(not_found());
            }
            *lock(&self.creates) += 1;
            let tags = Attrs::from([("tag:Name".to_string(), "v".to_string())]);
            *lock(&self.held) = tags.clone();
            *lock(&self.shown) = tags;
            Ok("vpc-1".into())
        }
        async fn read(&self, _ctx: &Ctx, id: &str) -> Result<Option<Observed>, Error> {
            let mut invisible = lock(&self.invisible_reads);
            if *invisible > 0 {
                *invisible -= 1;
                return Ok(None);
            }
            let mut stale = lock(&self.stale_reads);
            if *stale > 0 {
                *stale -= 1;
            } else {
                *lock(&self.shown) = lock(&self.held).clone();
            }
            Ok(Some(Observed {
                kind: "vpc",
                id: id.into(),
                name: Some("v".into()),
                attrs: lock(&self.shown).clone(),
                details: Attrs::new(),
                state: State::Ready,
                owned: true,
            }))
        }
        async fn update(
            &self,
            _ctx: &Ctx,
            _current: &Observed,
            changes: &[Change],
            _refs: &Refs,
        ) -> Result<(), Error> {
            lock(&self.updates).push(changes.iter().map(|c| c.attr.clone()).collect());
            let mut refusals = lock(&self.refusals);
            if *refusals > 0 {
                *refusals -= 1;
                return Err(not_found());
            }
            let mut held = lock(&self.held);
            for c in changes {
                held.insert(c.attr.clone(), c.new.clone().unwrap_or_default());
            }
            Ok(())
        }
    }

    async fn ctx() -> Ctx {
        let wait = WaitPolicy {
            interval: Duration::from_millis(1),
            timeout: Duration::from_secs(5),
            report_every: Duration::from_secs(60),
            settle: Duration::from_secs(5),
        };
        Ctx::offline(wait, 1).await
    }

    #[tokio::test]
    async fn a_new_resource_that_answers_not_found_is_waited_for_then_changed_once() {
        let r = Eventual {
            invisible_reads: Mutex::new(3),
            refusals: Mutex::new(2),
            ..Eventual::default()
        };
        let done = reconcile(&ctx().await, &r, None, &Refs::default())
            .await
            .unwrap();
        assert_eq!(done.attrs, wanted());
        assert_eq!(*lock(&r.creates), 1, "a create is never repeated");
        assert_eq!(*lock(&r.invisible_reads), 0);
        // Two refusals, then the change: each attempt sent only what still
        // differed, and the change went through once.
        assert_eq!(
            *lock(&r.updates),
            vec![vec!["dns".to_string()]; 3],
            "the update is retried after NotFound"
        );
    }

    #[tokio::test]
    async fn a_create_refused_while_a_dependency_is_not_visible_is_sent_again() {
        let r = Eventual {
            create_refusals: Mutex::new(2),
            ..Eventual::default()
        };
        let done = reconcile(&ctx().await, &r, None, &Refs::default())
            .await
            .unwrap();
        assert_eq!(done.id, "vpc-1");
        assert_eq!(*lock(&r.create_refusals), 0);
        assert_eq!(*lock(&r.creates), 1);
    }

    #[tokio::test]
    async fn a_read_that_lags_behind_a_change_is_read_again_not_changed_again() {
        let r = Eventual {
            stale_reads: Mutex::new(0),
            ..Eventual::default()
        };
        let c = ctx().await;
        let id = r.create(&c, &Refs::default()).await.unwrap();
        let current = r.read(&c, &id).await.unwrap().unwrap();
        *lock(&r.stale_reads) = 3;
        let done = reconcile(&c, &r, Some(current), &Refs::default())
            .await
            .unwrap();
        assert_eq!(done.attrs, wanted());
        assert_eq!(lock(&r.updates).len(), 1, "the change was sent once");
    }

    #[tokio::test]
    async fn a_change_aws_never_shows_is_an_error_naming_what_is_left() {
        let r = Eventual::default();
        let c = ctx().await;
        let id = r.create(&c, &Refs::default()).await.unwrap();
        let current = r.read(&c, &id).await.unwrap().unwrap();
        *lock(&r.stale_reads) = u32::MAX;
        let mut c = c;
        c.wait.settle = Duration::from_millis(50);
        let err = reconcile(&c, &r, Some(current), &Refs::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("vpc v still differs") && err.contains("dns"),
            "{err}"
        );
    }
}
