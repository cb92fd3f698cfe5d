//! The Redis replication group: a primary and its replicas in different
//! zones, Multi-AZ with automatic failover, daily snapshots kept for the
//! profile's retention; in prod, encryption at rest and in transit with an
//! AUTH token from SSM.
//!
//! Its engine id is the primary endpoint (`host:port`) once known, because
//! that is what the task definition references; the group's name is in
//! `name`. Creation waits for the group to be available (about 10 minutes on
//! AWS) so the endpoint exists; the branch runs beside the ALB and ECS.

use super::{auth_token, cache_subnet_group, NetworkKeys};
use crate::aws::elasticache;
use crate::engine::{Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource, State};
use crate::retry::{self, Presence};
use crate::tags::{self, Naming, Tags};
use crate::wait::{self, Poll};
use crate::Error;
use async_trait::async_trait;
use aws_sdk_elasticache::types::ReplicationGroup as AwsGroup;

pub const KIND: &str = "replication-group";
pub const PORT: i32 = 6379;
const MAINTENANCE_WINDOW: &str = "sun:05:00-sun:06:00";
/// Attributes AWS cannot change in place.
const IMMUTABLE: [&str; 4] = [
    "at_rest_encryption",
    "transit_encryption",
    "auth_token",
    "nodes",
];

pub fn name(naming: &Naming) -> String {
    naming.name("redis")
}

pub fn key(naming: &Naming) -> Key {
    Key::new(KIND, name(naming))
}

/// The primary endpoint as `host:port`, once AWS has assigned it.
pub fn primary_endpoint(g: &AwsGroup) -> Option<String> {
    g.node_groups()
        .first()
        .and_then(|n| n.primary_endpoint())
        .and_then(|e| Some(format!("{}:{}", e.address()?, e.port().unwrap_or(PORT))))
}

fn observe(g: &AwsGroup, tags: &Tags, ctx: &Ctx) -> Observed {
    let mut attrs = tags.attrs();
    let flag = |b: Option<bool>| b.unwrap_or(false).to_string();
    attrs.insert(
        "node_type".into(),
        g.cache_node_type().unwrap_or_default().to_string(),
    );
    attrs.insert(
        "automatic_failover".into(),
        g.automatic_failover()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
    );
    attrs.insert(
        "multi_az".into(),
        g.multi_az()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
    );
    attrs.insert("nodes".into(), g.member_clusters().len().to_string());
    attrs.insert(
        "snapshot_retention_days".into(),
        g.snapshot_retention_limit().unwrap_or(0).to_string(),
    );
    attrs.insert(
        "snapshot_window".into(),
        g.snapshot_window().unwrap_or_default().to_string(),
    );
    attrs.insert(
        "at_rest_encryption".into(),
        flag(g.at_rest_encryption_enabled()),
    );
    attrs.insert(
        "transit_encryption".into(),
        flag(g.transit_encryption_enabled()),
    );
    attrs.insert("auth_token".into(), flag(g.auth_token_enabled()));
    let group_id = g.replication_group_id().unwrap_or_default().to_string();
    let status = g.status().unwrap_or("unknown").to_string();
    let mut details = Attrs::new();
    details.insert("group_id".into(), group_id.clone());
    details.insert("arn".into(), g.arn().unwrap_or_default().to_string());
    details.insert("status".into(), status.clone());
    let zones: Vec<String> = g
        .node_groups()
        .iter()
        .flat_map(|n| n.node_group_members())
        .map(|m| {
            format!(
                "{}={}",
                m.current_role().unwrap_or("member"),
                m.preferred_availability_zone().unwrap_or("?")
            )
        })
        .collect();
    details.insert("members".into(), zones.join(","));
    Observed {
        kind: KIND,
        id: primary_endpoint(g).unwrap_or_else(|| group_id.clone()),
        name: Some(group_id),
        attrs,
        details,
        state: match status.as_str() {
            "available" => State::Ready,
            "create-failed" | "deleting" => State::Failed(status),
            _ => State::Pending(status),
        },
        owned: tags.owned_by(&ctx.naming),
    }
}

/// The environment's group with its tags, when it exists.
async fn find(ctx: &Ctx) -> Result<Option<Observed>, Error> {
    let group = name(&ctx.naming);
    let Some(g) = elasticache::find_replication_group(ctx, &group).await? else {
        return Ok(None);
    };
    let tags = elasticache::tags_of(ctx, KIND, &group, g.arn().unwrap_or_default()).await?;
    Ok(Some(observe(&g, &tags, ctx)))
}

/// The group as AWS describes it now, when it exists.
pub async fn describe(ctx: &Ctx, group: &str) -> Result<Option<AwsGroup>, Error> {
    elasticache::find_replication_group(ctx, group).await
}

/// Until the group is `available` (through creating, modifying,
/// snapshotting...). A group that is deleting or gone is an error.
pub async fn wait_available(ctx: &Ctx, group: &str) -> Result<AwsGroup, Error> {
    let last = std::sync::Mutex::new(None);
    wait::until(&ctx.wait, KIND, group, "available", || async {
        let g = describe(ctx, group)
            .await?
            .ok_or_else(|| Error::unexpected(KIND, group, "disappeared while waiting for it"))?;
        let status = g.status().unwrap_or("unknown").to_string();
        match status.as_str() {
            "available" => {
                *last.lock().unwrap_or_else(|p| p.into_inner()) = Some(g);
                Ok(Poll::Done)
            }
            "deleting" | "create-failed" => {
                Err(Error::unexpected(KIND, group, format!("is {status}")))
            }
            _ => Ok(Poll::Pending(status)),
        }
    })
    .await?;
    let g = last.into_inner().unwrap_or_else(|p| p.into_inner());
    g.ok_or_else(|| Error::unexpected(KIND, group, "no description after waiting"))
}

pub struct ReplicationGroupKind;

#[async_trait]
impl Kind for ReplicationGroupKind {
    fn name(&self) -> &'static str {
        KIND
    }

    fn depends_on(&self) -> &'static [&'static str] {
        // The parameter group is deleted after it too; its kind may be
        // absent (see `kinds`), so it cannot be listed here.
        &[
            cache_subnet_group::KIND,
            auth_token::KIND,
            super::SECURITY_GROUP_KIND,
        ]
    }

    async fn discover(&self, ctx: &Ctx, _found: &Inventory) -> Result<Vec<Observed>, Error> {
        find(ctx).await.map(|o| o.into_iter().collect())
    }

    /// Deletes and waits until AWS reports the group gone, so the subnet
    /// group, parameter group and security group can follow.
    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        for o in items {
            let group = o
                .details
                .get("group_id")
                .cloned()
                .unwrap_or_else(|| o.display_name().to_string());
            delete_one(ctx, &group).await?;
        }
        Ok(())
    }
}

/// Sends the delete whatever the group's state (a group that failed to
/// create too), again while AWS answers `InvalidReplicationGroupState`
/// (creating, modifying, snapshotting), and waits until AWS no longer knows
/// the group.
async fn delete_one(ctx: &Ctx, group: &str) -> Result<(), Error> {
    let delete = || async {
        ctx.aws
            .elasticache
            .delete_replication_group()
            .replication_group_id(group)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::aws("deleting", KIND, group, e))
    };
    let probe = || async {
        Ok(match describe(ctx, group).await? {
            None => Presence::Gone,
            Some(g) => match g.status().unwrap_or("unknown") {
                "deleting" => Presence::Going("deleting".into()),
                status => Presence::Present(status.to_string()),
            },
        })
    };
    retry::delete_until_gone(ctx, KIND, group, delete, probe).await
}

pub struct ReplicationGroup {
    pub naming: Naming,
    pub network: NetworkKeys,
    pub node_type: String,
    pub engine_version: String,
    /// The parameter group, or the engine's default (`default.{family}`).
    pub parameter_group: Option<Key>,
    pub parameter_family: String,
    pub replicas: i32,
    pub snapshot_retention_days: i32,
    pub snapshot_window: String,
    pub encryption: bool,
}

impl ReplicationGroup {
    fn auth_key(&self) -> Option<Key> {
        self.encryption.then(|| auth_token::key(&self.naming))
    }

    async fn modify(&self, ctx: &Ctx, group: &str, changes: &[Change]) -> Result<(), Error> {
        let mut req = ctx
            .aws
            .elasticache
            .modify_replication_group()
            .replication_group_id(group)
            .apply_immediately(true);
        for c in tags::non_tag(changes) {
            req = match c.attr.as_str() {
                "node_type" => req.cache_node_type(&self.node_type),
                "automatic_failover" => req.automatic_failover_enabled(true),
                "multi_az" => req.multi_az_enabled(true),
                "snapshot_retention_days" => {
                    req.snapshot_retention_limit(self.snapshot_retention_days)
                }
                "snapshot_window" => req.snapshot_window(&self.snapshot_window),
                other => {
                    return Err(Error::unexpected(
                        KIND,
                        group,
                        format!("cannot modify {other}"),
                    ));
                }
            };
        }
        req.send()
            .await
            .map_err(|e| Error::aws("modifying", KIND, group, e))?;
        Ok(())
    }
}

#[async_trait]
impl Resource for ReplicationGroup {
    fn key(&self) -> Key {
        key(&self.naming)
    }

    fn depends_on(&self) -> Vec<Key> {
        let mut deps = vec![
            cache_subnet_group::key(&self.naming),
            self.network.redis_security_group.clone(),
        ];
        deps.extend(self.parameter_group.clone());
        deps.extend(self.auth_key());
        deps
    }

    fn desired(&self, _refs: &Refs) -> Attrs {
        let mut a = self.naming.desired_tags(&name(&self.naming));
        a.insert("node_type".into(), self.node_type.clone());
        a.insert("automatic_failover".into(), "enabled".into());
        a.insert("multi_az".into(), "enabled".into());
        a.insert("nodes".into(), (1 + self.replicas).to_string());
        a.insert(
            "snapshot_retention_days".into(),
            self.snapshot_retention_days.to_string(),
        );
        a.insert("snapshot_window".into(), self.snapshot_window.clone());
        for attr in ["at_rest_encryption", "transit_encryption", "auth_token"] {
            a.insert(attr.into(), self.encryption.to_string());
        }
        a
    }

    async fn create(&self, ctx: &Ctx, refs: &Refs) -> Result<String, Error> {
        let group = name(&self.naming);
        let parameter_group = match &self.parameter_group {
            Some(k) => refs.require(k)?.to_string(),
            None => format!("default.{}", self.parameter_family),
        };
        let mut req = ctx
            .aws
            .elasticache
            .create_replication_group()
            .replication_group_id(&group)
            .replication_group_description(format!(
                "Spaaace {} game state",
                self.naming.environment
            ))
            .engine("redis")
            .engine_version(&self.engine_version)
            .cache_node_type(&self.node_type)
            .replicas_per_node_group(self.replicas)
            .automatic_failover_enabled(true)
            .multi_az_enabled(true)
            .cache_subnet_group_name(refs.require(&cache_subnet_group::key(&self.naming))?)
            .cache_parameter_group_name(parameter_group)
            .security_group_ids(refs.require(&self.network.redis_security_group)?)
            .port(PORT)
            .snapshot_retention_limit(self.snapshot_retention_days)
            .snapshot_window(&self.snapshot_window)
            .preferred_maintenance_window(MAINTENANCE_WINDOW)
            .at_rest_encryption_enabled(self.encryption)
            .transit_encryption_enabled(self.encryption)
            .set_tags(Some(elasticache::aws_tags(&self.naming, &group)));
        if self.encryption {
            req = req.auth_token(auth_token::read_token(ctx, &self.naming).await?);
        }
        // The error of a failed create never contains the token: AWS does
        // not echo request parameters.
        req.send()
            .await
            .map_err(|e| Error::aws("creating", KIND, &group, e))?;
        Ok(group)
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
        let group = name(&self.naming);
        if let Some(c) = changes
            .iter()
            .find(|c| IMMUTABLE.contains(&c.attr.as_str()))
        {
            return Err(Error::unexpected(
                KIND,
                &group,
                format!(
                    "{c} cannot be changed in place; the group must be recreated (down, then up)"
                ),
            ));
        }
        if tags::non_tag(changes).next().is_some() {
            // AWS refuses changes while the group is snapshotting or
            // modifying: wait for it, change, and wait again.
            wait_available(ctx, &group).await?;
            self.modify(ctx, &group, changes).await?;
            wait_available(ctx, &group).await?;
        }
        let arn = current.details.get("arn").cloned().unwrap_or_default();
        elasticache::update_tags(ctx, KIND, &group, &arn, changes).await
    }
}
