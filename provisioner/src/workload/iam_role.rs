//! IAM roles of the workload, each with one inline least-privilege policy:
//! the container-instance role (the ECS agent and the awslogs driver on the
//! hosts) and the task execution role (image pulls, the Redis secret).
//! Roles live under the path `/{project}/{env}/`, so one ListRoles call with
//! that prefix finds them all.

use super::tagging;
use crate::engine::{Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource};
use crate::error::is_not_found;
use crate::tags::Naming;
use crate::Error;
use async_trait::async_trait;
use aws_sdk_iam::types::Tag;
use serde_json::{json, Value};

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

/// JSON documents compare by content: IAM returns them URL-encoded and
/// re-ordered.
pub fn canonical(doc: &str) -> String {
    let decoded = percent_decode(doc);
    serde_json::from_str::<Value>(&decoded)
        .map(|v| v.to_string())
        .unwrap_or(decoded)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
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

/// What the ECS agent and the awslogs driver need on a host, scoped to this
/// environment's cluster and log group.
pub fn instance_policy(naming: &Naming, region: &str, cluster: &str) -> String {
    let cluster_arn = format!("arn:aws:ecs:{region}:*:cluster/{cluster}");
    let container_instances = format!("arn:aws:ecs:{region}:*:container-instance/{cluster}/*");
    let logs = format!("arn:aws:logs:{region}:*:log-group:{}:*", log_group(naming));
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
            },
            {
                "Sid": "ContainerLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": logs
            }
        ]
    })
    .to_string()
}

/// What ECS needs to start the task: pull its image, read its secret.
pub fn execution_policy(secret_parameter_arn: Option<&str>) -> String {
    let mut statements = vec![json!({
        "Sid": "PullImage",
        "Effect": "Allow",
        "Action": ["ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability",
                   "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
        "Resource": "*"
    })];
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
        let iam = &ctx.aws.iam;
        let prefix = path(&ctx.naming);
        let roles = iam
            .list_roles()
            .path_prefix(&prefix)
            .send()
            .await
            .map_err(|e| Error::aws("list", KIND, &prefix, e))?;
        let mut found = Vec::new();
        for role in roles.roles() {
            let name = role.role_name().to_string();
            let full = iam
                .get_role()
                .role_name(&name)
                .send()
                .await
                .map_err(|e| Error::aws("describe", KIND, &name, e))?;
            let Some(full) = full.role() else { continue };
            let pairs: Vec<(&str, &str)> =
                full.tags().iter().map(|t| (t.key(), t.value())).collect();
            let mut attrs = tagging::observed(pairs.iter().copied());
            attrs.insert(
                "trust".into(),
                canonical(full.assume_role_policy_document().unwrap_or_default()),
            );
            match iam
                .get_role_policy()
                .role_name(&name)
                .policy_name(POLICY_NAME)
                .send()
                .await
            {
                Ok(p) => {
                    attrs.insert("policy".into(), canonical(p.policy_document()));
                }
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(Error::aws("read the policy of", KIND, &name, e)),
            }
            let mut details = Attrs::new();
            details.insert("name".into(), name.clone());
            found.push(Observed {
                kind: KIND,
                id: full.arn().to_string(),
                name: Some(name),
                attrs,
                details,
                ready: true,
                owned: tagging::owns(&ctx.naming, &pairs),
            });
        }
        Ok(found)
    }

    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        let iam = &ctx.aws.iam;
        for o in items {
            let name = o
                .details
                .get("name")
                .cloned()
                .unwrap_or_else(|| o.display_name().to_string());
            let policies = match iam.list_role_policies().role_name(&name).send().await {
                Ok(p) => p.policy_names().to_vec(),
                Err(e) if is_not_found(&e) => continue,
                Err(e) => return Err(Error::aws("list policies of", KIND, &name, e)),
            };
            for p in policies {
                match iam
                    .delete_role_policy()
                    .role_name(&name)
                    .policy_name(&p)
                    .send()
                    .await
                {
                    Ok(_) => {}
                    Err(e) if is_not_found(&e) => {}
                    Err(e) => return Err(Error::aws("delete the policy of", KIND, &name, e)),
                }
            }
            match iam.delete_role().role_name(&name).send().await {
                Ok(_) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(Error::aws("delete", KIND, &name, e)),
            }
        }
        Ok(())
    }
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
    Execution(Option<Key>),
}

impl IamRole {
    fn policy(&self, refs: &Refs) -> String {
        match &self.policy {
            PolicySource::Fixed(doc) => doc.clone(),
            PolicySource::Execution(param) => {
                execution_policy(param.as_ref().map(|k| refs.id(k)).as_deref())
            }
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
            PolicySource::Execution(Some(k)) => vec![k.clone()],
            _ => Vec::new(),
        }
    }

    fn desired(&self, refs: &Refs) -> Attrs {
        let mut a = tagging::desired(&self.naming, &self.name);
        a.insert("trust".into(), canonical(&trust_policy(self.service)));
        a.insert("policy".into(), canonical(&self.policy(refs)));
        a
    }

    async fn create(&self, ctx: &Ctx, refs: &Refs) -> Result<Observed, Error> {
        let mut req = ctx
            .aws
            .iam
            .create_role()
            .role_name(&self.name)
            .path(path(&self.naming))
            .assume_role_policy_document(trust_policy(self.service))
            .description(format!(
                "Spaaace {} ({})",
                self.naming.environment, self.service
            ));
        for (k, v) in self.naming.tags(&self.name) {
            req = req.tags(
                Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .map_err(|e| Error::unexpected(KIND, &self.name, e.to_string()))?,
            );
        }
        let out = req
            .send()
            .await
            .map_err(|e| Error::aws("create", KIND, &self.name, e))?;
        self.put_policy(ctx, refs).await?;
        let mut details = Attrs::new();
        details.insert("name".into(), self.name.clone());
        Ok(Observed {
            kind: KIND,
            id: out.role().map(|r| r.arn().to_string()).unwrap_or_default(),
            name: Some(self.name.clone()),
            attrs: self.desired(refs),
            details,
            ready: true,
            owned: true,
        })
    }

    async fn update(
        &self,
        ctx: &Ctx,
        _current: &Observed,
        changes: &[Change],
        refs: &Refs,
    ) -> Result<(), Error> {
        let iam = &ctx.aws.iam;
        for c in tagging::non_tag(changes) {
            match c.attr.as_str() {
                "trust" => {
                    iam.update_assume_role_policy()
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
        let tags = tagging::to_set(changes);
        if !tags.is_empty() {
            let mut req = iam.tag_role().role_name(&self.name);
            for (k, v) in tags {
                req = req.tags(
                    Tag::builder()
                        .key(k)
                        .value(v)
                        .build()
                        .map_err(|e| Error::unexpected(KIND, &self.name, e.to_string()))?,
                );
            }
            req.send()
                .await
                .map_err(|e| Error::aws("tag", KIND, &self.name, e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_compare_by_content_not_encoding() {
        let doc = trust_policy("ec2.amazonaws.com");
        let encoded = doc
            .replace('{', "%7B")
            .replace('}', "%7D")
            .replace('"', "%22");
        assert_eq!(canonical(&encoded), canonical(&doc));
        assert_ne!(
            canonical(&doc),
            canonical(&trust_policy("ecs-tasks.amazonaws.com"))
        );
    }

    #[test]
    fn instance_policy_is_scoped_to_the_environment() {
        let naming = Naming::new("spaaace", "dev");
        let doc: Value =
            serde_json::from_str(&instance_policy(&naming, "us-east-1", "spaaace-dev")).unwrap();
        let text = doc.to_string();
        assert!(text.contains("arn:aws:ecs:us-east-1:*:cluster/spaaace-dev"));
        assert!(text.contains("log-group:/spaaace/dev/gameserver:*"));
        assert!(!text.contains("\"ecs:*\"") && !text.contains("\"logs:*\""));
    }

    #[test]
    fn execution_policy_reads_only_the_named_parameter() {
        let arn = "arn:aws:ssm:us-east-1:1:parameter/spaaace/prod/redis-auth-token";
        assert!(execution_policy(Some(arn)).contains(arn));
        assert!(!execution_policy(None).contains("ssm:"));
    }
}
