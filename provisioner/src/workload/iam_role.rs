//! IAM roles of the workload, each with one inline least-privilege policy:
//! the container-instance role (the ECS agent and the awslogs driver on the
//! hosts) and the task execution role (image pulls, the Redis secret).
//! Roles live under the path `/{project}/{env}/`, so one ListRoles call with
//! that prefix finds them all.

use crate::aws::iam::{self, canonical};
use crate::aws::Location;
use crate::engine::{Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource, State};
use crate::retry;
use crate::tags::{self, Naming};
use crate::Error;
use async_trait::async_trait;
use serde_json::json;

pub const KIND: &str = "iam-role";
/// The name of each role's inline policy.
pub const POLICY_NAME: &str = "spaaace";

pub fn path(naming: &Naming) -> String {
    format!("/{}/{}/", naming.project, naming.environment)
}

pub fn instance_role_name(naming: &Naming) -> String {
    naming.name("ecs-instance")
}

pub fn execution_role_name(naming: &Naming) -> String {
    naming.name("task-execution")
}

pub fn trust_policy(service: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]
    })
    .to_string()
}

/// Where the gameserver's logs go.
pub fn log_group(naming: &Naming) -> String {
    format!("/{}/{}/gameserver", naming.project, naming.environment)
}

/// What the ECS agent needs on a host, scoped to this environment's
/// cluster. Container logs are not here: the awslogs driver uses the task
/// execution role when the task has one.
pub fn instance_policy(location: &Location, cluster: &str) -> String {
    let cluster_arn = location.arn("ecs", &format!("cluster/{cluster}"));
    let container_instances = location.arn("ecs", &format!("container-instance/{cluster}/*"));
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "JoinCluster",
                "Effect": "Allow",
                "Action": ["ecs:RegisterContainerInstance", "ecs:DeregisterContainerInstance",
                           "ecs:SubmitContainerStateChange", "ecs:SubmitTaskStateChange",
                           "ecs:SubmitAttachmentStateChanges", "ecs:UpdateContainerInstancesState"],
                "Resource": [cluster_arn, container_instances]
            },
            {
                // These agent calls accept no resource scoping.
                "Sid": "AgentSession",
                "Effect": "Allow",
                "Action": ["ecs:DiscoverPollEndpoint", "ecs:Poll", "ecs:StartTelemetrySession"],
                "Resource": "*"
            }
        ]
    })
    .to_string()
}

/// What ECS needs to start the task and keep it logging: pull its image,
/// write its logs, read its secret.
///
/// On the ECS-optimized AMI the awslogs driver authenticates with the task
/// execution role when the task has one (the agent's
/// ECS_ENABLE_AWSLOGS_EXECUTIONROLE_OVERRIDE, on by default since ecs-init
/// 1.16.0-1; ECS developer guide, "Amazon ECS task execution IAM role": the
/// role lets the agent "send container logs to CloudWatch Logs"), so the log
/// actions belong here; without them no task starts.
///
/// Pulls are scoped to the environment's repository when the task runs its
/// image (`repository`); an image named elsewhere may live in any registry.
/// GetAuthorizationToken accepts no resource scoping.
pub fn execution_policy(
    naming: &Naming,
    location: &Location,
    secret_parameter_arn: Option<&str>,
    repository: Option<&str>,
) -> String {
    let logs = location.arn("logs", &format!("log-group:{}:*", log_group(naming)));
    let mut statements = vec![
        json!({
            "Sid": "RegistryLogin",
            "Effect": "Allow",
            "Action": ["ecr:GetAuthorizationToken"],
            "Resource": "*"
        }),
        json!({
            "Sid": "PullImage",
            "Effect": "Allow",
            "Action": ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer",
                       "ecr:BatchGetImage"],
            "Resource": repository.unwrap_or("*")
        }),
        json!({
            "Sid": "ContainerLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": logs
        }),
    ];
    if let Some(arn) = secret_parameter_arn {
        statements.push(json!({
            "Sid": "ReadRedisAuthToken",
            "Effect": "Allow",
            "Action": ["ssm:GetParameters"],
            "Resource": arn
        }));
    }
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

pub struct IamRoleKind;

#[async_trait]
impl Kind for IamRoleKind {
    fn name(&self) -> &'static str {
        KIND
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[]
    }

    async fn discover(&self, ctx: &Ctx, _found: &Inventory) -> Result<Vec<Observed>, Error> {
        let mut found = Vec::new();
        for name in iam::roles_under(ctx, &path(&ctx.naming)).await? {
            found.extend(find(ctx, &name).await?);
        }
        Ok(found)
    }

    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        let client = &ctx.aws.iam;
        for o in items {
            let name = o.display_name();
            let policies = match client.list_role_policies().role_name(name).send().await {
                Ok(p) => p.policy_names().to_vec(),
                Err(e) => {
                    let e = Error::aws("listing the policies of", KIND, name, e);
                    if e.is_not_found() {
                        continue;
                    }
                    return Err(e);
                }
            };
            for p in &policies {
                retry::delete(ctx, KIND, name, || {
                    client
                        .delete_role_policy()
                        .role_name(name)
                        .policy_name(p)
                        .send()
                })
                .await?;
            }
            retry::delete(ctx, KIND, name, || {
                client.delete_role().role_name(name).send()
            })
            .await?;
        }
        Ok(())
    }
}

/// The role with its trust and inline policy, when it exists.
async fn find(ctx: &Ctx, name: &str) -> Result<Option<Observed>, Error> {
    let Some(role) = iam::find_role(ctx, name).await? else {
        return Ok(None);
    };
    let tags = iam::tags(role.tags());
    let mut attrs = tags.attrs();
    attrs.insert(
        "trust".into(),
        canonical(role.assume_role_policy_document().unwrap_or_default()),
    );
    if let Some(policy) = iam::find_role_policy(ctx, name, POLICY_NAME).await? {
        attrs.insert("policy".into(), policy);
    }
    Ok(Some(Observed {
        kind: KIND,
        id: role.arn().to_string(),
        name: Some(name.to_string()),
        attrs,
        details: Attrs::new(),
        state: State::Ready,
        owned: tags.owned_by(&ctx.naming),
    }))
}

/// One role: who may assume it and its inline policy.
pub struct IamRole {
    pub naming: Naming,
    pub name: String,
    pub service: &'static str,
    pub policy: PolicySource,
}

/// The inline policy, possibly naming a resource created in the same run.
pub enum PolicySource {
    Fixed(String),
    /// The execution policy, reading the parameter with this key if any.
    Execution {
        location: Location,
        token: Option<Key>,
        /// The environment's repository's ARN, when the task runs its image.
        repository: Option<String>,
    },
}

impl IamRole {
    fn policy(&self, refs: &Refs) -> String {
        match &self.policy {
            PolicySource::Fixed(doc) => doc.clone(),
            PolicySource::Execution {
                location,
                token,
                repository,
            } => execution_policy(
                &self.naming,
                location,
                token.as_ref().map(|k| refs.id(k)).as_deref(),
                repository.as_deref(),
            ),
        }
    }

    async fn put_policy(&self, ctx: &Ctx, refs: &Refs) -> Result<(), Error> {
        ctx.aws
            .iam
            .put_role_policy()
            .role_name(&self.name)
            .policy_name(POLICY_NAME)
            .policy_document(self.policy(refs))
            .send()
            .await
            .map_err(|e| Error::aws("put the policy of", KIND, &self.name, e))?;
        Ok(())
    }
}

#[async_trait]
impl Resource for IamRole {
    fn key(&self) -> Key {
        Key::new(KIND, self.name.clone())
    }

    fn depends_on(&self) -> Vec<Key> {
        match &self.policy {
            PolicySource::Execution { token: Some(k), .. } => vec![k.clone()],
            _ => Vec::new(),
        }
    }

    fn desired(&self, refs: &Refs) -> Attrs {
        let mut a = self.naming.desired_tags(&self.name);
        a.insert("trust".into(), canonical(&trust_policy(self.service)));
        a.insert("policy".into(), canonical(&self.policy(refs)));
        a
    }

    /// The role with its trust policy and tags; its inline policy follows
    /// as an update, once IAM knows the role.
    async fn create(&self, ctx: &Ctx, _refs: &Refs) -> Result<String, Error> {
        let out = ctx
            .aws
            .iam
            .create_role()
            .role_name(&self.name)
            .path(path(&self.naming))
            .assume_role_policy_document(trust_policy(self.service))
            .description(format!(
                "Spaaace {} ({})",
                self.naming.environment, self.service
            ))
            .set_tags(Some(iam::aws_tags(&self.naming, &self.name)?))
            .send()
            .await
            .map_err(|e| Error::aws("creating", KIND, &self.name, e))?;
        out.role()
            .map(|r| r.arn().to_string())
            .ok_or_else(|| Error::unexpected(KIND, &self.name, "CreateRole returned no role"))
    }

    async fn read(&self, ctx: &Ctx, _id: &str) -> Result<Option<Observed>, Error> {
        find(ctx, &self.name).await
    }

    async fn update(
        &self,
        ctx: &Ctx,
        _current: &Observed,
        changes: &[Change],
        refs: &Refs,
    ) -> Result<(), Error> {
        let client = &ctx.aws.iam;
        for c in tags::non_tag(changes) {
            match c.attr.as_str() {
                "trust" => {
                    client
                        .update_assume_role_policy()
                        .role_name(&self.name)
                        .policy_document(trust_policy(self.service))
                        .send()
                        .await
                        .map_err(|e| {
                            Error::aws("update the trust policy of", KIND, &self.name, e)
                        })?;
                }
                "policy" => self.put_policy(ctx, refs).await?,
                other => {
                    return Err(Error::unexpected(
                        KIND,
                        &self.name,
                        format!("unknown attribute {other}"),
                    ))
                }
            }
        }
        let set = tags::to_set(changes);
        if !set.is_empty() {
            client
                .tag_role()
                .role_name(&self.name)
                .set_tags(Some(iam::tag_list(set, &self.name)?))
                .send()
                .await
                .map_err(|e| Error::aws("tagging", KIND, &self.name, e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location(partition: &'static str, region: &str) -> Location {
        Location {
            partition,
            region: region.into(),
        }
    }

    #[test]
    fn instance_policy_is_scoped_to_the_environment() {
        let doc = instance_policy(&location("aws", "us-east-1"), "spaaace-dev");
        assert!(doc.contains("arn:aws:ecs:us-east-1:*:cluster/spaaace-dev"));
        assert!(
            !doc.contains("\"ecs:*\"") && !doc.contains("logs:"),
            "{doc}"
        );
    }

    #[test]
    fn the_execution_role_can_write_the_task_logs() {
        let naming = Naming::new("spaaace", "dev");
        let doc: serde_json::Value = serde_json::from_str(&execution_policy(
            &naming,
            &location("aws", "eu-west-1"),
            None,
            None,
        ))
        .unwrap();
        let logs = doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == "ContainerLogs")
            .expect("a logs statement");
        let actions: Vec<&str> = logs["Action"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(
            actions,
            [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents"
            ]
        );
        assert_eq!(
            logs["Resource"],
            "arn:aws:logs:eu-west-1:*:log-group:/spaaace/dev/gameserver:*"
        );
    }

    #[test]
    fn arns_take_the_partition_and_region_they_are_given() {
        let doc = instance_policy(&location("aws-cn", "cn-north-1"), "spaaace-dev");
        assert!(
            doc.contains("arn:aws-cn:ecs:cn-north-1:*:cluster/spaaace-dev"),
            "{doc}"
        );
        assert!(!doc.contains("arn:aws:"), "{doc}");
    }

    #[test]
    fn execution_policy_reads_only_the_named_parameter() {
        let naming = Naming::new("spaaace", "prod");
        let here = location("aws", "us-east-1");
        let arn = "arn:aws:ssm:us-east-1:1:parameter/spaaace/prod/redis-auth-token";
        assert!(execution_policy(&naming, &here, Some(arn), None).contains(arn));
        assert!(!execution_policy(&naming, &here, None, None).contains("ssm:"));
    }

    #[test]
    fn pulls_are_scoped_to_the_environments_repository_when_it_is_the_image() {
        let naming = Naming::new("spaaace", "dev");
        let here = location("aws", "us-east-1");
        let repo = "arn:aws:ecr:us-east-1:*:repository/spaaace-dev-gameserver";
        let doc: serde_json::Value =
            serde_json::from_str(&execution_policy(&naming, &here, None, Some(repo))).unwrap();
        let pull = doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == "PullImage")
            .unwrap();
        assert_eq!(pull["Resource"], repo);
    }
}
