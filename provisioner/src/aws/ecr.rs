//! Elastic Container Registry: tags, finding the repository, its lifecycle
//! policy and whether an image tag was pushed.

use crate::engine::{Change, Ctx};
use crate::error::found;
use crate::tags::{self, Tags};
use crate::Error;
use aws_sdk_ecr::types::{ImageIdentifier, Repository};

checked_tags!(aws_sdk_ecr::types::Tag);

pub async fn find_repository(ctx: &Ctx, name: &str) -> Result<Option<Repository>, Error> {
    let out = found(
        ctx.aws
            .ecr
            .describe_repositories()
            .repository_names(name)
            .send()
            .await
            .map_err(|e| Error::aws("reading", "ecr-repository", name, e)),
    )?;
    Ok(out.and_then(|o| o.repositories().first().cloned()))
}

pub async fn tags_of(ctx: &Ctx, kind: &'static str, name: &str, arn: &str) -> Result<Tags, Error> {
    let out = ctx
        .aws
        .ecr
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(|e| Error::aws("reading the tags of", kind, name, e))?;
    Ok(Tags::new(out.tags().iter().map(|t| (t.key(), t.value()))))
}

pub async fn update_tags(
    ctx: &Ctx,
    kind: &'static str,
    name: &str,
    arn: &str,
    changes: &[Change],
) -> Result<(), Error> {
    let set = tags::to_set(changes);
    if set.is_empty() {
        return Ok(());
    }
    ctx.aws
        .ecr
        .tag_resource()
        .resource_arn(arn)
        .set_tags(Some(tag_list(set, name)?))
        .send()
        .await
        .map_err(|e| Error::aws("tagging", kind, name, e))?;
    Ok(())
}

/// The repository's lifecycle policy text, when it has one.
pub async fn find_lifecycle_policy(ctx: &Ctx, name: &str) -> Result<Option<String>, Error> {
    let out = found(
        ctx.aws
            .ecr
            .get_lifecycle_policy()
            .repository_name(name)
            .send()
            .await
            .map_err(|e| Error::aws("reading the lifecycle policy of", "ecr-repository", name, e)),
    )?;
    Ok(out.and_then(|o| o.lifecycle_policy_text().map(str::to_string)))
}

/// Whether an image with this tag was pushed to the repository.
pub async fn has_image(ctx: &Ctx, repository: &str, tag: &str) -> Result<bool, Error> {
    let out = found(
        ctx.aws
            .ecr
            .describe_images()
            .repository_name(repository)
            .image_ids(ImageIdentifier::builder().image_tag(tag).build())
            .send()
            .await
            .map_err(|e| Error::aws("reading the images of", "ecr-repository", repository, e)),
    )?;
    Ok(out.is_some_and(|o| !o.image_details().is_empty()))
}
