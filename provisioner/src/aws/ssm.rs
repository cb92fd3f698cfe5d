//! Systems Manager Parameter Store: tags and finding a parameter.

use crate::engine::{Change, Ctx};
use crate::error::found;
use crate::tags::{self, Tags};
use crate::Error;
use aws_sdk_ssm::types::{Parameter, ResourceTypeForTagging};

checked_tags!(aws_sdk_ssm::types::Tag);

/// A parameter; its value decrypted only when asked for.
pub async fn find_parameter(
    ctx: &Ctx,
    name: &str,
    decrypt: bool,
) -> Result<Option<Parameter>, Error> {
    let out = found(
        ctx.aws
            .ssm
            .get_parameter()
            .name(name)
            .with_decryption(decrypt)
            .send()
            .await
            .map_err(|e| Error::aws("reading", "ssm-parameter", name, e)),
    )?;
    Ok(out.and_then(|o| o.parameter().cloned()))
}

pub async fn tags_of(ctx: &Ctx, kind: &'static str, name: &str) -> Result<Tags, Error> {
    let out = ctx
        .aws
        .ssm
        .list_tags_for_resource()
        .resource_type(ResourceTypeForTagging::Parameter)
        .resource_id(name)
        .send()
        .await
        .map_err(|e| Error::aws("reading the tags of", kind, name, e))?;
    Ok(Tags::new(
        out.tag_list().iter().map(|t| (t.key(), t.value())),
    ))
}

pub async fn update_tags(
    ctx: &Ctx,
    kind: &'static str,
    name: &str,
    changes: &[Change],
) -> Result<(), Error> {
    let set = tags::to_set(changes);
    if set.is_empty() {
        return Ok(());
    }
    ctx.aws
        .ssm
        .add_tags_to_resource()
        .resource_type(ResourceTypeForTagging::Parameter)
        .resource_id(name)
        .set_tags(Some(tag_list(set, name)?))
        .send()
        .await
        .map_err(|e| Error::aws("tagging", kind, name, e))?;
    Ok(())
}
