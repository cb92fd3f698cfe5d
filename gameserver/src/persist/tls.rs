//! redis-rs with `tls-rustls` brings no rustls crypto provider, so a
//! `rediss://` connection would panic at its first handshake. The server
//! installs ring as the process default before any connection is made.

/// Idempotent: a provider installed earlier (by this or anything else) stays.
pub fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race to another installer is fine: a provider is in place either way.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
