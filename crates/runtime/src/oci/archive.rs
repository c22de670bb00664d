//! OCI image archives (`podman save --format oci-archive`): verified before anything runs, and
//! written (the self-check image) without an engine.
//!
//! A container app's on-chain checksum is the digest of its image manifest. Verifying an
//! archive means: every blob under `blobs/sha256/` hashes to its name, `index.json` names one
//! manifest, that manifest is the expected one, and its config and every layer are blobs of
//! the archive. The manifest commits to the config and the layers by digest, so nothing in the
//! image can differ from what the app's owner registered.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The OCI media type of an image manifest.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar";
/// JSON blobs larger than this are layers, never a manifest or a config worth reading.
const MAX_JSON_BLOB: u64 = 4 << 20;

/// What a verified archive holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// sha256 of the manifest: the app's checksum.
    pub manifest_digest: [u8; 32],
    /// sha256 of the image config: the engine's image id.
    pub config_digest: [u8; 32],
    /// The layers' digests, in order.
    pub layers: Vec<[u8; 32]>,
    /// The image's entrypoint and command (from its config), for people.
    pub entrypoint: Vec<String>,
    /// The image's command.
    pub cmd: Vec<String>,
    /// The architecture the image was built for (`amd64`, …).
    pub architecture: String,
    /// Total size of the blobs, bytes.
    pub blob_bytes: u64,
}

impl ImageInfo {
    /// The engine's image id (`sha256:` + hex of the config digest).
    pub fn image_id(&self) -> String {
        format!("sha256:{}", hex::encode(self.config_digest))
    }
}

/// Why an archive was refused: a sentence for the app's error result or the CLI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ArchiveError(pub String);

fn refuse(text: impl Into<String>) -> ArchiveError {
    ArchiveError(text.into())
}

#[derive(Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
}

#[derive(Deserialize)]
struct Index {
    manifests: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct Manifest {
    config: Descriptor,
    layers: Vec<Descriptor>,
}

#[derive(Deserialize, Default)]
struct ConfigFile {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    config: ContainerConfig,
}

#[derive(Deserialize, Default)]
struct ContainerConfig {
    #[serde(rename = "Entrypoint", default)]
    entrypoint: Option<Vec<String>>,
    #[serde(rename = "Cmd", default)]
    cmd: Option<Vec<String>>,
}

fn parse_digest(digest: &str) -> Result<[u8; 32], ArchiveError> {
    let hex = digest
        .strip_prefix("sha256:")
        .ok_or_else(|| refuse(format!("digest `{digest}` is not sha256")))?;
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex, &mut out)
        .map_err(|_| refuse(format!("digest `{digest}` is not 64 hex digits")))?;
    Ok(out)
}

/// Read an OCI archive from `reader`, check every blob against its name and the manifest
/// against `expected` (the app's checksum; `None` accepts the one manifest it holds), and say
/// what it holds. Streams: only JSON blobs are kept in memory.
pub fn verify<R: Read>(reader: R, expected: Option<[u8; 32]>) -> Result<ImageInfo, ArchiveError> {
    let mut archive = tar::Archive::new(reader);
    let mut verified: BTreeSet<[u8; 32]> = BTreeSet::new();
    let mut small: BTreeMap<[u8; 32], Vec<u8>> = BTreeMap::new();
    let mut index: Option<Vec<u8>> = None;
    let mut blob_bytes = 0u64;
    let entries = archive
        .entries()
        .map_err(|e| refuse(format!("not a tar archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| refuse(format!("broken tar archive: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| refuse(format!("broken tar archive: {e}")))?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_owned();
        if !entry.header().entry_type().is_file() {
            continue;
        }
        if path == "index.json" {
            let mut bytes = Vec::new();
            entry
                .by_ref()
                .take(MAX_JSON_BLOB)
                .read_to_end(&mut bytes)
                .map_err(|e| refuse(format!("index.json: {e}")))?;
            index = Some(bytes);
        } else if let Some(name) = path.strip_prefix("blobs/sha256/") {
            let digest = parse_digest(&format!("sha256:{name}"))?;
            let size = entry.size();
            let mut hasher = Sha256::new();
            let mut kept = (size <= MAX_JSON_BLOB).then(Vec::new);
            let mut buf = vec![0u8; 256 << 10];
            loop {
                let n = entry
                    .read(&mut buf)
                    .map_err(|e| refuse(format!("blob {name}: {e}")))?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                if let Some(kept) = kept.as_mut() {
                    kept.extend_from_slice(&buf[..n]);
                }
            }
            let actual: [u8; 32] = hasher.finalize().into();
            if actual != digest {
                return Err(refuse(format!(
                    "blob sha256:{name} does not match its content (sha256:{}): the archive \
                     was altered",
                    hex::encode(actual)
                )));
            }
            blob_bytes += size;
            verified.insert(digest);
            if let Some(kept) = kept {
                small.insert(digest, kept);
            }
        }
    }
    let index = index.ok_or_else(|| {
        refuse("not an OCI archive (no index.json): save the image with `podman save --format oci-archive`")
    })?;
    let index: Index =
        serde_json::from_slice(&index).map_err(|e| refuse(format!("index.json: {e}")))?;
    let [manifest] = index.manifests.as_slice() else {
        return Err(refuse(format!(
            "the archive holds {} images; an app archive holds exactly one",
            index.manifests.len()
        )));
    };
    if !manifest.media_type.is_empty() && manifest.media_type != MANIFEST_MEDIA_TYPE {
        return Err(refuse(format!(
            "the archive's image is a `{}`, not an OCI image manifest",
            manifest.media_type
        )));
    }
    let manifest_digest = parse_digest(&manifest.digest)?;
    if let Some(expected) = expected {
        if manifest_digest != expected {
            return Err(refuse(format!(
                "image manifest sha256:{} is not the app's checksum 0x{}",
                hex::encode(manifest_digest),
                hex::encode(expected)
            )));
        }
    }
    let manifest_bytes = small
        .get(&manifest_digest)
        .ok_or_else(|| refuse("the archive lacks the manifest its index names"))?;
    let manifest: Manifest = serde_json::from_slice(manifest_bytes)
        .map_err(|e| refuse(format!("image manifest: {e}")))?;
    let config_digest = parse_digest(&manifest.config.digest)?;
    let config: ConfigFile = small
        .get(&config_digest)
        .ok_or_else(|| refuse("the archive lacks the image config its manifest names"))
        .and_then(|bytes| {
            serde_json::from_slice(bytes).map_err(|e| refuse(format!("image config: {e}")))
        })?;
    let mut layers = Vec::with_capacity(manifest.layers.len());
    for layer in &manifest.layers {
        let digest = parse_digest(&layer.digest)?;
        if !verified.contains(&digest) {
            return Err(refuse(format!(
                "the archive lacks layer {} its manifest names",
                layer.digest
            )));
        }
        layers.push(digest);
    }
    Ok(ImageInfo {
        manifest_digest,
        config_digest,
        layers,
        entrypoint: config.config.entrypoint.unwrap_or_default(),
        cmd: config.config.cmd.unwrap_or_default(),
        architecture: config.architecture,
        blob_bytes,
    })
}

/// A one-layer OCI archive of `files` (path in the image, mode, content), with `entrypoint`,
/// every timestamp at zero: the same bytes for the same files. The self-check image and test
/// apps are made with it, without an engine.
pub fn write_single_layer(
    files: &[(&str, u32, &[u8])],
    entrypoint: &[&str],
    name: &str,
) -> std::io::Result<Vec<u8>> {
    fn header(path: &str, mode: u32, size: u64, kind: tar::EntryType) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        // paths are short and ASCII here
        let _ = h.set_path(path);
        h.set_cksum();
        h
    }
    let mut layer = tar::Builder::new(Vec::new());
    for dir in ["iexec_in/", "iexec_out/", "tmp/"] {
        layer.append(&header(dir, 0o755, 0, tar::EntryType::Directory), &[][..])?;
    }
    for (path, mode, content) in files {
        let h = header(path, *mode, content.len() as u64, tar::EntryType::Regular);
        layer.append(&h, *content)?;
    }
    let layer = layer.into_inner()?;
    let layer_digest = format!("sha256:{}", hex::encode(Sha256::digest(&layer)));
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Entrypoint": entrypoint,
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        },
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
    });
    let config = serde_json::to_vec(&config).map_err(std::io::Error::other)?;
    let config_digest = format!("sha256:{}", hex::encode(Sha256::digest(&config)));
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {"mediaType": CONFIG_MEDIA_TYPE, "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": LAYER_MEDIA_TYPE, "digest": layer_digest, "size": layer.len()}],
    });
    let manifest = serde_json::to_vec(&manifest).map_err(std::io::Error::other)?;
    let manifest_digest = format!("sha256:{}", hex::encode(Sha256::digest(&manifest)));
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": MANIFEST_MEDIA_TYPE,
            "digest": manifest_digest,
            "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": name},
        }],
    });
    let index = serde_json::to_vec(&index).map_err(std::io::Error::other)?;
    let mut out = tar::Builder::new(Vec::new());
    let layout = br#"{"imageLayoutVersion":"1.0.0"}"#;
    let blobs = [
        (layer_digest, layer.as_slice()),
        (config_digest, config.as_slice()),
        (manifest_digest, manifest.as_slice()),
    ];
    for dir in ["blobs/", "blobs/sha256/"] {
        out.append(&header(dir, 0o755, 0, tar::EntryType::Directory), &[][..])?;
    }
    for (digest, bytes) in &blobs {
        let path = format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"));
        let h = header(&path, 0o644, bytes.len() as u64, tar::EntryType::Regular);
        out.append(&h, *bytes)?;
    }
    for (path, bytes) in [("oci-layout", &layout[..]), ("index.json", &index[..])] {
        let h = header(path, 0o644, bytes.len() as u64, tar::EntryType::Regular);
        out.append(&h, bytes)?;
    }
    out.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        write_single_layer(&[("app", 0o755, b"#!/bin/sh\n")], &["/app"], "t").expect("archive")
    }

    #[test]
    fn written_archives_verify_and_are_reproducible() {
        let a = sample();
        assert_eq!(a, sample(), "same files, same bytes");
        let info = verify(&a[..], None).expect("verifies");
        assert_eq!(info.entrypoint, ["/app"]);
        assert_eq!(info.layers.len(), 1);
        assert_eq!(info.architecture, "amd64");
        verify(&a[..], Some(info.manifest_digest)).expect("with its checksum");
        let wrong = verify(&a[..], Some([7; 32])).expect_err("another checksum");
        assert!(wrong.0.contains("is not the app's checksum"), "{wrong}");
    }

    #[test]
    fn a_flipped_byte_is_refused() {
        let archive = sample();
        // flip a byte inside the layer's content (the script text)
        let at = archive
            .windows(10)
            .position(|w| w == b"#!/bin/sh\n")
            .expect("content");
        let mut bad = archive.clone();
        bad[at + 2] ^= 1;
        let err = verify(&bad[..], None).expect_err("altered");
        assert!(err.0.contains("does not match its content"), "{err}");
    }

    #[test]
    fn other_archives_get_sentences() {
        let err = verify(&b"not a tar"[..], None).expect_err("garbage");
        assert!(!err.0.is_empty());
        let mut docker = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_size(2);
        h.set_cksum();
        docker
            .append_data(&mut h, "manifest.json", &b"[]"[..])
            .expect("append");
        let docker = docker.into_inner().expect("tar");
        let err = verify(&docker[..], None).expect_err("docker archive");
        assert!(err.0.contains("podman save --format oci-archive"), "{err}");
    }
}
