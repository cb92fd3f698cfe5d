//! The environment's image repository in ECR: scanned on push, keeping the
//! last images (lifecycle policy), and the default image of the task
//! (`{uri}:latest`). Its engine id is the repository URI, which the task
//! definition names; `outputs` prints it with the commands that push an
//! image to it.

use crate::aws::{ecr, iam::canonical, Location};
use crate::engine::{Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource, State};
use crate::retry;
use crate::tags::{self, Naming};
use crate::Error;
use async_trait::async_trait;
use aws_sdk_ecr::types::{ImageScanningConfiguration, ImageTagMutability, Repository};
use serde::Serialize;
use serde_json::json;

pub const KIND: &str = "ecr-repository";
/// The tag the task runs unless `--image` or the profile names another.
pub const TAG: &str = "latest";
/// Tagged images kept; older ones expire.
pub const KEEP: u32 = 20;

pub fn name(naming: &Naming) -> String {
    naming.name("gameserver")
}

pub fn key(naming: &Naming) -> Key {
    Key::new(KIND, name(naming))
}

/// The repository's ARN in any account: what the execution role may pull.
pub fn arn(naming: &Naming, location: &Location) -> String {
    location.arn("ecr", &format!("repository/{}", name(naming)))
}

/// Untagged layers go after a day; of the tagged images the last
/// [`KEEP`] stay (ECR user guide, "Lifecycle policy parameters": the
/// `any` rule must have the highest priority number).
pub fn lifecycle_policy() -> String {
    json!({
        "rules": [
            {
                "rulePriority": 1,
                "description": "untagged images go after a day",
                "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed",
                              "countUnit": "days", "countNumber": 1},
                "action": {"type": "expire"}
            },
            {
                "rulePriority": 2,
                "description": format!("keep the last {KEEP} images"),
                "selection": {"tagStatus": "any", "countType": "imageCountMoreThan",
                              "countNumber": KEEP},
                "action": {"type": "expire"}
            }
        ]
    })
    .to_string()
}

/// How to get an image into the repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushHelp {
    pub repository: String,
    pub image: String,
    pub commands: Vec<String>,
}

impl PushHelp {
    pub fn new(uri: &str, region: &str) -> PushHelp {
        let registry = uri.split('/').next().unwrap_or(uri);
        let image = format!("{uri}:{TAG}");
        PushHelp {
            repository: uri.to_string(),
            commands: vec![
                format!("aws ecr get-login-password --region {region} | docker login --username AWS --password-stdin {registry}"),
                format!("docker buildx build --platform linux/amd64,linux/arm64 -t {image} --push ."),
            ],
            image,
        }
    }
}

pub struct EcrRepositoryKind;

#[async_trait]
impl Kind for EcrRepositoryKind {
    fn name(&self) -> &'static str {
        KIND
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[]
    }

    async fn discover(&self, ctx: &Ctx, _found: &Inventory) -> Result<Vec<Observed>, Error> {
        find(ctx).await.map(|o| o.into_iter().collect())
    }

    /// Deletes the repository with its images (`down` deletes everything
    /// the environment owns).
    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        for o in items {
            retry::delete(ctx, KIND, o.display_name(), || {
                ctx.aws
                    .ecr
                    .delete_repository()
                    .repository_name(o.display_name())
                    .force(true)
                    .send()
            })
            .await?;
        }
        Ok(())
    }
}

/// The environment's repository with its tags and lifecycle policy.
async fn find(ctx: &Ctx) -> Result<Option<Observed>, Error> {
    let repo = name(&ctx.naming);
    let Some(r) = ecr::find_repository(ctx, &repo).await? else {
        return Ok(None);
    };
    let arn = r.repository_arn().unwrap_or_default().to_string();
    let (tags, policy) = futures::try_join!(
        ecr::tags_of(ctx, KIND, &repo, &arn),
        ecr::find_lifecycle_policy(ctx, &repo),
    )?;
    Ok(Some(observe(ctx, &r, &tags, policy)))
}

fn observe(ctx: &Ctx, r: &Repository, tags: &tags::Tags, policy: Option<String>) -> Observed {
    let mut attrs = tags.attrs();
    attrs.insert(
        "scan_on_push".into(),
        r.image_scanning_configuration()
            .is_some_and(|c| c.scan_on_push())
            .to_string(),
    );
    if let Some(policy) = policy {
        attrs.insert("lifecycle".into(), canonical(&policy));
    }
    Observed {
        kind: KIND,
        id: r.repository_uri().unwrap_or_default().to_string(),
        name: r.repository_name().map(str::to_string),
        attrs,
        details: Attrs::from([(
            "arn".to_string(),
            r.repository_arn().unwrap_or_default().to_string(),
        )]),
        state: State::Ready,
        owned: tags.owned_by(&ctx.naming),
    }
}

pub struct EcrRepository {
    pub naming: Naming,
}

#[async_trait]
impl Resource for EcrRepository {
    fn key(&self) -> Key {
        key(&self.naming)
    }

    fn depends_on(&self) -> Vec<Key> {
        Vec::new()
    }

    fn desired(&self, _refs: &Refs) -> Attrs {
        let mut a = self.naming.desired_tags(&name(&self.naming));
        a.insert("scan_on_push".into(), "true".into());
        a.insert("lifecycle".into(), canonical(&lifecycle_policy()));
        a
    }

    async fn create(&self, ctx: &Ctx, _refs: &Refs) -> Result<String, Error> {
        let repo = name(&self.naming);
        let out = ctx
            .aws
            .ecr
            .create_repository()
            .repository_name(&repo)
            .image_tag_mutability(ImageTagMutability::Mutable)
            .image_scanning_configuration(
                ImageScanningConfiguration::builder()
                    .scan_on_push(true)
                    .build(),
            )
            .set_tags(Some(ecr::aws_tags(&self.naming, &repo)?))
            .send()
            .await
            .map_err(|e| Error::aws("creating", KIND, &repo, e))?;
        out.repository()
            .and_then(|r| r.repository_uri())
            .map(str::to_string)
            .ok_or_else(|| {
                Error::unexpected(KIND, &repo, "CreateRepository returned no repository")
            })
    }

    async fn read(&self, ctx: &Ctx, _id: &str) -> Result<Option<Observed>, Error> {
        find(ctx).await
    }

    async fn update(
        &self,
        ctx: &Ctx,
        current: &Observed,
        changes: &[Change],
        _refs: &Refs,
    ) -> Result<(), Error> {
        let repo = name(&self.naming);
        for c in tags::non_tag(changes) {
            match c.attr.as_str() {
                "scan_on_push" => {
                    ctx.aws
                        .ecr
                        .put_image_scanning_configuration()
                        .repository_name(&repo)
                        .image_scanning_configuration(
                            ImageScanningConfiguration::builder()
                                .scan_on_push(true)
                                .build(),
                        )
                        .send()
                        .await
                        .map_err(|e| Error::aws("setting scan on push of", KIND, &repo, e))?;
                }
                "lifecycle" => {
                    ctx.aws
                        .ecr
                        .put_lifecycle_policy()
                        .repository_name(&repo)
                        .lifecycle_policy_text(lifecycle_policy())
                        .send()
                        .await
                        .map_err(|e| {
                            Error::aws("setting the lifecycle policy of", KIND, &repo, e)
                        })?;
                }
                other => {
                    return Err(Error::unexpected(
                        KIND,
                        &repo,
                        format!("unknown attribute {other}"),
                    ))
                }
            }
        }
        let arn = current.details.get("arn").cloned().unwrap_or_default();
        ecr::update_tags(ctx, KIND, &repo, &arn, changes).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_help_logs_in_to_the_registry_and_pushes_both_architectures() {
        let help = PushHelp::new(
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/spaaace-dev-gameserver",
            "eu-west-1",
        );
        assert_eq!(
            help.image,
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/spaaace-dev-gameserver:latest"
        );
        assert!(help.commands[0]
            .ends_with("--password-stdin 123456789012.dkr.ecr.eu-west-1.amazonaws.com"));
        assert!(help.commands[0].contains("--region eu-west-1"));
        assert!(help.commands[1].contains("linux/amd64,linux/arm64"));
        assert!(help.commands[1].contains(&help.image));
    }

    #[test]
    fn the_catch_all_rule_comes_last() {
        let policy: serde_json::Value = serde_json::from_str(&lifecycle_policy()).unwrap();
        let rules = policy["rules"].as_array().unwrap();
        let last = rules.last().unwrap();
        assert_eq!(last["selection"]["tagStatus"], "any");
        assert_eq!(last["selection"]["countNumber"], KEEP);
        assert!(rules
            .iter()
            .all(|r| r["rulePriority"].as_u64() <= last["rulePriority"].as_u64()));
    }
}
