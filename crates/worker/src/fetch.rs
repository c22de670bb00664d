//! Downloads (apps, datasets, input files) with size and time limits, checksums, and the
//! private-address rule; and the deterministic zip of `/iexec_out`.

use std::io::{Cursor, Write};
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use alloy::primitives::B256;
use sha2::{Digest, Sha256};

/// Download limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest download, bytes.
    pub max_bytes: u64,
    /// Longest download.
    pub timeout: Duration,
    /// Allow URLs whose host resolves to loopback, private or link-local addresses (off:
    /// a requester must not make workers probe their own network).
    pub allow_private: bool,
    /// Hosts input files may come from even when they resolve to private addresses (the
    /// operator's allow-list, e.g. a devnet's price sources on loopback): `host` (any port)
    /// or `host:port`, compared with the URL's host as written.
    pub allowed_hosts: Vec<String>,
}

impl Limits {
    /// Whether the operator's allow-list names `url`'s host (and port).
    pub fn allows(&self, url: &url::Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = host.trim_matches(['[', ']']);
        let port = url.port_or_known_default();
        self.allowed_hosts.iter().any(|entry| {
            let entry = entry.trim();
            // `host:port`, `[v6]:port`, or a bare host (an IPv6 address has colons of its own)
            let (name, wanted) = match entry.rsplit_once(':') {
                Some((name, p)) if !name.contains(':') || name.ends_with(']') => {
                    (name, p.parse::<u16>().ok())
                }
                _ => (entry, None),
            };
            name.trim_matches(['[', ']']).eq_ignore_ascii_case(host)
                && wanted.is_none_or(|w| Some(w) == port)
        })
    }
}

/// Why a download failed. The `Display` text is deterministic (no addresses, no transport
/// detail): it goes into the error result every honest worker must agree on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// Not an `http(s)://` URL, a store path or a blob id.
    #[error("unsupported location")]
    Unsupported,
    /// The host resolves to a loopback, private or link-local address.
    #[error("refused: private address")]
    Private,
    /// Connection, HTTP status, timeout.
    #[error("download failed")]
    Failed,
    /// Larger than allowed.
    #[error("too large")]
    TooLarge,
    /// The bytes do not hash to the expected checksum.
    #[error("checksum mismatch")]
    Checksum,
}

/// Resolve a location to a URL: `http(s)://…` as is; `/blobs/<id>` or a bare 64-hex blob id
/// (optionally `0x`) against `store` (the trusted, operator-configured store). Returns the
/// URL and whether it is on the trusted store.
pub fn resolve(location: &str, store: Option<&str>) -> Result<(url::Url, bool), FetchError> {
    let location = location.trim();
    let on_store = |path: &str| -> Result<(url::Url, bool), FetchError> {
        let base = store.ok_or(FetchError::Unsupported)?;
        let url = format!("{}{path}", base.trim_end_matches('/'));
        Ok((url.parse().map_err(|_| FetchError::Unsupported)?, true))
    };
    if location.starts_with("http://") || location.starts_with("https://") {
        let url: url::Url = location.parse().map_err(|_| FetchError::Unsupported)?;
        let trusted = store
            .and_then(|s| s.parse::<url::Url>().ok())
            .is_some_and(|s| s.origin() == url.origin());
        return Ok((url, trusted));
    }
    if location.starts_with("/blobs/") {
        return on_store(location);
    }
    let hex = location.strip_prefix("0x").unwrap_or(location);
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return on_store(&format!("/blobs/{}", hex.to_ascii_lowercase()));
    }
    Err(FetchError::Unsupported)
}

/// True for addresses a requester must not reach through a worker.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64 // CGNAT 100.64/10
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00 // unique local
                || (v6.segments()[0] & 0xffc0) == 0xfe80 // link local
                || v6.to_ipv4_mapped().is_some_and(|v4| is_private(IpAddr::V4(v4)))
        }
    }
}

/// Download `location` (see [`resolve`]) and check its sha256 against `checksum` (zero: not
/// checked).
pub async fn fetch(
    http: &reqwest::Client,
    location: &str,
    store: Option<&str>,
    checksum: B256,
    limits: &Limits,
) -> Result<Vec<u8>, FetchError> {
    let (url, client) = checked_client(location, store, limits).await?;
    let client = client.as_ref().unwrap_or(http);
    let mut bytes = Vec::new();
    tokio::time::timeout(
        limits.timeout,
        download(client, url, limits.max_bytes, |chunk| {
            bytes.extend_from_slice(chunk);
            Ok(())
        }),
    )
    .await
    .map_err(|_| FetchError::Failed)??;
    if checksum != B256::ZERO && B256::from_slice(&Sha256::digest(&bytes)) != checksum {
        return Err(FetchError::Checksum);
    }
    Ok(bytes)
}

/// Download `location` (see [`resolve`]) into the file `dest`, streaming (container images
/// are larger than memory should hold); returns its size. Checksums are the caller's: an
/// image's is the digest of a manifest inside it.
pub async fn fetch_to_file(
    http: &reqwest::Client,
    location: &str,
    store: Option<&str>,
    dest: &Path,
    limits: &Limits,
) -> Result<u64, FetchError> {
    use std::io::Write as _;
    let (url, client) = checked_client(location, store, limits).await?;
    let client = client.as_ref().unwrap_or(http);
    let mut file =
        std::io::BufWriter::new(std::fs::File::create(dest).map_err(|_| FetchError::Failed)?);
    let mut size = 0u64;
    tokio::time::timeout(
        limits.timeout,
        download(client, url, limits.max_bytes, |chunk| {
            size += chunk.len() as u64;
            file.write_all(chunk).map_err(|_| FetchError::Failed)
        }),
    )
    .await
    .map_err(|_| FetchError::Failed)??;
    file.flush().map_err(|_| FetchError::Failed)?;
    Ok(size)
}

/// The URL of `location` and, when its host had to be checked against the private-address
/// rule, a client pinned to the addresses checked.
async fn checked_client(
    location: &str,
    store: Option<&str>,
    limits: &Limits,
) -> Result<(url::Url, Option<reqwest::Client>), FetchError> {
    let (url, trusted) = resolve(location, store)?;
    let mut pinned = None;
    if !trusted && !limits.allow_private && !limits.allows(&url) {
        let host = url.host_str().ok_or(FetchError::Unsupported)?;
        let port = url.port_or_known_default().unwrap_or(80);
        let addrs: Vec<std::net::SocketAddr> =
            tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
                .await
                .map_err(|_| FetchError::Failed)?
                .collect();
        if addrs.is_empty() {
            return Err(FetchError::Failed);
        }
        if addrs.iter().any(|a| is_private(a.ip())) {
            return Err(FetchError::Private);
        }
        // connect to the addresses just checked, not to a second DNS answer (rebinding)
        if url.domain().is_some() {
            pinned = Some(pinned_client(host, &addrs)?);
        }
    }
    Ok((url, pinned))
}

/// A client that reaches `host` only at `addrs` and follows no redirects.
fn pinned_client(
    host: &str,
    addrs: &[std::net::SocketAddr],
) -> Result<reqwest::Client, FetchError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve_to_addrs(host, addrs)
        .build()
        .map_err(|_| FetchError::Failed)
}

/// GET `url` and hand its body to `sink` chunk by chunk, at most `max` bytes.
async fn download(
    http: &reqwest::Client,
    url: url::Url,
    max: u64,
    mut sink: impl FnMut(&[u8]) -> Result<(), FetchError>,
) -> Result<(), FetchError> {
    let mut response = http
        .get(url.as_str())
        .send()
        .await
        .map_err(|_| FetchError::Failed)?;
    if !response.status().is_success() {
        return Err(FetchError::Failed);
    }
    if response.content_length().is_some_and(|n| n > max) {
        return Err(FetchError::TooLarge);
    }
    let mut received = 0u64;
    while let Some(chunk) = response.chunk().await.map_err(|_| FetchError::Failed)? {
        received += chunk.len() as u64;
        if received > max {
            return Err(FetchError::TooLarge);
        }
        sink(&chunk)?;
    }
    Ok(())
}

/// Zip `dir` deterministically: entries sorted by path, fixed timestamps (1980-01-01) and
/// permissions, deflate. The same tree always gives the same bytes.
pub fn zip_dir(dir: &Path) -> std::io::Result<Vec<u8>> {
    use zip::write::SimpleFileOptions;
    let mut entries = Vec::new();
    collect(dir, dir, &mut entries)?;
    entries.sort();
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    for (name, is_dir) in entries {
        if is_dir {
            writer
                .add_directory(name.as_str(), options.unix_permissions(0o755))
                .map_err(std::io::Error::other)?;
        } else {
            writer
                .start_file(name.as_str(), options.unix_permissions(0o644))
                .map_err(std::io::Error::other)?;
            writer.write_all(&std::fs::read(dir.join(&name))?)?;
        }
    }
    let cursor = writer.finish().map_err(std::io::Error::other)?;
    Ok(cursor.into_inner())
}

/// Relative paths (with `/`) of regular files and directories under `root`; links skipped.
fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, bool)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .map_err(std::io::Error::other)?
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        if kind.is_dir() {
            out.push((format!("{rel}/"), true));
            collect(root, &path, out)?;
        } else if kind.is_file() {
            out.push((rel, false));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pinned client connects where it was told, whatever DNS would say: a name that
    /// cannot resolve reaches a local server it was pinned to.
    #[tokio::test]
    async fn pinned_clients_connect_to_the_checked_address() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut buf = [0u8; 1024];
            let _ = socket.read(&mut buf).await;
            let _ = socket
                .write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\nconnection: close\r\n\r\npinned",
                )
                .await;
        });
        let client = pinned_client("rebind.invalid", &[addr]).expect("client");
        let url =
            url::Url::parse(&format!("http://rebind.invalid:{}/x", addr.port())).expect("url");
        let mut body = Vec::new();
        download(&client, url, 1024, |chunk| {
            body.extend_from_slice(chunk);
            Ok(())
        })
        .await
        .expect("reached the pinned address");
        assert_eq!(body, b"pinned");
    }

    #[test]
    fn locations_resolve() {
        let store = Some("http://127.0.0.1:8701/");
        let id = "ab".repeat(32);
        let (url, trusted) = resolve(&id, store).expect("blob id");
        assert_eq!(url.as_str(), format!("http://127.0.0.1:8701/blobs/{id}"));
        assert!(trusted);
        let (_, trusted) = resolve(&format!("0x{id}"), store).expect("0x blob id");
        assert!(trusted);
        let (_, trusted) = resolve("http://127.0.0.1:8701/blobs/x", store).expect("store URL");
        assert!(trusted);
        let (_, trusted) = resolve("http://127.0.0.1:9999/x", store).expect("other URL");
        assert!(!trusted);
        assert_eq!(resolve("ipfs://Qm", store), Err(FetchError::Unsupported));
        assert_eq!(resolve(&id, None), Err(FetchError::Unsupported));
    }

    #[test]
    fn private_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.0.1",
            "169.254.1.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "100.64.0.1",
        ] {
            assert!(is_private(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["8.8.8.8", "2001:4860::8888", "100.128.0.1"] {
            assert!(!is_private(ip.parse().expect("ip")), "{ip}");
        }
    }

    #[tokio::test]
    async fn private_input_urls_are_refused() {
        let limits = Limits {
            max_bytes: 1024,
            timeout: Duration::from_secs(5),
            allow_private: false,
            allowed_hosts: Vec::new(),
        };
        let http = reqwest::Client::new();
        let got = fetch(
            &http,
            "http://127.0.0.1:1/secret",
            None,
            B256::ZERO,
            &limits,
        )
        .await;
        assert_eq!(got, Err(FetchError::Private));
    }

    /// The operator's allow-list opens named loopback sources (a devnet's price servers) and
    /// nothing else: another port of the same host stays refused.
    #[tokio::test]
    async fn allowed_hosts_open_named_private_sources_only() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = socket.read(&mut buf).await;
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nprice",
                    )
                    .await;
            }
        });
        let limits = Limits {
            max_bytes: 1024,
            timeout: Duration::from_secs(5),
            allow_private: false,
            allowed_hosts: vec![format!("127.0.0.1:{port}"), "localhost".into()],
        };
        let http = reqwest::Client::new();
        let url = format!("http://127.0.0.1:{port}/p");
        let got = fetch(&http, &url, None, B256::ZERO, &limits).await;
        assert_eq!(got.as_deref(), Ok(&b"price"[..]));
        let other = format!("http://127.0.0.1:{}/p", port.wrapping_add(1).max(1));
        let got = fetch(&http, &other, None, B256::ZERO, &limits).await;
        assert_eq!(got, Err(FetchError::Private));
        for (url, allowed) in [
            ("http://localhost:9/x", true),
            ("http://LOCALHOST/x", true),
            ("http://127.0.0.2/x", false),
            ("http://[::1]:80/x", false),
        ] {
            let url: url::Url = url.parse().expect("url");
            assert_eq!(limits.allows(&url), allowed, "{url}");
        }
        let v6 = Limits {
            allowed_hosts: vec!["[::1]:8080".into()],
            ..limits
        };
        assert!(v6.allows(&"http://[::1]:8080/x".parse().expect("url")));
        assert!(!v6.allows(&"http://[::1]:8081/x".parse().expect("url")));
    }

    #[test]
    fn zip_is_deterministic() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        std::fs::write(dir.path().join("sub/b.txt"), b"b").expect("write");
        std::fs::write(dir.path().join("a.txt"), b"a").expect("write");
        let first = zip_dir(dir.path()).expect("zip");
        std::thread::sleep(Duration::from_millis(1100));
        std::fs::write(dir.path().join("a.txt"), b"a").expect("rewrite");
        assert_eq!(first, zip_dir(dir.path()).expect("zip again"));
    }
}
