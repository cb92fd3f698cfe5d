//! EC2 helpers shared by the network kinds: tags, filters, batched work,
//! retries while AWS still holds a dependency, and "already gone" checks.

use crate::engine::{Attrs, Change, Ctx};
use crate::error::is_not_found;
use crate::tags::{self, Naming};
use crate::wait::{self, Poll};
use crate::Error;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::error::SdkError;
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use futures::future::BoxFuture;
use futures::stream::{self, StreamExt};
use std::future::Future;

/// The managed tags, for CreateX's TagSpecifications.
pub fn tag_spec(resource_type: ResourceType, naming: &Naming, name: &str) -> TagSpecification {
    let tags = naming
        .tags(name)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    TagSpecification::builder()
        .resource_type(resource_type)
        .set_tags(Some(tags))
        .build()
}

pub fn filter(name: &str, values: impl IntoIterator<Item = String>) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.into_iter().collect()))
        .build()
}

/// Filters selecting what this environment owns.
pub fn owned_filters(naming: &Naming) -> Vec<Filter> {
    vec![
        filter(
            &format!("tag:{}", tags::MANAGED_BY_KEY),
            [tags::MANAGED_BY.to_string()],
        ),
        filter(
            &format!("tag:{}", tags::ENVIRONMENT),
            [naming.environment.clone()],
        ),
        filter(&format!("tag:{}", tags::PROJECT), [naming.project.clone()]),
    ]
}

/// The desired managed tags as attributes.
pub fn desired_tags(naming: &Naming, name: &str, attrs: &mut Attrs) {
    for (k, v) in naming.tags(name) {
        attrs.insert(tags::attr_key(k), v);
    }
}

/// What the tags of an observed resource say: its Name, its managed tags as
/// attributes, and whether the environment owns it.
pub struct Tagged {
    pub name: Option<String>,
    pub attrs: Attrs,
    pub owned: bool,
}

pub fn read_tags(naming: &Naming, tags_: &[Tag]) -> Tagged {
    let get = |key: &str| {
        tags_
            .iter()
            .find(|t| t.key() == Some(key))
            .and_then(|t| t.value())
    };
    let attrs = tags_
        .iter()
        .filter_map(|t| Some((t.key()?, t.value().unwrap_or_default())))
        .filter(|(k, _)| tags::is_managed(k))
        .map(|(k, v)| (tags::attr_key(k), v.to_string()))
        .collect();
    Tagged {
        name: get(tags::NAME).map(str::to_string),
        attrs,
        owned: naming.owns(get),
    }
}

/// Applies the tag changes among `changes` with CreateTags / DeleteTags.
pub async fn update_tags(
    ctx: &Ctx,
    kind: &'static str,
    name: &str,
    id: &str,
    changes: &[Change],
) -> Result<(), Error> {
    let mut set = Vec::new();
    let mut unset = Vec::new();
    for c in changes {
        let Some(key) = c.attr.strip_prefix(tags::ATTR_PREFIX) else {
            continue;
        };
        match &c.new {
            Some(v) => set.push(Tag::builder().key(key).value(v).build()),
            None => unset.push(Tag::builder().key(key).build()),
        }
    }
    let ec2 = &ctx.aws.ec2;
    if !set.is_empty() {
        ec2.create_tags()
            .resources(id)
            .set_tags(Some(set))
            .send()
            .await
            .map_err(|e| Error::aws("tagging", kind, name, e))?;
    }
    if !unset.is_empty() {
        ec2.delete_tags()
            .resources(id)
            .set_tags(Some(unset))
            .send()
            .await
            .map_err(|e| Error::aws("untagging", kind, name, e))?;
    }
    Ok(())
}

/// Refuses a change AWS cannot make in place, saying what to do instead.
pub fn immutable(kind: &'static str, name: &str, change: &Change) -> Error {
    Error::unexpected(
        kind,
        name,
        format!("{change} cannot be changed in place; delete the {kind} (or run `down`) and run `up` again"),
    )
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

/// Retries `op` while AWS answers with one of `codes` (a dependency still
/// held: ENIs lingering after a NAT gateway, an instance shutting down),
/// within the wait policy. "Not found" counts as done.
pub async fn retry_while<E, F, Fut>(
    ctx: &Ctx,
    action: &'static str,
    kind: &'static str,
    name: &str,
    codes: &[&str],
    mut op: F,
) -> Result<(), Error>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), SdkError<E>>>,
{
    let failure = std::sync::Mutex::new(None::<String>);
    wait::until(&ctx.wait, kind, name, "deletable", || {
        let attempt = op();
        let failure = &failure;
        async move {
            match attempt.await {
                Ok(()) => Ok(Poll::Done),
                Err(e) if is_not_found(&e) => Ok(Poll::Done),
                Err(e) if e.code().is_some_and(|c| codes.contains(&c)) => {
                    let state = crate::error::aws_cause(&e);
                    if let Ok(mut last) = failure.lock() {
                        *last = Some(state.clone());
                    }
                    Ok(Poll::Pending(state))
                }
                Err(e) => Err(Error::aws(action, kind, name, e)),
            }
        }
    })
    .await
    .map_err(|e| match (e, failure.into_inner().ok().flatten()) {
        (Error::WaitTimeout { .. }, Some(cause)) => Error::Aws {
            action,
            kind,
            name: name.to_string(),
            cause,
        },
        (e, _) => e,
    })
}
