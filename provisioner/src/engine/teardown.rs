//! Deleting observed resources in reverse dependency order of their kinds.

use crate::engine::{kind_levels, Ctx, Kind, Observed};
use crate::Error;
use futures::future::{join_all, BoxFuture};
use futures::stream::{self, StreamExt};
use std::sync::Arc;

/// Deletes `items`, the kinds that depend on others first; kinds on the
/// same level concurrently. Stops after the first level with a failure
/// (what depends on it could not be deleted anyway).
pub async fn delete_observed(
    ctx: &Ctx,
    kinds: &[Arc<dyn Kind>],
    items: &[Observed],
) -> Result<(), Error> {
    if items.is_empty() {
        return Ok(());
    }
    for level in kind_levels(kinds)?.into_iter().rev() {
        let batches: Vec<(&Arc<dyn Kind>, Vec<Observed>)> = level
            .iter()
            .map(|&i| {
                let kind = &kinds[i];
                let of_kind: Vec<Observed> = items
                    .iter()
                    .filter(|o| o.kind == kind.name())
                    .cloned()
                    .collect();
                (kind, of_kind)
            })
            .filter(|(_, batch)| !batch.is_empty())
            .collect();
        let results = join_all(batches.iter().map(|(kind, batch)| async move {
            for o in batch {
                tracing::info!("deleting {} {} ({})", o.kind, o.display_name(), o.id);
            }
            kind.delete(ctx, batch).await
        }))
        .await;
        let mut errors: Vec<Error> = results.into_iter().filter_map(Result::err).collect();
        if !errors.is_empty() {
            for e in &errors {
                tracing::error!("{}", crate::explain::short(e));
            }
            return Err(errors.remove(0));
        }
    }
    Ok(())
}

/// Runs the jobs, at most `ctx.concurrency` at a time; returns the first
/// error after all have run.
pub async fn run_bounded(
    ctx: &Ctx,
    jobs: Vec<BoxFuture<'_, Result<(), Error>>>,
) -> Result<(), Error> {
    let results: Vec<Result<(), Error>> = stream::iter(jobs)
        .buffer_unordered(ctx.concurrency.max(1))
        .collect()
        .await;
    results.into_iter().collect()
}
