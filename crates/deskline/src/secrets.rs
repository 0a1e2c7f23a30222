//! Secrets deskline generates for itself when the configuration gives none (the admin token,
//! the recording link key, and source secrets in sandbox mode), kept in the data directory so
//! they survive restarts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// The generated secrets file.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct GeneratedSecrets {
    /// Bearer token for `/admin/*`.
    pub admin_token: String,
    /// Source secrets by source name.
    #[serde(default)]
    pub sources: BTreeMap<String, String>,
    /// Signs recording links; links in tickets stop opening if it changes. Absent from files
    /// written before recording links existed, so generated on the next start.
    #[serde(default)]
    pub recording_link_key: String,
}

/// A random secret of 40 letters and digits.
pub fn random_secret() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect()
}

/// Where the file lives for a data directory.
pub fn path_in(data_dir: &Path) -> PathBuf {
    data_dir.join("generated-secrets.toml")
}

impl GeneratedSecrets {
    /// Reads the file, or starts empty when it does not exist.
    pub fn load(data_dir: &Path) -> anyhow::Result<GeneratedSecrets> {
        let path = path_in(data_dir);
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text)
                .with_context(|| format!("{} is not a secrets file", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(GeneratedSecrets::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Reads the file if it exists, creating nothing: for commands that talk to a running
    /// service, which must find the secrets `deskline serve` generated, not make new ones.
    pub fn read_existing(data_dir: &Path) -> anyhow::Result<Option<GeneratedSecrets>> {
        let path = path_in(data_dir);
        if !path.exists() {
            return Ok(None);
        }
        GeneratedSecrets::load(data_dir).map(Some)
    }

    /// Fills in what is missing; returns whether anything was generated.
    pub fn ensure(&mut self, sources: &[String]) -> bool {
        let mut changed = false;
        if self.admin_token.is_empty() {
            self.admin_token = random_secret();
            changed = true;
        }
        // Generated even when no source uses deskline links yet, so that turning them on
        // needs no new secret (40 characters: above the signer's 32-byte minimum).
        if self.recording_link_key.is_empty() {
            self.recording_link_key = random_secret();
            changed = true;
        }
        for name in sources {
            if !self.sources.contains_key(name) {
                self.sources.insert(name.clone(), random_secret());
                changed = true;
            }
        }
        changed
    }

    /// Writes the file, readable by the owner only, creating the data directory for the owner
    /// only when it is missing (the database beside the file holds secrets too).
    pub fn save(&self, data_dir: &Path) -> anyhow::Result<()> {
        let mut dir = std::fs::DirBuilder::new();
        dir.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut dir, 0o700);
        dir.create(data_dir)
            .with_context(|| format!("cannot create {}", data_dir.display()))?;
        let path = path_in(data_dir);
        let text = toml::to_string(self).context("cannot encode the secrets")?;
        // Created 0600, so the secrets are never readable by others, not even for a moment.
        let mut file = std::fs::OpenOptions::new();
        file.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
        file.open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
            .with_context(|| format!("cannot write {}", path.display()))?;
        // A file an older deskline wrote keeps its mode through the open above.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("cannot restrict {}", path.display()))?;
        }
        Ok(())
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> String {
        let mode = std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode();
        format!("{:o}", mode & 0o777)
    }

    #[test]
    fn the_data_directory_and_the_file_are_the_owners_alone() {
        let tmp = tempfile::tempdir().expect("temporary directory");
        let data_dir = tmp.path().join("deskline-data");
        let mut secrets = GeneratedSecrets::default();
        secrets.ensure(&["myoperator".to_string()]);
        secrets.save(&data_dir).expect("save");
        assert_eq!(mode(&data_dir), "700");
        assert_eq!(mode(&path_in(&data_dir)), "600");
        assert_eq!(
            GeneratedSecrets::load(&data_dir).expect("load").admin_token,
            secrets.admin_token
        );
    }
}
