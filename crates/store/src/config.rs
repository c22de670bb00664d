//! Configuration: the `dexec store` flags ([`Args`]) and the validated [`Config`].

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

pub use dexec_sdk::store::DEFAULT_MAX_BLOB_SIZE;
use dexec_service::ListenArgs;
use url::Url;

use crate::{Error, Result};

/// Default listen address of `dexec store`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8701";
/// Default directory of the local-filesystem backend.
pub const DEFAULT_DIR: &str = ".dexec/store";
/// Default size up to which a blob is read and verified whole before its first byte is sent:
/// 16 MiB.
pub const DEFAULT_VERIFY_BUFFER_SIZE: u64 = 16 << 20;

/// Flags of `dexec store` (flatten into a clap command). Every flag also reads an environment
/// variable; the `AWS_*` variables the AWS SDKs use are honoured for S3 as well.
#[derive(Clone, clap::Args)]
#[command(mut_arg("listen", |a| a.env("DEXEC_STORE_LISTEN").default_value(DEFAULT_LISTEN)))]
pub struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[command(flatten)]
    pub listen: ListenArgs,

    /// Directory of the local-filesystem backend (created if missing). Ignored when
    /// `--backend-url` is given.
    #[arg(long, env = "DEXEC_STORE_DIR", default_value = DEFAULT_DIR)]
    pub dir: PathBuf,

    /// Storage backend as a URL: `file:///abs/path`, or `s3://bucket[/prefix]` for
    /// S3-compatible storage (AWS, MinIO, Ceph, R2...). Default: the local `--dir`.
    #[arg(long, env = "DEXEC_STORE_BACKEND_URL")]
    pub backend_url: Option<String>,

    /// S3 endpoint for non-AWS services, e.g. `http://127.0.0.1:9000` for MinIO (default: AWS,
    /// or `AWS_ENDPOINT`).
    #[arg(long, env = "DEXEC_STORE_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,

    /// S3 region (default: `AWS_REGION` / `AWS_DEFAULT_REGION`, else `us-east-1`).
    #[arg(long, env = "DEXEC_STORE_S3_REGION")]
    pub s3_region: Option<String>,

    /// S3 access key id (default: `AWS_ACCESS_KEY_ID`, or instance credentials).
    #[arg(long, env = "DEXEC_STORE_S3_ACCESS_KEY_ID")]
    pub s3_access_key_id: Option<String>,

    /// S3 secret access key (default: `AWS_SECRET_ACCESS_KEY`). Prefer the environment
    /// variable to the flag: command lines are visible to other users of the machine.
    #[arg(long, env = "DEXEC_STORE_S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub s3_secret_access_key: Option<String>,

    /// Allow plain-HTTP S3 endpoints (local MinIO and the like).
    #[arg(long, env = "DEXEC_STORE_S3_ALLOW_HTTP")]
    pub s3_allow_http: bool,

    /// Largest blob accepted, in bytes or with a unit (`256MiB`, `1GiB`, `500MB`).
    #[arg(long, env = "DEXEC_STORE_MAX_BLOB_SIZE", default_value = "256MiB", value_parser = parse_size)]
    pub max_blob_size: u64,

    /// Blobs up to this size are read and verified whole before the first byte is sent
    /// (a corrupt one gets a clean 500); larger ones are verified while streaming.
    #[arg(long, env = "DEXEC_STORE_VERIFY_BUFFER_SIZE", default_value = "16MiB", value_parser = parse_size)]
    pub verify_buffer_size: u64,

    /// Public base URL written in upload answers (`<public-url>/blobs/<id>`), e.g. when the
    /// store is behind a proxy. Default: `http://<listen address>`.
    #[arg(long, env = "DEXEC_STORE_PUBLIC_URL")]
    pub public_url: Option<Url>,
}

impl fmt::Debug for Args {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Args")
            .field("listen", &self.listen.listen)
            .field("dir", &self.dir)
            .field("backend_url", &self.backend_url)
            .field("s3_endpoint", &self.s3_endpoint)
            .field("s3_region", &self.s3_region)
            .field("s3_access_key_id", &self.s3_access_key_id)
            .field(
                "s3_secret_access_key",
                &redacted(&self.s3_secret_access_key),
            )
            .field("s3_allow_http", &self.s3_allow_http)
            .field("max_blob_size", &self.max_blob_size)
            .field("verify_buffer_size", &self.verify_buffer_size)
            .field("public_url", &self.public_url)
            .finish()
    }
}

/// Validated configuration of a store server.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to bind (port 0 picks a free port; `serve` returns the bound address).
    pub listen: SocketAddr,
    /// Where blobs are kept.
    pub backend: Backend,
    /// Largest blob accepted, in bytes (larger uploads get 413).
    pub max_blob_size: u64,
    /// Blobs up to this size are verified whole before the response starts; larger ones are
    /// verified while streaming (see `docs/store.md`, "Integrity").
    pub verify_buffer_size: u64,
    /// Base of the URLs returned by uploads; `None` means `http://<bound address>`.
    pub public_url: Option<Url>,
}

/// Storage backend of the blob store.
#[derive(Clone, Debug)]
pub enum Backend {
    /// A local directory (created if missing).
    Local(PathBuf),
    /// An S3-compatible bucket.
    S3(S3Config),
}

/// An S3-compatible bucket. Fields left `None` fall back to the `AWS_*` environment variables.
#[derive(Clone, Default)]
pub struct S3Config {
    /// Bucket name.
    pub bucket: String,
    /// Key prefix inside the bucket (no leading or trailing `/`), if any.
    pub prefix: Option<String>,
    /// Endpoint URL for non-AWS services (MinIO, Ceph, R2...).
    pub endpoint: Option<String>,
    /// Region.
    pub region: Option<String>,
    /// Access key id.
    pub access_key_id: Option<String>,
    /// Secret access key (never printed by `Debug`).
    pub secret_access_key: Option<String>,
    /// Allow `http://` endpoints.
    pub allow_http: bool,
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &redacted(&self.secret_access_key))
            .field("allow_http", &self.allow_http)
            .finish()
    }
}

fn redacted(secret: &Option<String>) -> Option<&'static str> {
    secret.as_ref().map(|_| "<redacted>")
}

impl Config {
    /// A configuration for tests: listen on `127.0.0.1:0`, store under `dir`, default limits.
    pub fn test(dir: impl Into<PathBuf>) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            backend: Backend::Local(dir.into()),
            max_blob_size: DEFAULT_MAX_BLOB_SIZE,
            verify_buffer_size: DEFAULT_VERIFY_BUFFER_SIZE,
            public_url: None,
        }
    }

    /// Validates flags into a configuration.
    pub fn from_args(args: Args) -> Result<Self> {
        let backend = match args.backend_url.as_deref() {
            None => Backend::Local(args.dir),
            Some(raw) => {
                let url = Url::parse(raw)
                    .map_err(|e| Error::Config(format!("--backend-url `{raw}`: {e}")))?;
                match url.scheme() {
                    "file" => Backend::Local(url.to_file_path().map_err(|()| {
                        Error::Config(format!(
                            "--backend-url `{raw}` is not an absolute local path"
                        ))
                    })?),
                    "s3" | "s3a" => {
                        let bucket = url.host_str().unwrap_or_default().to_owned();
                        if bucket.is_empty() {
                            return Err(Error::Config(format!(
                                "--backend-url `{raw}` names no bucket (expected s3://bucket[/prefix])"
                            )));
                        }
                        let prefix = url.path().trim_matches('/');
                        Backend::S3(S3Config {
                            bucket,
                            prefix: (!prefix.is_empty()).then(|| prefix.to_owned()),
                            endpoint: args.s3_endpoint,
                            region: args.s3_region,
                            access_key_id: args.s3_access_key_id,
                            secret_access_key: args.s3_secret_access_key,
                            allow_http: args.s3_allow_http,
                        })
                    }
                    other => {
                        return Err(Error::Config(format!(
                            "--backend-url scheme `{other}` is not supported (use file:// or s3://)"
                        )))
                    }
                }
            }
        };
        if args.max_blob_size == 0 {
            return Err(Error::Config("--max-blob-size must be positive".into()));
        }
        if let Some(url) = &args.public_url {
            if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
                return Err(Error::Config(format!(
                    "--public-url `{url}` must be an http(s) base URL"
                )));
            }
        }
        Ok(Self {
            listen: args.listen.listen,
            backend,
            max_blob_size: args.max_blob_size,
            verify_buffer_size: args.verify_buffer_size,
            public_url: args.public_url,
        })
    }
}

impl TryFrom<Args> for Config {
    type Error = Error;

    fn try_from(args: Args) -> Result<Self> {
        Self::from_args(args)
    }
}

/// Parses a byte size: a plain number of bytes, or a number with a unit among `B`, `KB`,
/// `MB`, `GB` (powers of 1000) and `K`, `KiB`, `M`, `MiB`, `G`, `GiB` (powers of 1024);
/// units are case-insensitive.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a size (examples: 1048576, 512KiB, 256MiB, 1GiB)"))?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        other => {
            return Err(format!(
                "unknown size unit `{other}` in `{s}` (use B, KiB, MiB, GiB, KB, MB or GB)"
            ))
        }
    };
    n.checked_mul(multiplier)
        .ok_or_else(|| format!("size `{s}` is too large"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn config(argv: &[&str]) -> Result<Config> {
        let cli = Cli::try_parse_from(std::iter::once("store").chain(argv.iter().copied()))
            .map_err(|e| Error::Config(e.to_string()))?;
        Config::from_args(cli.args)
    }

    #[test]
    fn sizes_parse_with_and_without_units() {
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("256MiB"), Ok(256 << 20));
        assert_eq!(parse_size("1 GiB"), Ok(1 << 30));
        assert_eq!(parse_size("500mb"), Ok(500_000_000));
        assert_eq!(parse_size("4k"), Ok(4096));
        assert!(parse_size("").is_err());
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("99999999999999GiB").is_err());
    }

    #[test]
    fn defaults_give_a_local_store_on_port_8701() {
        let c = config(&[]).unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert!(matches!(&c.backend, Backend::Local(p) if p == std::path::Path::new(DEFAULT_DIR)));
        assert_eq!(c.max_blob_size, DEFAULT_MAX_BLOB_SIZE);
        assert_eq!(c.verify_buffer_size, DEFAULT_VERIFY_BUFFER_SIZE);
    }

    #[test]
    fn s3_backend_url_takes_bucket_prefix_and_s3_flags() {
        let c = config(&[
            "--backend-url",
            "s3://results/dexec/blobs/",
            "--s3-endpoint",
            "http://127.0.0.1:9000",
            "--s3-allow-http",
            "--s3-secret-access-key",
            "hunter2",
        ])
        .unwrap();
        let Backend::S3(s3) = &c.backend else {
            panic!("expected S3, got {:?}", c.backend)
        };
        assert_eq!(s3.bucket, "results");
        assert_eq!(s3.prefix.as_deref(), Some("dexec/blobs"));
        assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert!(s3.allow_http);
        let debug = format!("{c:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
    }

    #[test]
    fn bad_backend_urls_and_limits_are_rejected() {
        for argv in [
            &["--backend-url", "ftp://x/y"][..],
            &["--backend-url", "s3:///nobucket"],
            &["--backend-url", "not a url"],
            &["--max-blob-size", "0"],
            &["--public-url", "ftp://example.com"],
        ] {
            let err = config(argv).unwrap_err();
            assert!(matches!(err, Error::Config(_)), "{argv:?}: {err}");
        }
    }

    #[test]
    fn file_backend_url_is_a_local_dir() {
        let c = config(&["--backend-url", "file:///var/lib/dexec"]).unwrap();
        assert!(
            matches!(&c.backend, Backend::Local(p) if p == std::path::Path::new("/var/lib/dexec"))
        );
    }
}
