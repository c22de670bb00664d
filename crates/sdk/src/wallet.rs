//! Wallets: Web3 Secret Storage (v3) keystores, as geth, foundry (`cast wallet`) and MetaMask
//! exports write them, and the well-known dev accounts of a local devnet.
//!
//! Keystores are written with the address field (geth's layout) under geth's file name,
//! `UTC--<time>--<address>`, in a keystore directory (`~/.ethereum/keystore` by default, as
//! geth and iExec's SDK use). Any v3 file can be read, whatever its name; a file without an
//! address field (foundry writes none) is found by address only after decrypting, so it is
//! selected by path instead.

use std::path::{Path, PathBuf};

use alloy::primitives::{Address, B256};
use alloy::signers::local::{coins_bip39::English, MnemonicBuilder, PrivateKeySigner};

/// The mnemonic of anvil's (and so `dexec devnet`'s) dev accounts. Public: never hold real
/// funds with these keys.
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";

/// Chain ids on which dev accounts may be used (anvil / hardhat default).
pub const DEV_CHAIN_IDS: [u64; 2] = [31337, 1337];

/// Why a wallet could not be created, found or opened.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    /// The keystore file cannot be read.
    #[error("cannot read keystore {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Writing a keystore failed.
    #[error("cannot write a keystore in {dir}: {reason}")]
    Write {
        /// The directory.
        dir: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The file is not a v3 keystore, or the password is wrong.
    #[error("cannot open keystore {path}: {reason}")]
    Decrypt {
        /// The file.
        path: PathBuf,
        /// "wrong password", or what is malformed.
        reason: String,
    },
    /// No keystore for this address in the directory.
    #[error("no keystore for {address} in {dir} (files without an address field, as foundry writes, must be given with --wallet-file)")]
    NotFound {
        /// The address looked for.
        address: Address,
        /// The keystore directory.
        dir: PathBuf,
    },
    /// The directory holds no keystore at all.
    #[error("no wallet in {0}: create one with `dexec wallet create` or import one with `dexec wallet import`")]
    Empty(PathBuf),
    /// Several keystores and nothing says which one.
    #[error(
        "{dir} holds {count} wallets: choose one with --wallet-address (see `dexec wallet show`)"
    )]
    Ambiguous {
        /// The keystore directory.
        dir: PathBuf,
        /// How many keystores it holds.
        count: usize,
    },
    /// A keystore for this address already exists; nothing was written.
    #[error("a keystore for {address} already exists: {path} (nothing was written)")]
    Exists {
        /// The address.
        address: Address,
        /// The existing file.
        path: PathBuf,
    },
    /// A private key could not be parsed.
    #[error("not a private key: expected 32 bytes as 64 hex digits (0x optional)")]
    BadKey,
    /// A dev account was asked for on a chain that is not a devnet.
    #[error("dev accounts only work on a local devnet (chain id 31337 or 1337), not on chain {0}: their keys are public")]
    NotDevnet(u64),
    /// The dev account index is out of range.
    #[error("cannot derive dev account {0}: {1}")]
    DevAccount(u32, String),
}

/// A keystore file found in a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeystoreEntry {
    /// The file.
    pub path: PathBuf,
    /// Its address, when the file states it (geth and dexec write it; foundry does not).
    pub address: Option<Address>,
}

/// The default keystore directory: `$HOME/.ethereum/keystore` (geth's and iExec's).
pub fn default_keystore_dir() -> PathBuf {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".ethereum").join("keystore")
}

/// Create a new random key, encrypted with `password` in `dir` (created if missing).
pub fn create(
    dir: &Path,
    password: &[u8],
    kdf: Kdf,
) -> Result<(PrivateKeySigner, PathBuf), WalletError> {
    let signer = PrivateKeySigner::random();
    let path = write_keystore(dir, &signer, password, kdf)?;
    Ok((signer, path))
}

/// Encrypt an existing private key (hex, 0x optional) with `password` in `dir`.
///
/// Refuses (and writes nothing) when `dir` already holds a keystore for that address.
pub fn import_key(
    dir: &Path,
    private_key: &str,
    password: &[u8],
    kdf: Kdf,
) -> Result<(PrivateKeySigner, PathBuf), WalletError> {
    let signer = parse_private_key(private_key)?;
    let path = write_keystore(dir, &signer, password, kdf)?;
    Ok((signer, path))
}

/// Import a keystore file written elsewhere (geth, `cast wallet new`, a MetaMask export):
/// decrypt it with `password` to prove it is usable, then store it in `dir` under the same
/// password in geth's layout. The original file is left untouched.
pub fn import_keystore(
    dir: &Path,
    file: &Path,
    password: &[u8],
    kdf: Kdf,
) -> Result<(PrivateKeySigner, PathBuf), WalletError> {
    let signer = open(file, password)?;
    let path = write_keystore(dir, &signer, password, kdf)?;
    Ok((signer, path))
}

/// Decrypt the keystore `path` with `password`.
pub fn open(path: &Path, password: &[u8]) -> Result<PrivateKeySigner, WalletError> {
    if let Err(source) = std::fs::metadata(path) {
        return Err(WalletError::Read {
            path: path.to_owned(),
            source,
        });
    }
    PrivateKeySigner::decrypt_keystore(path, password).map_err(|e| WalletError::Decrypt {
        path: path.to_owned(),
        reason: match e.to_string() {
            s if s.contains("Mac Mismatch") || s.contains("MacMismatch") => {
                "wrong password".to_owned()
            }
            s => s,
        },
    })
}

/// The keystores in `dir` (files that parse as JSON with a `crypto` or `Crypto` object),
/// sorted by file name. A missing directory holds none.
pub fn list(dir: &Path) -> Result<Vec<KeystoreEntry>, WalletError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(WalletError::Read {
                path: dir.to_owned(),
                source,
            })
        }
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_file() {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        if json.get("crypto").or_else(|| json.get("Crypto")).is_none() {
            continue;
        }
        let address = json
            .get("address")
            .and_then(|a| a.as_str())
            .and_then(|a| a.trim_start_matches("0x").parse::<Address>().ok());
        found.push(KeystoreEntry { path, address });
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(found)
}

/// The keystore of `address` in `dir`.
pub fn find(dir: &Path, address: Address) -> Result<PathBuf, WalletError> {
    list(dir)?
        .into_iter()
        .find(|entry| entry.address == Some(address))
        .map(|entry| entry.path)
        .ok_or_else(|| WalletError::NotFound {
            address,
            dir: dir.to_owned(),
        })
}

/// The only keystore in `dir`.
pub fn only(dir: &Path) -> Result<PathBuf, WalletError> {
    let mut all = list(dir)?;
    match all.len() {
        0 => Err(WalletError::Empty(dir.to_owned())),
        1 => Ok(all.remove(0).path),
        count => Err(WalletError::Ambiguous {
            dir: dir.to_owned(),
            count,
        }),
    }
}

/// Dev account `index` of a local devnet (anvil's mnemonic), refused on any other chain.
pub fn dev_account(index: u32, chain_id: u64) -> Result<PrivateKeySigner, WalletError> {
    if !DEV_CHAIN_IDS.contains(&chain_id) {
        return Err(WalletError::NotDevnet(chain_id));
    }
    MnemonicBuilder::<English>::default()
        .phrase(DEV_MNEMONIC)
        .index(index)
        .and_then(|b| b.build())
        .map_err(|e| WalletError::DevAccount(index, e.to_string()))
}

/// The key a service runs with: the keystore `wallet_file` (password from
/// `$DEXEC_WALLET_PASSWORD`), else dev account `dev_index` (devnets only). `role` names who
/// needs it in the error when neither is given ("the worker").
pub fn service_signer(
    wallet_file: Option<&Path>,
    dev_index: Option<u32>,
    chain_id: u64,
    role: &str,
) -> Result<PrivateKeySigner, String> {
    match (wallet_file, dev_index) {
        (Some(path), _) => {
            let password = std::env::var("DEXEC_WALLET_PASSWORD")
                .map_err(|_| "set DEXEC_WALLET_PASSWORD to open --wallet-file".to_owned())?;
            open(path, password.as_bytes()).map_err(|e| e.to_string())
        }
        (None, Some(index)) => dev_account(index, chain_id).map_err(|e| e.to_string()),
        (None, None) => Err(format!(
            "{role} needs a wallet: pass --wallet-file or --dev-account"
        )),
    }
}

/// Parse a hex private key (0x optional).
pub fn parse_private_key(text: &str) -> Result<PrivateKeySigner, WalletError> {
    let hex = text.trim().trim_start_matches("0x");
    let bytes: B256 = hex.parse().map_err(|_| WalletError::BadKey)?;
    PrivateKeySigner::from_bytes(&bytes).map_err(|_| WalletError::BadKey)
}

/// Write `signer`'s key as a v3 keystore in `dir`, named like geth's, never over a file.
fn write_keystore(
    dir: &Path,
    signer: &PrivateKeySigner,
    password: &[u8],
    kdf: Kdf,
) -> Result<PathBuf, WalletError> {
    let write_err = |reason: String| WalletError::Write {
        dir: dir.to_owned(),
        reason,
    };
    std::fs::create_dir_all(dir).map_err(|e| write_err(e.to_string()))?;
    if let Ok(path) = find(dir, signer.address()) {
        return Err(WalletError::Exists {
            address: signer.address(),
            path,
        });
    }
    let name = format!(
        "UTC--{}--{}",
        utc_timestamp(),
        hex_address(signer.address())
    );
    let path = dir.join(&name);
    if path.exists() {
        return Err(WalletError::Exists {
            address: signer.address(),
            path,
        });
    }
    let key: [u8; 32] = signer.credential().to_bytes().into();
    let json = encrypt_v3(&key, password, signer.address(), kdf).map_err(write_err)?;
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, json.to_string()).map_err(|e| write_err(e.to_string()))?;
    restrict_permissions(&tmp);
    std::fs::rename(&tmp, &path).map_err(|e| write_err(e.to_string()))?;
    Ok(path)
}

/// How hard a new keystore's password is to attack: its scrypt parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kdf {
    /// geth's standard: n = 2^18, r = 8, p = 1 (about 256 MiB and a second or so to open on a
    /// current core). The default.
    #[default]
    Standard,
    /// geth's light: n = 2^12, r = 8, p = 6 (a few MiB, milliseconds): for test wallets and
    /// small machines, far cheaper to brute-force.
    Light,
}

impl Kdf {
    /// (log2 n, r, p).
    fn params(self) -> (u8, u32, u32) {
        match self {
            Self::Standard => (18, 8, 1),
            Self::Light => (12, 8, 6),
        }
    }
}

/// A Web3 Secret Storage v3 keystore of `key` (scrypt, AES-128-CTR, keccak-256 MAC) with
/// geth's `address` field (lower-case hex, no 0x), so geth lists it and we find it without
/// decrypting; readers that do not know the field (foundry) ignore it.
fn encrypt_v3(
    key: &[u8; 32],
    password: &[u8],
    address: Address,
    kdf: Kdf,
) -> Result<serde_json::Value, String> {
    use aes::cipher::{KeyIvInit, StreamCipher};
    use rand::RngCore;
    let mut rng = rand::thread_rng();
    let mut salt = [0u8; 32];
    rng.fill_bytes(&mut salt);
    let mut iv = [0u8; 16];
    rng.fill_bytes(&mut iv);
    let (log_n, r, p) = kdf.params();
    let params = scrypt::Params::new(log_n, r, p).map_err(|e| e.to_string())?;
    let mut derived = [0u8; 32];
    scrypt::scrypt(password, &salt, &params, &mut derived).map_err(|e| e.to_string())?;
    let mut ciphertext = *key;
    ctr::Ctr128BE::<aes::Aes128>::new(derived[..16].into(), (&iv).into())
        .apply_keystream(&mut ciphertext);
    let mac = alloy::primitives::keccak256([&derived[16..], &ciphertext[..]].concat());
    // a random (version 4) UUID
    let mut id = [0u8; 16];
    rng.fill_bytes(&mut id);
    id[6] = (id[6] & 0x0f) | 0x40;
    id[8] = (id[8] & 0x3f) | 0x80;
    let id = hex_string(&id);
    let id = format!(
        "{}-{}-{}-{}-{}",
        &id[..8],
        &id[8..12],
        &id[12..16],
        &id[16..20],
        &id[20..]
    );
    Ok(serde_json::json!({
        "address": hex_address(address),
        "crypto": {
            "cipher": "aes-128-ctr",
            "cipherparams": { "iv": hex_string(&iv) },
            "ciphertext": hex_string(&ciphertext),
            "kdf": "scrypt",
            "kdfparams": {
                "dklen": 32,
                "n": 1u32 << log_n,
                "p": p,
                "r": r,
                "salt": hex_string(&salt),
            },
            "mac": hex_string(mac.as_slice()),
        },
        "id": id,
        "version": 3,
    }))
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Lower-case hex of an address without 0x (geth's file-name form).
fn hex_address(address: Address) -> String {
    format!("{address:x}").trim_start_matches("0x").to_owned()
}

/// Keystores are readable by their owner only, as geth makes them.
fn restrict_permissions(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
}

/// `YYYY-MM-DDTHH-MM-SS.000000000Z` for now (geth's keystore file-name time format).
fn utc_timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}-{:02}-{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_nanos()
    )
}

/// Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_signers_come_from_a_keystore_or_a_devnet_account() {
        let none = service_signer(None, None, 31337, "the worker").expect_err("no wallet");
        assert!(none.starts_with("the worker needs a wallet"), "{none}");
        let dev = service_signer(None, Some(2), 31337, "the worker").expect("dev account");
        assert_eq!(dev.address(), dev_account(2, 31337).expect("dev").address());
        let refused = service_signer(None, Some(2), 1, "the worker").expect_err("mainnet");
        assert!(refused.contains('1'), "{refused}");
    }

    #[test]
    fn create_open_find_and_refuse_duplicates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (signer, path) = create(dir.path(), b"pw", Kdf::Light).expect("create");
        assert!(
            path.file_name().and_then(|n| n.to_str()).is_some_and(
                |n| n.starts_with("UTC--") && n.ends_with(&hex_address(signer.address()))
            )
        );
        assert_eq!(
            open(&path, b"pw").expect("open").address(),
            signer.address()
        );
        assert_eq!(find(dir.path(), signer.address()).expect("find"), path);
        assert_eq!(only(dir.path()).expect("only"), path);
        let wrong = open(&path, b"nope").expect_err("wrong password");
        assert!(wrong.to_string().contains("wrong password"), "{wrong}");
        // importing the same key again writes nothing
        let key: String = signer
            .credential()
            .to_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let again = import_key(dir.path(), &key, b"other", Kdf::Light).expect_err("duplicate");
        assert!(matches!(again, WalletError::Exists { .. }), "{again}");
        assert_eq!(list(dir.path()).expect("list").len(), 1);
        // a second wallet makes the choice ambiguous
        create(dir.path(), b"pw", Kdf::Light).expect("second");
        assert!(matches!(
            only(dir.path()),
            Err(WalletError::Ambiguous { count: 2, .. })
        ));
    }

    #[test]
    fn dev_accounts_are_anvils_and_only_on_devnets() {
        let first = dev_account(0, 31337).expect("dev 0");
        assert_eq!(
            first.address(),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
                .parse::<Address>()
                .expect("addr")
        );
        assert!(matches!(dev_account(0, 1), Err(WalletError::NotDevnet(1))));
    }

    #[test]
    fn private_keys_parse_or_say_why() {
        assert!(parse_private_key("0x1234").is_err());
        let key = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
        assert_eq!(
            parse_private_key(key).expect("key").address(),
            dev_account(0, 31337).expect("dev").address()
        );
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_779), (2026, 11, 22));
    }
}
