//! The gameserver's task definition: image, port 3000 on a dynamic host
//! port, the seed's environment (REDIS_URL from the cache endpoint), the
//! Redis AUTH token as a secret from SSM, logs, a container health check on
//! the path of `fixtures/load-balancer.toml` (readiness, so a Redis failover
//! does not make ECS replace every task) and a stop timeout longer than the
//! server's drain.
//!
//! Revisions are immutable: an update registers a new one, which the
//! service then rolls out.

use super::{ecr_repository, iam_role, replication_group};
use crate::aws::ecs;
use crate::engine::{Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource, State};
use crate::tags::{self, Naming, ATTR_PREFIX};
use crate::Error;
use async_trait::async_trait;
use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, HealthCheck, KeyValuePair, LogConfiguration, LogDriver,
    NetworkMode, PortMapping, Secret, TaskDefinition as AwsTaskDefinition, TaskDefinitionStatus,
    TransportProtocol,
};

pub const KIND: &str = "task-definition";
pub const CONTAINER: &str = "gameserver";
/// The health-check script baked into the image (see the Dockerfile); its
/// argument is the path to ask.
pub const HEALTH_CHECK: [&str; 2] = ["CMD", "/usr/local/bin/healthcheck"];
/// The secret environment variable the gameserver reads its Redis AUTH token
/// from, apart from REDIS_URL: ECS injects it from SSM when the container
/// starts, so the token never appears in the task definition.
pub const PASSWORD_VAR: &str = "REDIS_PASSWORD";

pub fn family(naming: &Naming) -> String {
    naming.name("gameserver")
}

pub fn key(naming: &Naming) -> Key {
    Key::new(KIND, family(naming))
}

/// Which image the container runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Image {
    /// Named by the profile or `--image`.
    Given(String),
    /// The environment's ECR repository (its key), at
    /// [`ecr_repository::TAG`].
    Repository(Key),
}

impl Image {
    /// The image reference, or a pending one while the repository does not
    /// exist yet.
    pub fn reference(&self, refs: &Refs) -> String {
        match self {
            Image::Given(uri) => uri.clone(),
            Image::Repository(k) => format!("{}:{}", refs.id(k), ecr_repository::TAG),
        }
    }

    /// The image reference of a repository that must exist by now.
    pub fn require(&self, refs: &Refs) -> Result<String, Error> {
        match self {
            Image::Given(uri) => Ok(uri.clone()),
            Image::Repository(k) => Ok(format!("{}:{}", refs.require(k)?, ecr_repository::TAG)),
        }
    }
}

/// What the container runs with, from the profile and flags.
#[derive(Debug, Clone)]
pub struct TaskSpec {
    pub image: Image,
    pub port: u16,
    pub cpu: i32,
    pub memory_mib: i32,
    pub stop_timeout: i32,
    /// The path the container health check asks.
    pub health_check_path: String,
    pub redis_enabled: bool,
    pub hydration_enabled: bool,
    /// TLS to Redis and an AUTH token (prod).
    pub redis_tls: bool,
    pub region: String,
}

/// The compared attributes of a registered revision (tags aside).
pub fn attrs_of(td: &AwsTaskDefinition) -> Attrs {
    let mut a = Attrs::new();
    a.insert(
        "execution_role".into(),
        td.execution_role_arn().unwrap_or_default().to_string(),
    );
    a.insert(
        "network_mode".into(),
        td.network_mode()
            .map(|m| m.as_str().to_string())
            .unwrap_or_default(),
    );
    let Some(c) = td
        .container_definitions()
        .iter()
        .find(|c| c.name() == Some(CONTAINER))
    else {
        a.insert("container".into(), "(missing)".into());
        return a;
    };
    a.insert("image".into(), c.image().unwrap_or_default().to_string());
    let ports: Vec<String> = c
        .port_mappings()
        .iter()
        .map(|p| {
            format!(
                "{}->{}",
                p.host_port().unwrap_or(0),
                p.container_port().unwrap_or(0)
            )
        })
        .collect();
    a.insert("ports".into(), ports.join(","));
    a.insert("cpu".into(), c.cpu().to_string());
    a.insert("memory_mib".into(), c.memory().unwrap_or(0).to_string());
    a.insert(
        "stop_timeout".into(),
        c.stop_timeout().unwrap_or(0).to_string(),
    );
    a.insert(
        "health_check".into(),
        c.health_check()
            .map(|h| h.command().join(" "))
            .unwrap_or_default(),
    );
    let log = c.log_configuration();
    let option = |k: &str| {
        log.and_then(|l| l.options())
            .and_then(|o| o.get(k))
            .map(String::as_str)
            .unwrap_or("")
    };
    a.insert(
        "logs".into(),
        format!(
            "{} {} in {}",
            log.map(|l| l.log_driver().as_str()).unwrap_or("none"),
            option("awslogs-group"),
            option("awslogs-region"),
        ),
    );
    // The image's own entry point is wanted: an override is drift.
    a.insert("entry".into(), entry(c.entry_point(), c.command()));
    for kv in c.environment() {
        a.insert(
            format!("env:{}", kv.name().unwrap_or_default()),
            kv.value().unwrap_or_default().to_string(),
        );
    }
    for s in c.secrets() {
        a.insert(format!("secret:{}", s.name()), s.value_from().to_string());
    }
    a
}

fn entry(entry_point: &[String], command: &[String]) -> String {
    let parts: Vec<&str> = entry_point
        .iter()
        .chain(command)
        .map(String::as_str)
        .collect();
    parts.join(" ")
}

/// A short, stable digest of compared attributes (tags aside), so the
/// service can tell whether it runs what the task definition should be.
pub fn fingerprint(attrs: &Attrs) -> String {
    // FNV-1a: stable across builds, unlike std's hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (k, v) in attrs.iter().filter(|(k, _)| !k.starts_with(ATTR_PREFIX)) {
        for b in k.bytes().chain([b'=']).chain(v.bytes()).chain([b'\n']) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

fn observe(td: &AwsTaskDefinition, tags: &[aws_sdk_ecs::types::Tag], ctx: &Ctx) -> Observed {
    let tags = ecs::tags(tags);
    let mut attrs = attrs_of(td);
    attrs.extend(tags.attrs());
    Observed {
        kind: KIND,
        id: td.task_definition_arn().unwrap_or_default().to_string(),
        name: td.family().map(String::from),
        attrs,
        details: Attrs::new(),
        state: State::Ready,
        owned: tags.owned_by(&ctx.naming),
    }
}

/// The latest active revision of the family, which stands for the family.
async fn find(ctx: &Ctx) -> Result<Option<Observed>, Error> {
    let found = ecs::find_task_definition(ctx, &family(&ctx.naming)).await?;
    Ok(found
        .filter(|(td, _)| td.status() == Some(&TaskDefinitionStatus::Active))
        .map(|(td, tags)| observe(&td, &tags, ctx)))
}

pub struct TaskDefinitionKind;

#[async_trait]
impl Kind for TaskDefinitionKind {
    fn name(&self) -> &'static str {
        KIND
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[
            iam_role::KIND,
            replication_group::KIND,
            super::auth_token::KIND,
        ]
    }

    async fn discover(&self, ctx: &Ctx, _found: &Inventory) -> Result<Vec<Observed>, Error> {
        find(ctx).await.map(|o| o.into_iter().collect())
    }

    /// Deregisters every active revision of the family.
    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        for o in items {
            let fam = o.display_name().to_string();
            let mut revisions = Vec::new();
            let mut token = None;
            loop {
                let out = ctx
                    .aws
                    .ecs
                    .list_task_definitions()
                    .family_prefix(&fam)
                    .status(TaskDefinitionStatus::Active)
                    .set_next_token(token)
                    .send()
                    .await
                    .map_err(|e| Error::aws("list revisions of", KIND, &fam, e))?;
                // The prefix also matches longer family names.
                let marker = format!(":task-definition/{fam}:");
                revisions.extend(
                    out.task_definition_arns()
                        .iter()
                        .filter(|a| a.contains(&marker))
                        .cloned(),
                );
                token = out.next_token().map(String::from);
                if token.is_none() {
                    break;
                }
            }
            for arn in revisions {
                ctx.aws
                    .ecs
                    .deregister_task_definition()
                    .task_definition(&arn)
                    .send()
                    .await
                    .map_err(|e| Error::aws("deregister", KIND, &arn, e))?;
            }
        }
        Ok(())
    }
}

pub struct TaskDefinition {
    pub naming: Naming,
    pub spec: TaskSpec,
    /// None when the environment runs without Redis.
    pub replication_group: Option<Key>,
    pub execution_role: Key,
    /// The SSM parameter holding the Redis AUTH token (prod).
    pub auth_token: Option<Key>,
}

impl TaskDefinition {
    fn redis_url(&self, endpoint: &str) -> String {
        let scheme = if self.spec.redis_tls {
            "rediss"
        } else {
            "redis"
        };
        format!("{scheme}://{endpoint}")
    }

    /// The primary endpoint: the replication group's engine id, or (when an
    /// interrupted run left the group creating, so no endpoint was known at
    /// discovery) read from AWS now.
    async fn redis_endpoint(&self, ctx: &Ctx, refs: &Refs) -> Result<Option<String>, Error> {
        let Some(rg) = &self.replication_group else {
            return Ok(None);
        };
        let id = refs.require(rg)?;
        if id.contains(':') {
            return Ok(Some(id.to_string()));
        }
        let group = replication_group::wait_available(ctx, &rg.name).await?;
        replication_group::primary_endpoint(&group)
            .map(Some)
            .ok_or_else(|| {
                Error::unexpected(replication_group::KIND, id, "has no primary endpoint")
            })
    }

    fn environment(&self, endpoint: Option<&str>) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("PORT", self.spec.port.to_string()),
            ("NODE_ENV", "production".to_string()),
            (
                "REDIS_ENABLED",
                (self.spec.redis_enabled && endpoint.is_some()).to_string(),
            ),
            (
                "GAME_HYDRATION_ENABLED",
                self.spec.hydration_enabled.to_string(),
            ),
        ];
        if let Some(endpoint) = endpoint {
            env.push(("REDIS_URL", self.redis_url(endpoint)));
        }
        env
    }

    fn health_check_command(&self) -> Vec<String> {
        let mut command: Vec<String> = HEALTH_CHECK.iter().map(|s| s.to_string()).collect();
        command.push(self.spec.health_check_path.clone());
        command
    }

    fn log_group(&self) -> String {
        iam_role::log_group(&self.naming)
    }

    /// Registers a new revision from the spec; returns its ARN.
    pub async fn register(&self, ctx: &Ctx, refs: &Refs) -> Result<String, Error> {
        let fam = family(&self.naming);
        let s = &self.spec;
        let mut container = ContainerDefinition::builder()
            .name(CONTAINER)
            .image(s.image.require(refs)?)
            .essential(true)
            .cpu(s.cpu)
            .memory(s.memory_mib)
            .stop_timeout(s.stop_timeout)
            .port_mappings(
                PortMapping::builder()
                    .container_port(i32::from(s.port))
                    .host_port(0)
                    .protocol(TransportProtocol::Tcp)
                    .build(),
            )
            .health_check(
                HealthCheck::builder()
                    .set_command(Some(self.health_check_command()))
                    .interval(10)
                    .timeout(5)
                    .retries(3)
                    .start_period(15)
                    .build()
                    .map_err(|e| Error::unexpected(KIND, &fam, e.to_string()))?,
            )
            .log_configuration(
                LogConfiguration::builder()
                    .log_driver(LogDriver::Awslogs)
                    .options("awslogs-group", self.log_group())
                    .options("awslogs-region", &s.region)
                    .options("awslogs-stream-prefix", CONTAINER)
                    .options("awslogs-create-group", "true")
                    .build()
                    .map_err(|e| Error::unexpected(KIND, &fam, e.to_string()))?,
            );
        for (name, value) in self.environment(self.redis_endpoint(ctx, refs).await?.as_deref()) {
            container =
                container.environment(KeyValuePair::builder().name(name).value(value).build());
        }
        if let Some(param) = &self.auth_token {
            container = container.secrets(
                Secret::builder()
                    .name(PASSWORD_VAR)
                    .value_from(refs.require(param)?)
                    .build()
                    .map_err(|e| Error::unexpected(KIND, &fam, e.to_string()))?,
            );
        }
        let out = ctx
            .aws
            .ecs
            .register_task_definition()
            .family(&fam)
            .network_mode(NetworkMode::Bridge)
            .requires_compatibilities(Compatibility::Ec2)
            .execution_role_arn(refs.require(&self.execution_role)?)
            .container_definitions(container.build())
            .set_tags(Some(ecs::aws_tags(&self.naming, &fam)))
            .send()
            .await
            .map_err(|e| Error::aws("registering", KIND, &fam, e))?;
        let arn = out
            .task_definition()
            .and_then(|td| td.task_definition_arn())
            .ok_or_else(|| {
                Error::unexpected(KIND, &fam, "RegisterTaskDefinition returned nothing")
            })?;
        tracing::info!("registered {arn}");
        Ok(arn.to_string())
    }
}

#[async_trait]
impl Resource for TaskDefinition {
    fn key(&self) -> Key {
        key(&self.naming)
    }

    fn depends_on(&self) -> Vec<Key> {
        let mut deps = vec![self.execution_role.clone()];
        if let Image::Repository(k) = &self.spec.image {
            deps.push(k.clone());
        }
        deps.extend(self.replication_group.clone());
        deps.extend(self.auth_token.clone());
        deps
    }

    fn desired(&self, refs: &Refs) -> Attrs {
        let s = &self.spec;
        let mut a = self.naming.desired_tags(&family(&self.naming));
        a.insert("execution_role".into(), refs.id(&self.execution_role));
        a.insert("network_mode".into(), "bridge".into());
        a.insert("image".into(), s.image.reference(refs));
        a.insert("ports".into(), format!("0->{}", s.port));
        a.insert("cpu".into(), s.cpu.to_string());
        a.insert("memory_mib".into(), s.memory_mib.to_string());
        a.insert("stop_timeout".into(), s.stop_timeout.to_string());
        a.insert("health_check".into(), self.health_check_command().join(" "));
        a.insert(
            "logs".into(),
            format!("awslogs {} in {}", self.log_group(), s.region),
        );
        let endpoint = self.replication_group.as_ref().map(|k| refs.id(k));
        for (name, value) in self.environment(endpoint.as_deref()) {
            a.insert(format!("env:{name}"), value);
        }
        a.insert("entry".into(), String::new());
        if let Some(param) = &self.auth_token {
            a.insert(format!("secret:{PASSWORD_VAR}"), refs.id(param));
        }
        a
    }

    async fn create(&self, ctx: &Ctx, refs: &Refs) -> Result<String, Error> {
        self.register(ctx, refs).await
    }

    /// The family's latest revision (an update registers a new one).
    async fn read(&self, ctx: &Ctx, _id: &str) -> Result<Option<Observed>, Error> {
        find(ctx).await
    }

    async fn update(
        &self,
        ctx: &Ctx,
        current: &Observed,
        changes: &[Change],
        refs: &Refs,
    ) -> Result<(), Error> {
        if tags::non_tag(changes).next().is_some() {
            self.register(ctx, refs).await?;
            return Ok(());
        }
        ecs::update_tags(ctx, KIND, &family(&self.naming), &current.id, changes).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_ignores_tags_and_sees_every_other_attribute() {
        let mut a = Attrs::from([("image".to_string(), "x:1".to_string())]);
        let base = fingerprint(&a);
        a.insert("tag:Name".into(), "n".into());
        assert_eq!(fingerprint(&a), base);
        a.insert("image".into(), "x:2".into());
        assert_ne!(fingerprint(&a), base);
    }
}
