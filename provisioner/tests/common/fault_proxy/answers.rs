//! What AWS answers, in each service's own wire format and words.
//!
//! The error bodies are the services' own wire formats and texts:
//! - EC2 (its query protocol): `<Response><Errors><Error><Code>` with
//!   `InvalidVpcID.NotFound: The vpc ID 'vpc-1a2b3c4d' does not exist`,
//!   `RequestLimitExceeded` (503), `InternalError` (500) and
//!   `UnauthorizedOperation` (403), as in the EC2 API reference, "Error
//!   codes for the Amazon EC2 API" (and its example error response); that
//!   a new resource answers NotFound: EC2 developer guide, "Eventual
//!   consistency in the Amazon EC2 API".
//! - The AWS query services (Auto Scaling, ELBv2, ElastiCache, IAM):
//!   `<ErrorResponse><Error><Type>Sender</Type><Code>` with `Throttling:
//!   Rate exceeded`, their NotFound codes (`LoadBalancerNotFound`,
//!   `CacheSubnetGroupNotFoundFault`, `NoSuchEntity`, Auto Scaling's
//!   `ValidationError: AutoScalingGroup name not found - ...`).
//! - The JSON services (ECS, SSM, ECR): `{"__type": ..., "message": ...}`
//!   with `ThrottlingException: Rate exceeded`, `ClusterNotFoundException:
//!   Cluster not found.`, `ParameterNotFound`, `RepositoryNotFoundException`.
//! - Access denied: "User: ARN is not authorized to perform: ACTION on
//!   resource: ARN because no identity-based policy allows the ACTION
//!   action" (IAM user guide, "Troubleshoot access denied error messages").

use super::wire::{Answer, Request};

/// How a create names what it made, and what AWS answers about it while
/// it is not visible yet.
pub(super) struct CreateRule {
    pub(super) service: &'static str,
    pub(super) action: &'static str,
    pub(super) from: From,
    pub(super) keys: &'static [&'static str],
    pub(super) answer: fn(&str) -> (u16, &'static str, String),
    pub(super) skip_describes: bool,
}

pub(super) enum From {
    /// An XML element of the response.
    Response(&'static str),
    /// A parameter of the request.
    Request(&'static str),
}

fn ec2_missing(id: &str) -> (u16, &'static str, String) {
    let (code, what) = match id.split('-').next().unwrap_or_default() {
        "vpc" => ("InvalidVpcID.NotFound", "vpc"),
        "subnet" => ("InvalidSubnetID.NotFound", "subnet"),
        "sg" => ("InvalidGroup.NotFound", "security group"),
        "rtb" => ("InvalidRouteTableID.NotFound", "routeTable"),
        "igw" => ("InvalidInternetGatewayID.NotFound", "internetGateway"),
        "nat" => ("NatGatewayNotFound", "natGateway"),
        "eipalloc" => ("InvalidAllocationID.NotFound", "allocation"),
        _ => ("InvalidLaunchTemplateId.NotFound", "launchTemplate"),
    };
    (400, code, format!("The {what} ID '{id}' does not exist"))
}

fn not_found(code: &'static str, text: &'static str) -> fn(&str) -> (u16, &'static str, String) {
    // One function per answer: a closure capturing the code cannot be a fn.
    match (code, text) {
        ("LoadBalancerNotFound", _) => |_| {
            (
                400,
                "LoadBalancerNotFound",
                "One or more load balancers not found".into(),
            )
        },
        ("TargetGroupNotFound", _) => |_| {
            (
                400,
                "TargetGroupNotFound",
                "One or more target groups not found".into(),
            )
        },
        ("ListenerNotFound", _) => |_| {
            (
                400,
                "ListenerNotFound",
                "One or more listeners not found".into(),
            )
        },
        ("NoSuchEntity", "role") => |n| {
            (
                404,
                "NoSuchEntity",
                format!("The role with name {n} cannot be found."),
            )
        },
        ("NoSuchEntity", _) => |n| {
            (
                404,
                "NoSuchEntity",
                format!("Instance Profile {n} cannot be found."),
            )
        },
        ("CacheSubnetGroupNotFoundFault", _) => |n| {
            (
                404,
                "CacheSubnetGroupNotFoundFault",
                format!("Cache subnet group {n} not found."),
            )
        },
        ("ReplicationGroupNotFoundFault", _) => |n| {
            (
                404,
                "ReplicationGroupNotFoundFault",
                format!("Replication group {n} not found."),
            )
        },
        ("ValidationError", _) => |n| {
            (
                400,
                "ValidationError",
                format!("AutoScalingGroup name not found - AutoScalingGroup {n} not found"),
            )
        },
        ("ClusterNotFoundException", _) => {
            |_| (400, "ClusterNotFoundException", "Cluster not found.".into())
        }
        ("ServiceNotFoundException", _) => {
            |_| (400, "ServiceNotFoundException", "Service not found.".into())
        }
        ("ParameterNotFound", _) => |_| (400, "ParameterNotFound", String::new()),
        _ => |n| {
            (400, "RepositoryNotFoundException", format!("The repository with name '{n}' does not exist in the registry with id '123456789012'"))
        },
    }
}

pub(super) fn rules() -> Vec<CreateRule> {
    use From::{Request, Response};
    let ec2 = |action, tag| CreateRule {
        service: "ec2",
        action,
        from: Response(tag),
        keys: &[],
        answer: ec2_missing,
        skip_describes: false,
    };
    let named = |service, action, from, keys, answer, skip_describes| CreateRule {
        service,
        action,
        from,
        keys,
        answer,
        skip_describes,
    };
    vec![
        ec2("CreateVpc", "vpcId"),
        ec2("CreateSubnet", "subnetId"),
        ec2("CreateSecurityGroup", "groupId"),
        ec2("CreateRouteTable", "routeTableId"),
        ec2("CreateInternetGateway", "internetGatewayId"),
        ec2("CreateNatGateway", "natGatewayId"),
        ec2("AllocateAddress", "allocationId"),
        ec2("CreateLaunchTemplate", "launchTemplateId"),
        named(
            "elasticloadbalancing",
            "CreateLoadBalancer",
            Response("LoadBalancerArn"),
            &[],
            not_found("LoadBalancerNotFound", ""),
            false,
        ),
        named(
            "elasticloadbalancing",
            "CreateTargetGroup",
            Response("TargetGroupArn"),
            &[],
            not_found("TargetGroupNotFound", ""),
            false,
        ),
        named(
            "elasticloadbalancing",
            "CreateListener",
            Response("ListenerArn"),
            &[],
            not_found("ListenerNotFound", ""),
            false,
        ),
        named(
            "iam",
            "CreateRole",
            Request("RoleName"),
            &["RoleName"],
            not_found("NoSuchEntity", "role"),
            false,
        ),
        named(
            "iam",
            "CreateInstanceProfile",
            Request("InstanceProfileName"),
            &["InstanceProfileName"],
            not_found("NoSuchEntity", "profile"),
            false,
        ),
        named(
            "elasticache",
            "CreateCacheSubnetGroup",
            Request("CacheSubnetGroupName"),
            &["CacheSubnetGroupName"],
            not_found("CacheSubnetGroupNotFoundFault", ""),
            false,
        ),
        named(
            "elasticache",
            "CreateReplicationGroup",
            Request("ReplicationGroupId"),
            &["ReplicationGroupId"],
            not_found("ReplicationGroupNotFoundFault", ""),
            false,
        ),
        // Auto Scaling and ECS describe an unknown name as an empty list,
        // not an error: only their other actions answer NotFound.
        named(
            "autoscaling",
            "CreateAutoScalingGroup",
            Request("AutoScalingGroupName"),
            &["AutoScalingGroupName", "ResourceId"],
            not_found("ValidationError", ""),
            true,
        ),
        named(
            "ecs",
            "CreateCluster",
            Request("clusterName"),
            &["cluster"],
            not_found("ClusterNotFoundException", ""),
            true,
        ),
        named(
            "ecs",
            "CreateService",
            Request("serviceName"),
            &["service"],
            not_found("ServiceNotFoundException", ""),
            true,
        ),
        named(
            "ssm",
            "PutParameter",
            Request("Name"),
            &["Name", "ResourceId"],
            not_found("ParameterNotFound", ""),
            false,
        ),
        named(
            "ecr",
            "CreateRepository",
            Request("repositoryName"),
            &["repositoryName"],
            not_found("RepositoryNotFoundException", ""),
            false,
        ),
    ]
}

pub(super) fn throttled(service: &str) -> (u16, &'static str, String) {
    match service {
        "ec2" => (
            503,
            "RequestLimitExceeded",
            "Request limit exceeded.".into(),
        ),
        "ecs" | "ssm" | "ecr" => (400, "ThrottlingException", "Rate exceeded".into()),
        _ => (400, "Throttling", "Rate exceeded".into()),
    }
}

pub(super) fn server_error(service: &str) -> (u16, &'static str, String) {
    match service {
        "ec2" => (
            500,
            "InternalError",
            "An internal error has occurred".into(),
        ),
        _ => (
            500,
            "InternalFailure",
            "The request processing has failed because of an unknown error, exception or failure."
                .into(),
        ),
    }
}

pub(super) fn denied(service: &str, op: &str) -> (u16, &'static str, String) {
    let resource = format!("arn:aws:{service}:us-east-1:123456789012:*");
    let why = format!(
        "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: {op} on resource: {resource} because no identity-based policy allows the {op} action"
    );
    match service {
        "ec2" => (
            403,
            "UnauthorizedOperation",
            format!("You are not authorized to perform this operation. {why}. Encoded authorization failure message: AbCdEf0123"),
        ),
        "ecs" | "ssm" | "ecr" => (400, "AccessDeniedException", why),
        _ => (403, "AccessDenied", why),
    }
}

pub(super) fn error_response(req: &Request, status: u16, code: &str, message: &str) -> Answer {
    let (kind, body) = if req.json {
        (
            "application/x-amz-json-1.1",
            serde_json::json!({"__type": code, "message": message}).to_string(),
        )
    } else if req.service == "ec2" {
        (
            "text/xml",
            format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>{code}</Code><Message>{}</Message></Error></Errors><RequestID>fault-proxy</RequestID></Response>", xml_escape(message)),
        )
    } else {
        (
            "text/xml",
            format!("<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>", xml_escape(message)),
        )
    };
    (
        status,
        vec![("Content-Type".into(), kind.into())],
        body.into_bytes(),
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
}
