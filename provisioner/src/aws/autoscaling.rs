//! Auto Scaling: tags (propagated to the hosts) and finding the group.

use crate::engine::{Change, Ctx};
use crate::tags::{self, Naming, Tags};
use crate::Error;
use aws_sdk_autoscaling::types::{AutoScalingGroup, Tag, TagDescription};

/// Tags of the group `group`, copied to every host it launches.
pub fn aws_tags(group: &str, pairs: impl IntoIterator<Item = (String, String)>) -> Vec<Tag> {
    pairs
        .into_iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .resource_id(group)
                .resource_type("auto-scaling-group")
                .propagate_at_launch(true)
                .build()
        })
        .collect()
}

/// The managed tags of the group `group`.
pub fn managed_tags(naming: &Naming, group: &str) -> Vec<Tag> {
    aws_tags(
        group,
        naming
            .tags(group)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v)),
    )
}

pub fn tags(aws: &[TagDescription]) -> Tags {
    Tags::new(
        aws.iter()
            .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())),
    )
}

/// Sets the managed tags among `changes` on the group.
pub async fn update_tags(
    ctx: &Ctx,
    kind: &'static str,
    group: &str,
    changes: &[Change],
) -> Result<(), Error> {
    let set = tags::to_set(changes);
    if set.is_empty() {
        return Ok(());
    }
    ctx.aws
        .autoscaling
        .create_or_update_tags()
        .set_tags(Some(aws_tags(group, set)))
        .send()
        .await
        .map_err(|e| Error::aws("tagging", kind, group, e))?;
    Ok(())
}

/// The group, when it exists (Auto Scaling answers an empty list for an
/// unknown name).
pub async fn find_group(ctx: &Ctx, name: &str) -> Result<Option<AutoScalingGroup>, Error> {
    let out = ctx
        .aws
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await
        .map_err(|e| Error::aws("reading", "auto-scaling-group", name, e))?;
    Ok(out
        .auto_scaling_groups()
        .iter()
        .find(|g| g.auto_scaling_group_name() == Some(name))
        .cloned())
}
