//! Test harness: a real moto server (pinned 5.2.5, installed by
//! `make deps`) on a free loopback port, one per test, and helpers to drive
//! the provisioner against it and read the account back.

#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod fault_proxy;

use aws_sdk_ec2::types::Filter;
use provisioner::aws::{AwsContext, AwsOptions};
use provisioner::profile::Profile;
use provisioner::session::{Session, SessionOptions};
use provisioner::wait::WaitPolicy;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

pub const REGION: &str = "us-east-1";

/// A moto server that lives as long as this value.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Moto {
        dummy_credentials();
        let bin = std::env::var("MOTO_SERVER").unwrap_or_else(|_| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv-moto/bin/moto_server").to_string()
        });
        assert!(
            Path::new(&bin).exists(),
            "moto server not found at {bin}: run make deps"
        );
        let port = free_port();
        let mut child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {bin}: {e} (run make deps)"));
        let deadline = Instant::now() + Duration::from_secs(60);
        while http(port, "GET", "/moto-api/") != Some(200) {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("moto server exited early with {status}");
            }
            assert!(
                Instant::now() < deadline,
                "moto server on port {port} never answered"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }

    pub fn port(&self) -> u16 {
        self.endpoint
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port")
    }

    /// Clears every resource.
    pub fn reset(&self) {
        assert_eq!(http(self.port(), "POST", "/moto-api/reset"), Some(200));
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dummy_credentials() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::set_var("AWS_CONFIG_FILE", "/nonexistent");
        std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent");
    });
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding a free port");
    listener.local_addr().expect("local addr").port()
}

/// Status code of a bodiless HTTP/1.1 request, or None if nothing answers.
fn http(port: u16, method: &str, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// The shipped profiles (network and workload).
pub fn shipped_profiles_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/environments"
    ))
}

/// The shipped profiles without part 2's sections: the network layer's
/// tests build the network alone (the workload has its own tests).
pub fn profiles_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("spaaace-network-profiles-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("creating the network-only profiles directory");
        for env in ["dev", "prod"] {
            let file = format!("{env}.toml");
            let text = std::fs::read_to_string(shipped_profiles_dir().join(&file))
                .expect("shipped profile");
            let mut table: toml::Table = toml::from_str(&text).expect("shipped profile parses");
            for section in ["ecs", "service", "alb", "cache", "cost"] {
                table.remove(section);
            }
            let text = toml::to_string(&table).expect("profile serializes");
            std::fs::write(dir.join(&file), text).expect("writing a network-only profile");
        }
        dir
    })
    .clone()
}

pub fn profile(env: &str) -> Profile {
    Profile::for_env(&profiles_dir(), env).expect("shipped profile")
}

/// A fresh session (fresh call counter) against moto.
pub async fn session(moto: &Moto, env: &str) -> Session {
    let options = SessionOptions {
        aws: AwsOptions {
            region: Some(REGION.into()),
            endpoint_url: Some(moto.endpoint.clone()),
            ..AwsOptions::default()
        },
        concurrency: 4,
        wait: WaitPolicy {
            interval: Duration::from_millis(100),
            timeout: Duration::from_secs(30),
            report_every: Duration::from_secs(5),
            settle: Duration::from_secs(30),
        },
    };
    Session::open(profile(env), options)
        .await
        .expect("opening a session")
}

/// A session on `profile` at `endpoint` (moto, or a proxy in front of it),
/// retrying throttling after milliseconds rather than seconds.
pub async fn session_at(endpoint: &str, profile: Profile) -> Session {
    let options = SessionOptions {
        aws: AwsOptions {
            region: Some(REGION.into()),
            endpoint_url: Some(endpoint.to_string()),
            initial_backoff: Duration::from_millis(10),
            ..AwsOptions::default()
        },
        concurrency: 4,
        wait: WaitPolicy {
            interval: Duration::from_millis(50),
            timeout: Duration::from_secs(60),
            report_every: Duration::from_secs(5),
            settle: Duration::from_secs(30),
        },
    };
    Session::open(profile, options)
        .await
        .expect("opening a session")
}

/// A shipped profile made runnable on moto 5.2.5, which lacks ElastiCache
/// parameter groups, never finishes deleting a replication group and runs
/// no containers: no cache, and an image named so no push is needed.
pub fn on_moto(env: &str) -> Profile {
    moto_profile(env, false, true)
}

/// A shipped profile on moto, with or without ElastiCache (then without a
/// custom parameter group, and never to be taken down: moto does not finish
/// deleting the group) and with or without an image named (without, the
/// task runs the environment's ECR repository's).
pub fn moto_profile(env: &str, cache: bool, image: bool) -> Profile {
    let text = std::fs::read_to_string(shipped_profiles_dir().join(format!("{env}.toml")))
        .expect("shipped profile");
    let mut table: toml::Table = toml::from_str(&text).expect("shipped profile parses");
    let section = table
        .get_mut("cache")
        .and_then(|c| c.as_table_mut())
        .expect("[cache]");
    section.insert("enabled".into(), cache.into());
    section.insert("custom_parameter_group".into(), false.into());
    if image {
        table
            .get_mut("service")
            .and_then(|s| s.as_table_mut())
            .expect("[service]")
            .insert("image".into(), "spaaace/gameserver:on-moto".into());
    }
    Profile::parse(
        Path::new(&format!("{env}.toml")),
        &toml::to_string(&table).expect("profile serializes"),
    )
    .expect("profile")
}

/// An EC2 client for reading the account back, outside any session.
pub async fn ec2(moto: &Moto) -> aws_sdk_ec2::Client {
    let ctx = AwsContext::load(&AwsOptions {
        region: Some(REGION.into()),
        endpoint_url: Some(moto.endpoint.clone()),
        ..AwsOptions::default()
    })
    .await;
    ctx.ec2
}

pub fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// The provisioner binary, pointed at moto through AWS_ENDPOINT_URL.
pub fn cli(moto: &Moto, args: &[&str]) -> Command {
    dummy_credentials();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_provisioner"));
    cmd.args(args)
        .arg("--profiles-dir")
        .arg(profiles_dir())
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_REGION", REGION)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    cmd
}

/// Runs the binary; returns (exit code, stdout, stderr).
pub fn run(moto: &Moto, args: &[&str]) -> (i32, String, String) {
    let out = cli(moto, args).output().expect("running provisioner");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Ids of every network resource carrying the ManagedBy tag, read kind by
/// kind (moto's DescribeTags still lists deleted resources), except NAT
/// gateways already deleted (AWS keeps showing those for an hour).
pub async fn managed_resources(ec2: &aws_sdk_ec2::Client) -> Vec<String> {
    let f = || filter("tag-key", "ManagedBy");
    let mut ids: Vec<String> = Vec::new();
    let vpcs = ec2
        .describe_vpcs()
        .filters(f())
        .send()
        .await
        .expect("DescribeVpcs");
    ids.extend(
        vpcs.vpcs()
            .iter()
            .filter_map(|v| v.vpc_id().map(str::to_string)),
    );
    let subnets = ec2
        .describe_subnets()
        .filters(f())
        .send()
        .await
        .expect("DescribeSubnets");
    ids.extend(
        subnets
            .subnets()
            .iter()
            .filter_map(|s| s.subnet_id().map(str::to_string)),
    );
    let igws = ec2
        .describe_internet_gateways()
        .filters(f())
        .send()
        .await
        .expect("DescribeInternetGateways");
    ids.extend(
        igws.internet_gateways()
            .iter()
            .filter_map(|g| g.internet_gateway_id().map(str::to_string)),
    );
    let rts = ec2
        .describe_route_tables()
        .filters(f())
        .send()
        .await
        .expect("DescribeRouteTables");
    ids.extend(
        rts.route_tables()
            .iter()
            .filter_map(|t| t.route_table_id().map(str::to_string)),
    );
    let sgs = ec2
        .describe_security_groups()
        .filters(f())
        .send()
        .await
        .expect("DescribeSecurityGroups");
    ids.extend(
        sgs.security_groups()
            .iter()
            .filter_map(|g| g.group_id().map(str::to_string)),
    );
    let eips = ec2
        .describe_addresses()
        .filters(f())
        .send()
        .await
        .expect("DescribeAddresses");
    ids.extend(
        eips.addresses()
            .iter()
            .filter_map(|a| a.allocation_id().map(str::to_string)),
    );
    let nats = ec2
        .describe_nat_gateways()
        .filter(f())
        .send()
        .await
        .expect("DescribeNatGateways");
    ids.extend(
        nats.nat_gateways()
            .iter()
            .filter(|n| {
                !matches!(
                    n.state().map(|s| s.as_str()),
                    Some("deleted") | Some("deleting")
                )
            })
            .filter_map(|n| n.nat_gateway_id().map(str::to_string)),
    );
    ids.sort();
    ids
}
