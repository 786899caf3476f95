//! `docker login`: check credentials against a registry. As dockerd, the server address is
//! reduced to a host name (scheme and path dropped; Docker Hub's aliases become `docker.io`),
//! and nothing is stored: the CLI keeps the credentials and sends them with each pull.

use pier_registry::AuthConfig;

use super::{Engine, Result};

impl Engine {
    /// Returns dockerd's status text on success.
    pub async fn login(&self, auth: &AuthConfig) -> Result<&'static str> {
        let host = login_host(&auth.server_address);
        self.registry.login(&host, auth).await?;
        Ok("Login Succeeded")
    }
}

/// docker's `ConvertToHostname` plus the Docker Hub aliases.
pub fn login_host(server_address: &str) -> String {
    let s = server_address.trim();
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    let host = s.split('/').next().unwrap_or("");
    match host {
        "" | "index.docker.io" | "registry-1.docker.io" | "docker.io" => "docker.io".into(),
        h => h.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_like_docker() {
        assert_eq!(login_host("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(login_host(""), "docker.io");
        assert_eq!(login_host("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(login_host("http://reg.local:5000/v2/"), "reg.local:5000");
    }
}
