//! The launch template of the ECS hosts: the ECS-optimized Amazon Linux 2023
//! AMI (from AWS's public SSM parameter), the instance type of the profile,
//! user data that joins the cluster, the ECS security group and IMDSv2 with
//! a hop limit of 1 (containers cannot reach the host's credentials).
//! A change makes a new default version and starts an instance refresh of
//! the Auto Scaling Group, which replaces hosts without dropping capacity.

use super::{auto_scaling_group, ecs_cluster, instance_profile, NetworkKeys};
use crate::aws::{ec2, ssm};
use crate::engine::{Attrs, Change, Ctx, Inventory, Key, Kind, Observed, Refs, Resource, State};
use crate::retry;
use crate::tags::{self, Naming};
use crate::Error;
use async_trait::async_trait;
use aws_sdk_ec2::types::{
    LaunchTemplate as AwsLaunchTemplate, LaunchTemplateBlockDeviceMappingRequest,
    LaunchTemplateHttpTokensState, LaunchTemplateIamInstanceProfileSpecificationRequest,
    LaunchTemplateInstanceMetadataEndpointState, LaunchTemplateInstanceMetadataOptionsRequest,
    LaunchTemplateTagSpecificationRequest, RequestLaunchTemplateData, ResourceType,
    ResponseLaunchTemplateData, VolumeType,
};

pub const KIND: &str = "launch-template";
const ROOT_DEVICE: &str = "/dev/xvda";

/// AWS's public parameter naming the current ECS-optimized AL2023 AMI.
pub fn ami_parameter(architecture: &str) -> String {
    let arch = if architecture == "arm64" {
        "arm64/"
    } else {
        ""
    };
    format!("/aws/service/ecs/optimized-ami/amazon-linux-2023/{arch}recommended/image_id")
}

/// Looks up the AMI id of the current ECS-optimized AL2023 image.
pub async fn resolve_ami(ctx: &Ctx, architecture: &str) -> Result<String, Error> {
    let parameter = ami_parameter(architecture);
    ssm::find_parameter(ctx, &parameter, false)
        .await?
        .as_ref()
        .and_then(|p| p.value())
        .filter(|v| v.starts_with("ami-"))
        .map(String::from)
        .ok_or_else(|| Error::unexpected("ssm-parameter", &parameter, "holds no AMI id"))
}

pub fn name(naming: &Naming) -> String {
    naming.name("ecs-host")
}

pub fn key(naming: &Naming) -> Key {
    Key::new(KIND, name(naming))
}

/// The host's boot script: join the cluster; nothing else runs on it.
pub fn user_data(cluster: &str) -> String {
    format!(
        "#!/bin/bash\n\
         cat >> /etc/ecs/ecs.config <<'EOF'\n\
         ECS_CLUSTER={cluster}\n\
         ECS_ENABLE_CONTAINER_METADATA=true\n\
         ECS_ENABLE_TASK_IAM_ROLE=false\n\
         EOF\n"
    )
}

pub struct LaunchTemplateKind;

#[async_trait]
impl Kind for LaunchTemplateKind {
    fn name(&self) -> &'static str {
        KIND
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[instance_profile::KIND, super::SECURITY_GROUP_KIND]
    }

    async fn discover(&self, ctx: &Ctx, _found: &Inventory) -> Result<Vec<Observed>, Error> {
        find(ctx).await.map(|o| o.into_iter().collect())
    }

    async fn delete(&self, ctx: &Ctx, items: &[Observed]) -> Result<(), Error> {
        for o in items {
            retry::delete(ctx, KIND, o.display_name(), || {
                ctx.aws
                    .ec2
                    .delete_launch_template()
                    .launch_template_id(&o.id)
                    .send()
            })
            .await?;
        }
        Ok(())
    }
}

/// The environment's launch template, described by its default version.
async fn find(ctx: &Ctx) -> Result<Option<Observed>, Error> {
    let lt_name = name(&ctx.naming);
    let Some(lt) = ec2::find_launch_template(ctx, &lt_name).await? else {
        return Ok(None);
    };
    let id = lt.launch_template_id().unwrap_or_default().to_string();
    let versions = ctx
        .aws
        .ec2
        .describe_launch_template_versions()
        .launch_template_id(&id)
        .versions("$Default")
        .send()
        .await
        .map_err(|e| Error::aws("reading the default version of", KIND, &lt_name, e))?;
    let data = versions
        .launch_template_versions()
        .first()
        .and_then(|v| v.launch_template_data());
    Ok(Some(observe(ctx, &lt, data)))
}

fn observe(
    ctx: &Ctx,
    lt: &AwsLaunchTemplate,
    data: Option<&ResponseLaunchTemplateData>,
) -> Observed {
    let tags = ec2::tags(lt.tags());
    let mut attrs = tags.attrs();
    if let Some(data) = data {
        attrs.extend(data_attrs(data));
    }
    let mut details = Attrs::new();
    details.insert(
        "default_version".into(),
        lt.default_version_number()
            .map(|v| v.to_string())
            .unwrap_or_default(),
    );
    Observed {
        kind: KIND,
        id: lt.launch_template_id().unwrap_or_default().to_string(),
        name: lt.launch_template_name().map(str::to_string),
        attrs,
        details,
        state: State::Ready,
        owned: tags.owned_by(&ctx.naming),
    }
}

/// The compared settings of a template version.
fn data_attrs(data: &ResponseLaunchTemplateData) -> Attrs {
    let mut attrs = Attrs::new();
    attrs.insert(
        "image".into(),
        data.image_id().unwrap_or_default().to_string(),
    );
    attrs.insert(
        "instance_type".into(),
        data.instance_type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
    );
    attrs.insert(
        "user_data".into(),
        data.user_data().unwrap_or_default().to_string(),
    );
    attrs.insert(
        "instance_profile".into(),
        data.iam_instance_profile()
            .and_then(|p| p.name())
            .unwrap_or_default()
            .to_string(),
    );
    let mut groups: Vec<&str> = data
        .security_group_ids()
        .iter()
        .map(String::as_str)
        .collect();
    groups.sort_unstable();
    attrs.insert("security_groups".into(), groups.join(","));
    let meta = data.metadata_options();
    attrs.insert(
        "imds".into(),
        format!(
            "tokens={} hop_limit={}",
            meta.and_then(|m| m.http_tokens())
                .map(|t| t.as_str())
                .unwrap_or("optional"),
            meta.and_then(|m| m.http_put_response_hop_limit())
                .unwrap_or(1)
        ),
    );
    let root = data
        .block_device_mappings()
        .iter()
        .find(|b| b.device_name() == Some(ROOT_DEVICE))
        .and_then(|b| b.ebs());
    attrs.insert(
        "root_volume".into(),
        format!(
            "{}GB {} encrypted={}",
            root.and_then(|e| e.volume_size()).unwrap_or(0),
            root.and_then(|e| e.volume_type())
                .map(|t| t.as_str())
                .unwrap_or("default"),
            root.and_then(|e| e.encrypted()).unwrap_or(false)
        ),
    );
    attrs
}

pub struct LaunchTemplate {
    pub naming: Naming,
    pub network: NetworkKeys,
    pub ami: String,
    pub instance_type: String,
    pub root_volume_gb: i32,
}

impl LaunchTemplate {
    fn data(&self, refs: &Refs) -> Result<RequestLaunchTemplateData, Error> {
        let name = name(&self.naming);
        let tags = |rt: ResourceType| {
            LaunchTemplateTagSpecificationRequest::builder()
                .resource_type(rt)
                .set_tags(Some(ec2::aws_tags(&self.naming, &name)))
                .build()
        };
        Ok(RequestLaunchTemplateData::builder()
            .image_id(&self.ami)
            .instance_type(self.instance_type.as_str().into())
            .user_data(self.encoded_user_data())
            .iam_instance_profile(
                LaunchTemplateIamInstanceProfileSpecificationRequest::builder()
                    .name(iam_name(&self.naming))
                    .build(),
            )
            .security_group_ids(refs.require(&self.network.ecs_security_group)?)
            .metadata_options(
                LaunchTemplateInstanceMetadataOptionsRequest::builder()
                    .http_tokens(LaunchTemplateHttpTokensState::Required)
                    .http_put_response_hop_limit(1)
                    .http_endpoint(LaunchTemplateInstanceMetadataEndpointState::Enabled)
                    .build(),
            )
            .block_device_mappings(
                LaunchTemplateBlockDeviceMappingRequest::builder()
                    .device_name(ROOT_DEVICE)
                    .ebs(
                        aws_sdk_ec2::types::LaunchTemplateEbsBlockDeviceRequest::builder()
                            .volume_size(self.root_volume_gb)
                            .volume_type(VolumeType::Gp3)
                            .encrypted(true)
                            .delete_on_termination(true)
                            .build(),
                    )
                    .build(),
            )
            .tag_specifications(tags(ResourceType::Instance))
            .tag_specifications(tags(ResourceType::Volume))
            .build())
    }

    fn encoded_user_data(&self) -> String {
        aws_smithy_types::base64::encode(user_data(&ecs_cluster::name(&self.naming)))
    }

    /// Replaces the hosts so they run the new default version; an instance
    /// refresh keeps capacity up while it does.
    async fn refresh_hosts(&self, ctx: &Ctx) -> Result<(), Error> {
        let asg = auto_scaling_group::name(&self.naming);
        let result = ctx
            .aws
            .autoscaling
            .start_instance_refresh()
            .auto_scaling_group_name(&asg)
            .preferences(
                aws_sdk_autoscaling::types::RefreshPreferences::builder()
                    .min_healthy_percentage(100)
                    .max_healthy_percentage(200)
                    .instance_warmup(120)
                    // Hosts are protected from scale-in (the capacity
                    // provider's termination protection); replace them anyway.
                    .scale_in_protected_instances(
                        aws_sdk_autoscaling::types::ScaleInProtectedInstances::Refresh,
                    )
                    .build(),
            )
            .send()
            .await;
        match result.map_err(|e| Error::aws("refreshing", auto_scaling_group::KIND, &asg, e)) {
            Ok(out) => {
                tracing::info!(
                    "started instance refresh {} of {asg}",
                    out.instance_refresh_id().unwrap_or("(no id)")
                );
                Ok(())
            }
            Err(e) if e.code() == Some("InstanceRefreshInProgress") => {
                tracing::info!(
                    "an instance refresh of {asg} is already running; it picks up the new version"
                );
                Ok(())
            }
            // No group yet ("AutoScalingGroup name not found"): its first
            // hosts start from the new version. Any other ValidationError is
            // a refresh AWS refused, and an error.
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }
}

fn iam_name(naming: &Naming) -> String {
    instance_profile::key(naming).name
}

#[async_trait]
impl Resource for LaunchTemplate {
    fn key(&self) -> Key {
        key(&self.naming)
    }

    fn depends_on(&self) -> Vec<Key> {
        vec![
            instance_profile::key(&self.naming),
            self.network.ecs_security_group.clone(),
        ]
    }

    fn desired(&self, refs: &Refs) -> Attrs {
        let mut a = self.naming.desired_tags(&name(&self.naming));
        a.insert("image".into(), self.ami.clone());
        a.insert("instance_type".into(), self.instance_type.clone());
        a.insert("user_data".into(), self.encoded_user_data());
        a.insert("instance_profile".into(), iam_name(&self.naming));
        a.insert(
            "security_groups".into(),
            refs.id(&self.network.ecs_security_group),
        );
        a.insert("imds".into(), "tokens=required hop_limit=1".into());
        a.insert(
            "root_volume".into(),
            format!("{}GB gp3 encrypted=true", self.root_volume_gb),
        );
        a
    }

    async fn create(&self, ctx: &Ctx, refs: &Refs) -> Result<String, Error> {
        let lt_name = name(&self.naming);
        let out = ctx
            .aws
            .ec2
            .create_launch_template()
            .launch_template_name(&lt_name)
            .version_description("created by spaaace-provisioner")
            .launch_template_data(self.data(refs)?)
            .tag_specifications(ec2::tag_spec(
                ResourceType::LaunchTemplate,
                &self.naming,
                &lt_name,
            ))
            .send()
            .await
            .map_err(|e| Error::aws("creating", KIND, &lt_name, e))?;
        out.launch_template()
            .and_then(|lt| lt.launch_template_id())
            .map(str::to_string)
            .ok_or_else(|| {
                Error::unexpected(KIND, &lt_name, "CreateLaunchTemplate returned no template")
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
        refs: &Refs,
    ) -> Result<(), Error> {
        let lt_name = name(&self.naming);
        let client = &ctx.aws.ec2;
        if tags::non_tag(changes).next().is_some() {
            let version = client
                .create_launch_template_version()
                .launch_template_id(&current.id)
                .version_description("updated by spaaace-provisioner")
                .launch_template_data(self.data(refs)?)
                .send()
                .await
                .map_err(|e| Error::aws("create a new version of", KIND, &lt_name, e))?;
            let number = version
                .launch_template_version()
                .and_then(|v| v.version_number())
                .ok_or_else(|| {
                    Error::unexpected(
                        KIND,
                        &lt_name,
                        "CreateLaunchTemplateVersion returned no version",
                    )
                })?;
            client
                .modify_launch_template()
                .launch_template_id(&current.id)
                .default_version(number.to_string())
                .send()
                .await
                .map_err(|e| Error::aws("set the default version of", KIND, &lt_name, e))?;
            tracing::info!("{lt_name}: version {number} is the default");
            self.refresh_hosts(ctx).await?;
        }
        ec2::update_tags(ctx, KIND, &lt_name, &current.id, changes).await
    }
}
