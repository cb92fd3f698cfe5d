//! An error as a person reads it: what happened, why, and AWS's code (or
//! the kind of failure), short enough for one line. The cases people meet
//! first get a why that says what to do: no credentials, expired or
//! rejected credentials, access denied, an endpoint that does not answer,
//! throttling that outlasted the retries, a region without enough zones.
//! The full chain of causes is logged at debug level (`-v`). The engine logs
//! each failure this way as it happens; the CLI ends with the first one.

use crate::error::{AwsFailure, Error, FailureKind};
use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explained {
    pub what: String,
    pub why: String,
    pub code: String,
}

impl fmt::Display for Explained {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.why.is_empty() {
            f.write_str(&self.what)
        } else {
            write!(f, "{}: {}", self.what, self.why)
        }
    }
}

/// One failure among several, as the engine logs it when it happens.
pub fn short(err: &Error) -> Explained {
    explain(err, &Target::default())
}

/// Where the calls went: the endpoint given (`--endpoint-url` or
/// `AWS_ENDPOINT_URL`) and the credentials profile named (`AWS_PROFILE`),
/// if any.
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub endpoint: Option<String>,
    pub aws_profile: Option<String>,
}

const POLICY: &str = "docs/ci.md has the policy the provisioner needs";
const LONGEST_WHY: usize = 240;

pub fn explain(err: &Error, target: &Target) -> Explained {
    match err {
        Error::Aws {
            action,
            kind,
            name,
            failure,
        } => Explained {
            what: format!("{action} {kind} {name}"),
            why: shorten(&aws_why(failure, target)),
            code: aws_code(failure),
        },
        Error::Apply { failed, first } => {
            let mut inner = explain(first, target);
            if *failed > 1 {
                inner.what = format!("{} (and {} more changes failed)", inner.what, failed - 1);
            }
            inner
        }
        Error::TooFewZones { region, have, need } => Explained {
            what: format!("region {region}"),
            why: format!(
                "has {have} availability zones, the stack needs {need} (one per subnet pair): \
                 choose another with --region or the profile's region"
            ),
            code: "TooFewZones".into(),
        },
        other => {
            let text = other.to_string();
            let (what, why) = text.split_once(": ").unwrap_or((text.as_str(), ""));
            Explained {
                what: what.to_string(),
                why: shorten(why),
                code: variant(other).into(),
            }
        }
    }
}

fn aws_code(failure: &AwsFailure) -> String {
    match (&failure.code, failure.kind) {
        (Some(code), _) => code.clone(),
        (None, FailureKind::NoCredentials) => "NoCredentials".into(),
        (None, FailureKind::Credentials) => "CredentialsNotLoaded".into(),
        (None, FailureKind::Unreachable) => "EndpointUnreachable".into(),
        (None, FailureKind::Timeout) => "EndpointTimeout".into(),
        (None, _) => "AwsCallFailed".into(),
    }
}

fn aws_why(failure: &AwsFailure, target: &Target) -> String {
    let endpoint = match &target.endpoint {
        Some(url) => url.as_str(),
        None => "AWS's endpoint",
    };
    let fix_endpoint = match &target.endpoint {
        Some(_) => "is the emulator running? (--endpoint-url, AWS_ENDPOINT_URL)",
        None => "check the network, a proxy or the region",
    };
    match failure.kind {
        FailureKind::NoCredentials => {
            return match &target.aws_profile {
                Some(p) => format!(
                    "no AWS credentials found: AWS_PROFILE={p} names no profile with \
                     credentials (aws configure list-profiles)"
                ),
                None => "no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and \
                         AWS_SECRET_ACCESS_KEY (or --endpoint-url for an emulator)"
                    .into(),
            }
        }
        FailureKind::Credentials => {
            return format!(
                "the configured AWS credentials could not be loaded ({}): renew them \
                 (aws sso login) or check AWS_PROFILE",
                innermost(failure)
            )
        }
        FailureKind::Unreachable => {
            return format!(
                "nothing answers at {endpoint} ({}): {fix_endpoint}",
                innermost(failure)
            )
        }
        FailureKind::Timeout => {
            return format!("{endpoint} did not answer in time: {fix_endpoint}")
        }
        FailureKind::Service | FailureKind::Other => {}
    }
    let code = failure.code.as_deref().unwrap_or_default();
    let message = failure.message.as_deref().unwrap_or_default();
    if is_expired(code) {
        return format!(
            "the AWS credentials have expired ({code}): renew them (aws sso login, new \
             session credentials) and check the machine's clock"
        );
    }
    if is_rejected(code) {
        return format!(
            "AWS does not accept these credentials ({code}): check the access key, the \
             session token or AWS_PROFILE"
        );
    }
    if is_denied(code) {
        return match denied(message) {
            Some((action, resource)) => {
                format!("access denied: not allowed to {action} on {resource}; {POLICY}")
            }
            None => format!("access denied ({code}); {POLICY}"),
        };
    }
    if is_throttling(code) {
        return format!(
            "AWS kept throttling the calls ({code}) past the retries: the account's API \
             rate is shared; run again in a minute or lower --concurrency"
        );
    }
    if failure.kind == FailureKind::Other && failure.code.is_none() {
        return format!(
            "{} ({})",
            failure.summary.lines().next().unwrap_or_default(),
            innermost(failure)
        );
    }
    failure.summary.clone()
}

/// The deepest cause, in a few words: an I/O error's kind ("connection
/// refused"), else the last message's first line.
fn innermost(failure: &AwsFailure) -> String {
    let mut last = failure.source.to_string();
    let mut cause = failure.source.source();
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return io.kind().to_string();
        }
        let text = e.to_string();
        if !text.is_empty() {
            last = text;
        }
        cause = e.source();
    }
    last.lines().next().unwrap_or_default().trim().to_string()
}

/// AWS's codes for credentials past their expiry (EC2's `RequestExpired`
/// also means a clock more than 15 minutes off: "Error codes for the Amazon
/// EC2 API").
fn is_expired(code: &str) -> bool {
    matches!(
        code,
        "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" | "TokenRefreshRequired"
    )
}

/// Credentials AWS does not know: EC2's `AuthFailure`, the query services'
/// `InvalidClientTokenId`, the JSON services' `UnrecognizedClientException`.
fn is_rejected(code: &str) -> bool {
    matches!(
        code,
        "AuthFailure"
            | "InvalidClientTokenId"
            | "UnrecognizedClientException"
            | "SignatureDoesNotMatch"
            | "IncompleteSignature"
    )
}

/// EC2's `UnauthorizedOperation`, the query services' `AccessDenied`, the
/// JSON services' `AccessDeniedException`.
fn is_denied(code: &str) -> bool {
    matches!(
        code,
        "UnauthorizedOperation" | "AccessDenied" | "AccessDeniedException"
    )
}

/// The codes the SDK's standard retry strategy retries as throttling: by
/// the time one reaches a person, every attempt was throttled. Not
/// `LimitExceededException`, which some services send for a quota.
pub fn is_throttling(code: &str) -> bool {
    code != "LimitExceededException"
        && aws_runtime::retries::classifiers::THROTTLING_ERRORS.contains(&code)
}

/// The action and resource of an access-denied message, in the form the
/// IAM user guide gives ("Troubleshoot access denied error messages"):
/// "User: ARN is not authorized to perform: ACTION on resource: ARN
/// because ...".
fn denied(message: &str) -> Option<(String, String)> {
    let word_after = |marker: &str| {
        let rest = &message[message.find(marker)? + marker.len()..];
        let word = rest.split_whitespace().next()?;
        Some(word.trim_end_matches(['.', ',', ';']).to_string())
    };
    let action = word_after("is not authorized to perform: ")?;
    let resource = word_after(" on resource: ").unwrap_or_else(|| "this resource".into());
    Some((action, resource))
}

/// One line, at most [`LONGEST_WHY`] characters.
fn shorten(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default().trim();
    if line.chars().count() <= LONGEST_WHY {
        return line.to_string();
    }
    let mut short: String = line.chars().take(LONGEST_WHY - 1).collect();
    short.push('…');
    short
}

fn variant(err: &Error) -> &'static str {
    match err {
        Error::Aws { .. } => "Aws",
        Error::Unexpected { .. } => "Unexpected",
        Error::WaitTimeout { .. } => "WaitTimeout",
        Error::NotConverged { .. } => "NotConverged",
        Error::TooFewZones { .. } => "TooFewZones",
        Error::Locked { .. } => "Locked",
        Error::LockLost { .. } => "LockLost",
        Error::Profile { .. } => "Profile",
        Error::InvalidProfile { .. } => "InvalidProfile",
        Error::Plan(_) => "Plan",
        Error::Usage(_) => "Usage",
        Error::Cost(_) => "Prices",
        Error::Apply { .. } => "Apply",
    }
}

/// The whole chain of causes, each as its own line(s) unless an earlier
/// one already said it, for `-v`.
pub fn causes(err: &Error) -> String {
    let mut said = err.to_string();
    let mut cause = std::error::Error::source(err);
    while let Some(e) = cause {
        let text = e.to_string();
        if !said.contains(&text) {
            said.push_str("\n  caused by: ");
            said.push_str(&text);
        }
        cause = e.source();
    }
    said
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(code: &str, message: &str) -> Error {
        Error::Aws {
            action: "creating",
            kind: "vpc",
            name: "spaaace-dev".into(),
            failure: Box::new(AwsFailure {
                kind: FailureKind::Service,
                code: Some(code.into()),
                message: Some(message.into()),
                summary: format!("{code}: {message}"),
                source: message.to_string().into(),
            }),
        }
    }

    #[test]
    fn access_denied_names_the_action_the_resource_and_the_policy() {
        // The EC2 form, from the EC2 API reference's UnauthorizedOperation.
        let e = service(
            "UnauthorizedOperation",
            "You are not authorized to perform this operation. User: \
             arn:aws:iam::123456789012:user/ci is not authorized to perform: ec2:CreateVpc \
             on resource: arn:aws:ec2:us-east-1:123456789012:vpc/* because no \
             identity-based policy allows the ec2:CreateVpc action. Encoded authorization \
             failure message: AbC",
        );
        let x = explain(&e, &Target::default());
        assert_eq!(x.what, "creating vpc spaaace-dev");
        assert_eq!(
            x.why,
            "access denied: not allowed to ec2:CreateVpc on \
             arn:aws:ec2:us-east-1:123456789012:vpc/*; docs/ci.md has the policy the \
             provisioner needs"
        );
        assert_eq!(x.code, "UnauthorizedOperation");
        let bare = explain(
            &service("AccessDenied", "Access Denied"),
            &Target::default(),
        );
        assert!(bare.why.contains("docs/ci.md"), "{}", bare.why);
    }

    #[test]
    fn expired_rejected_and_throttled_say_what_to_do() {
        let t = Target::default();
        let expired = explain(
            &service(
                "ExpiredToken",
                "The security token included in the request is expired",
            ),
            &t,
        );
        assert!(expired.why.contains("expired") && expired.why.contains("renew"));
        let rejected = explain(
            &service(
                "AuthFailure",
                "AWS was not able to validate the provided access credentials",
            ),
            &t,
        );
        assert!(rejected.why.contains("does not accept these credentials"));
        let throttled = explain(
            &service("RequestLimitExceeded", "Request limit exceeded."),
            &t,
        );
        assert!(throttled.why.contains("throttling") && throttled.why.contains("--concurrency"));
        let other = explain(
            &service(
                "InvalidSubnet.Conflict",
                "The CIDR '10.0.13.0/24' conflicts",
            ),
            &t,
        );
        assert_eq!(
            other.why,
            "InvalidSubnet.Conflict: The CIDR '10.0.13.0/24' conflicts"
        );
    }

    #[test]
    fn other_errors_split_into_what_and_why() {
        let x = explain(
            &Error::Usage("deploy needs the image to roll out: --image URI".into()),
            &Target::default(),
        );
        assert_eq!(x.what, "deploy needs the image to roll out");
        assert_eq!(x.why, "--image URI");
        assert_eq!(x.code, "Usage");
        let zones = explain(
            &Error::TooFewZones {
                region: "us-west-1".into(),
                have: 2,
                need: 3,
            },
            &Target::default(),
        );
        assert!(zones
            .to_string()
            .starts_with("region us-west-1: has 2 availability zones"));
        assert!(shorten(&"x".repeat(500)).chars().count() <= LONGEST_WHY);
    }
}
