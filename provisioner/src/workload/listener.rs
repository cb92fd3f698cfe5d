//! The load balancer's listeners: HTTP on 80, and HTTPS on 443 when the
//! profile names a certificate; both forward to the gameserver target group.

use super::{load_balancer, target_group};
use crate::aws::elbv2;
use crate::engine::{Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource, State};
use crate::error::found;
use crate::retry;
use crate::tags::{self, Naming, Tags};
use crate::Error;
use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, Listener as AwsListener, ProtocolEnum,
};

pub const KIND: &str = "listener";
/// TLS policy of the HTTPS listener: TLS 1.2 and 1.3 only.
const TLS_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";

pub fn name(naming: &Naming, port: u16) -> String {
    naming.name(if port == 443 { "https" } else { "http" })
}

pub struct ListenerKind;

fn observe(l: &AwsListener, tags: &Tags, naming: &Naming) -> Observed {
    let mut attrs = tags.attrs();
    attrs.insert(
        "port".into(),
        l.port().map(|p| p.to_string()).unwrap_or_default(),
    );
    attrs.insert(
        "protocol".into(),
        l.protocol()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
    );
    let forward: Vec<&str> = l
        .default_actions()
        .iter()
        .filter(|a| a.r#type() == Some(&ActionTypeEnum::Forward))
        .filter_map(|a| a.target_group_arn())
        .collect();
    attrs.insert("target_group".into(), forward.join(","));
    if let Some(cert) = l.certificates().first().and_then(|c| c.certificate_arn()) {
        attrs.insert("certificate".into(), cert.to_string());
    }
    Observed {
        kind: KIND,
        id: l.listener_arn().unwrap_or_default().to_string(),
        name: tags.name(),
        attrs,
        details: Attrs::new(),
        state: State::Ready,
        owned: tags.owned_by(naming),
    }
}

/// Listeners with their tags.
async fn observe_all(
    ctx: &Ctx,
    label: &str,
    listeners: &[AwsListener],
) -> Result<Vec<Observed>, Error> {
    let arns: Vec<String> = listeners
        .iter()
        .filter_map(|l| l.listener_arn())
        .map(String::from)
        .collect();
    let tags = elbv2::tags_of(ctx, KIND, label, arns).await?;
    Ok(listeners
        .iter()
        .map(|l| {
            let t = tags
                .get(l.listener_arn().unwrap_or_default())
                .cloned()
                .unwrap_or_default();
            observe(l, &t, &ctx.naming)
        })
        .collect())
}

#[async_trait]
impl Kind for ListenerKind {
    fn name(&self) -> &'static str {
        KIND
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[load_balancer::KIND, target_group::KIND]
    }

    async fn discover(&self, ctx: &Ctx, found: &Inventory) -> Result<Vec<Observed>, Error> {
        let mut all = Vec::new();
        for lb in found.of(load_balancer::KIND).iter().filter(|lb| lb.owned) {
            let listeners = elbv2::listeners(ctx, &lb.id, lb.display_name()).await?;
            all.extend(observe_all(ctx, lb.display_name(), &listeners).await?);
        }
        Ok(all)
    }

    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        for o in items {
            retry::delete(ctx, KIND, o.display_name(), || {
                ctx.aws.elbv2.delete_listener().listener_arn(&o.id).send()
            })
            .await?;
        }
        Ok(())
    }
}

pub struct Listener {
    pub naming: Naming,
    pub port: u16,
    /// Set for HTTPS.
    pub certificate_arn: Option<String>,
}

impl Listener {
    fn protocol(&self) -> ProtocolEnum {
        if self.certificate_arn.is_some() {
            ProtocolEnum::Https
        } else {
            ProtocolEnum::Http
        }
    }

    fn forward(&self, refs: &Refs) -> Result<Action, Error> {
        Ok(Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn(refs.require(&target_group::key(&self.naming))?)
            .build())
    }

    fn certificates(&self) -> Option<Vec<Certificate>> {
        self.certificate_arn
            .as_ref()
            .map(|arn| vec![Certificate::builder().certificate_arn(arn).build()])
    }

    /// The listener already on our port (created since discovery, or by
    /// someone else), to adopt and repair.
    async fn on_port(&self, ctx: &Ctx, lb_arn: &str, name: &str) -> Result<String, Error> {
        let listeners = elbv2::listeners(ctx, lb_arn, name).await?;
        listeners
            .iter()
            .find(|l| l.port() == Some(i32::from(self.port)))
            .and_then(|l| l.listener_arn())
            .map(str::to_string)
            .ok_or_else(|| {
                Error::unexpected(
                    KIND,
                    name,
                    "AWS reports a duplicate listener but none is on the port",
                )
            })
    }
}

#[async_trait]
impl Resource for Listener {
    fn key(&self) -> Key {
        Key::new(KIND, name(&self.naming, self.port))
    }

    fn depends_on(&self) -> Vec<Key> {
        vec![
            load_balancer::key(&self.naming),
            target_group::key(&self.naming),
        ]
    }

    fn desired(&self, refs: &Refs) -> Attrs {
        let mut a = self.naming.desired_tags(&name(&self.naming, self.port));
        a.insert("port".into(), self.port.to_string());
        a.insert("protocol".into(), self.protocol().as_str().to_string());
        a.insert(
            "target_group".into(),
            refs.id(&target_group::key(&self.naming)),
        );
        if let Some(cert) = &self.certificate_arn {
            a.insert("certificate".into(), cert.clone());
        }
        a
    }

    /// A listener on the port that exists without our Name tag (a lost tag,
    /// or a concurrent run) is ours to repair, not a reason to fail.
    fn adopts(&self, observed: &Observed) -> bool {
        observed.attrs.get("port") == Some(&self.port.to_string())
    }

    async fn create(&self, ctx: &Ctx, refs: &Refs) -> Result<String, Error> {
        let name = name(&self.naming, self.port);
        let lb_arn = refs.require(&load_balancer::key(&self.naming))?.to_string();
        let mut req = ctx
            .aws
            .elbv2
            .create_listener()
            .load_balancer_arn(&lb_arn)
            .port(i32::from(self.port))
            .protocol(self.protocol())
            .default_actions(self.forward(refs)?)
            .set_certificates(self.certificates())
            .set_tags(Some(elbv2::aws_tags(&self.naming, &name)));
        if self.certificate_arn.is_some() {
            req = req.ssl_policy(TLS_POLICY);
        }
        match req
            .send()
            .await
            .map_err(|e| Error::aws("creating", KIND, &name, e))
        {
            Ok(out) => out
                .listeners()
                .first()
                .and_then(|l| l.listener_arn())
                .map(str::to_string)
                .ok_or_else(|| {
                    Error::unexpected(KIND, &name, "CreateListener returned no listener")
                }),
            // Another listener holds the port: take it over and let
            // `update` bring it to the desired state.
            Err(e) if e.code() == Some("DuplicateListener") => {
                tracing::warn!("listener on port {} already exists; adopting it", self.port);
                self.on_port(ctx, &lb_arn, &name).await
            }
            Err(e) => Err(e),
        }
    }

    async fn read(&self, ctx: &Ctx, id: &str) -> Result<Option<Observed>, Error> {
        let name = name(&self.naming, self.port);
        let out = found(
            ctx.aws
                .elbv2
                .describe_listeners()
                .listener_arns(id)
                .send()
                .await
                .map_err(|e| Error::aws("reading", KIND, &name, e)),
        )?;
        let listeners = out.map(|o| o.listeners().to_vec()).unwrap_or_default();
        Ok(observe_all(ctx, &name, &listeners)
            .await?
            .into_iter()
            .next())
    }

    async fn update(
        &self,
        ctx: &Ctx,
        current: &Observed,
        changes: &[Change],
        refs: &Refs,
    ) -> Result<(), Error> {
        let name = name(&self.naming, self.port);
        if tags::non_tag(changes).next().is_some() {
            let mut req = ctx
                .aws
                .elbv2
                .modify_listener()
                .listener_arn(&current.id)
                .port(i32::from(self.port))
                .protocol(self.protocol())
                .default_actions(self.forward(refs)?)
                .set_certificates(self.certificates());
            if self.certificate_arn.is_some() {
                req = req.ssl_policy(TLS_POLICY);
            }
            req.send()
                .await
                .map_err(|e| Error::aws("modifying", KIND, &name, e))?;
        }
        elbv2::update_tags(ctx, KIND, &name, &current.id, changes).await
    }
}
