//! `rediss://` with a password against a real TLS redis-server. Built as the
//! gameserver alone, rustls has no crypto provider unless the store installs
//! one, so this also proves the first TLS handshake does not panic.
//! Its own test binary: it points SSL_CERT_FILE (read by the system trust
//! store loader) at a throwaway CA for the whole process.

#[path = "common/redis.rs"]
mod redis_server;

use std::time::Duration;

use gameserver::persist::{RedisHealth, RedisStore, StoreOptions};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use redis_server::RedisServer;

struct Pki {
    dir: std::path::PathBuf,
}

impl Pki {
    /// A CA and a server certificate for 127.0.0.1 signed by it, and an
    /// unrelated CA, as PEM files.
    fn new() -> Pki {
        let dir = std::env::temp_dir().join(format!("spaaace-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (ca_params, ca_key, ca_cert) = new_ca();
        let (_, _, other_ca_cert) = new_ca();
        let issuer = Issuer::new(ca_params, ca_key);
        let server_key = KeyPair::generate().unwrap();
        let server_params = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
        let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();
        let pki = Pki { dir };
        std::fs::write(pki.path("ca.pem"), ca_cert.pem()).unwrap();
        std::fs::write(pki.path("other-ca.pem"), other_ca_cert.pem()).unwrap();
        std::fs::write(pki.path("server.pem"), server_cert.pem()).unwrap();
        std::fs::write(pki.path("server.key"), server_key.serialize_pem()).unwrap();
        pki
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }
}

fn new_ca() -> (CertificateParams, KeyPair, rcgen::Certificate) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    (params, key, cert)
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn rediss_with_a_password_connects_and_a_wrong_ca_is_refused() {
    let pki = Pki::new();
    let server = RedisServer::start_tls(
        &pki.path("server.pem"),
        &pki.path("server.key"),
        &pki.path("ca.pem"),
        &["--requirepass", "tls secret"],
    );
    let url = format!("rediss://:tls%20secret@127.0.0.1:{}", server.port);
    let options = StoreOptions {
        op_timeout: Duration::from_secs(2),
        ..StoreOptions::default()
    };

    // Not trusted yet: the system store does not know this CA.
    std::env::set_var("SSL_CERT_FILE", pki.path("other-ca.pem"));
    let untrusted = RedisStore::open(&url, options.clone()).unwrap();
    let refused = untrusted
        .ping()
        .await
        .expect_err("a certificate from an unknown CA must be refused")
        .to_string();
    assert!(refused.contains("invalid peer certificate"), "{refused}");

    std::env::set_var("SSL_CERT_FILE", pki.path("ca.pem"));
    let store = RedisStore::open(&url, options).unwrap();
    store.ping().await.expect("PING over TLS with the password");
    assert_eq!(
        RedisHealth::probe(Some(&store), Duration::from_secs(2)).await,
        RedisHealth::Connected
    );
}
