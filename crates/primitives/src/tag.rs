//! Tags: a 256-bit set of requirements (orders) and capabilities (workerpool orders).
//!
//! Bits follow iExec so that its users' tags mean the same here: bit 0 = TEE, bits 1–3 = TEE
//! framework (Scone, Gramine, TDX), bit 8 = GPU. dexec adds bit 9 = container: the worker runs
//! container apps (app type `OCI`). A match needs every bit of `app | dataset | request` to be
//! offered by the workerpool order.

use alloy::primitives::{B256, U256};

/// Bit 0: the task must run in a trusted execution environment.
pub const TEE: B256 = bit(0);
/// Bit 1: TEE framework Scone.
pub const SCONE: B256 = bit(1);
/// Bit 2: TEE framework Gramine.
pub const GRAMINE: B256 = bit(2);
/// Bit 3: TEE framework Intel TDX.
pub const TDX: B256 = bit(3);
/// Bit 8: the task needs a GPU.
pub const GPU: B256 = bit(8);
/// Bit 9 (dexec's): the workers run container apps (app type `OCI`, iExec's `DOCKER`).
pub const CONTAINER: B256 = bit(9);
/// The TEE framework bits (1–3); the hub ignores a dataset's framework bits.
pub const TEE_FRAMEWORKS: B256 = bit_or(bit_or(SCONE, GRAMINE), TDX);

/// Named bits, lowest first: what [`parse`] accepts and [`names`] prints.
pub const NAMED: [(&str, B256); 6] = [
    ("tee", TEE),
    ("scone", SCONE),
    ("gramine", GRAMINE),
    ("tdx", TDX),
    ("gpu", GPU),
    ("container", CONTAINER),
];

/// Whether an app of this registry type runs in a container (`OCI`, or iExec's `DOCKER`), not
/// in the WASM runtime. Case-insensitive.
pub fn is_container_app(app_type: &str) -> bool {
    let t = app_type.trim();
    t.eq_ignore_ascii_case("OCI") || t.eq_ignore_ascii_case("DOCKER")
}

/// The tag bits an app of this type needs from the worker: [`CONTAINER`] for container apps,
/// none for WASM.
pub fn required_by_app_type(app_type: &str) -> B256 {
    if is_container_app(app_type) {
        CONTAINER
    } else {
        B256::ZERO
    }
}

/// Why a tag string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    /// A name that is not one of `tee`, `scone`, `gramine`, `tdx`, `gpu`, `container`.
    #[error(
        "unknown tag `{0}` (known: tee, scone, gramine, tdx, gpu, container, or a 0x-prefixed \
         bytes32)"
    )]
    UnknownName(String),
    /// A `0x` value that is not at most 32 bytes of hex.
    #[error("invalid tag `{0}`: expected at most 64 hex digits after 0x")]
    InvalidHex(String),
}

/// A tag with only bit `n` set (bit 0 is the lowest-order bit of the bytes32).
pub const fn bit(n: usize) -> B256 {
    let mut bytes = [0u8; 32];
    bytes[31 - n / 8] = 1 << (n % 8);
    B256::new(bytes)
}

const fn bit_or(a: B256, b: B256) -> B256 {
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = a.0[i] | b.0[i];
        i += 1;
    }
    B256::new(out)
}

/// True if every bit of `required` is in `offered`.
pub fn is_subset(required: B256, offered: B256) -> bool {
    required & !offered == B256::ZERO
}

/// Parse a tag: a `0x`-prefixed hex number (at most 32 bytes), or names separated by commas
/// (`"tee,scone"`, case-insensitive, blanks ignored). An empty string is the empty tag.
pub fn parse(s: &str) -> Result<B256, TagError> {
    let s = s.trim();
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return U256::from_str_radix(hex, 16)
            .ok()
            .filter(|_| !hex.is_empty() && hex.len() <= 64)
            .map(B256::from)
            .ok_or_else(|| TagError::InvalidHex(s.to_owned()));
    }
    let mut tag = B256::ZERO;
    for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let (_, value) = NAMED
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
            .ok_or_else(|| TagError::UnknownName(name.to_owned()))?;
        tag |= *value;
    }
    Ok(tag)
}

/// Names of the bits set in `tag`, lowest first; unnamed bits appear as `bit<n>`.
pub fn names(tag: B256) -> Vec<String> {
    let value = U256::from_be_bytes(tag.0);
    (0..256)
        .filter(|&n| value.bit(n))
        .map(|n| match NAMED.iter().find(|(_, b)| *b == bit(n)) {
            Some((name, _)) => (*name).to_owned(),
            None => format!("bit{n}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_match_iexec() {
        assert_eq!(U256::from_be_bytes(TEE.0), U256::from(1));
        assert_eq!(U256::from_be_bytes(GPU.0), U256::from(0x100));
        assert_eq!(U256::from_be_bytes(TEE_FRAMEWORKS.0), U256::from(0x0e));
    }

    #[test]
    fn parses_names_and_hex() {
        assert_eq!(parse("").expect("empty"), B256::ZERO);
        assert_eq!(parse("TEE, gpu").expect("names"), TEE | GPU);
        assert_eq!(parse("0x101").expect("hex"), TEE | GPU);
        assert_eq!(parse("fpga"), Err(TagError::UnknownName("fpga".into())));
        assert!(matches!(parse("0xzz"), Err(TagError::InvalidHex(_))));
        assert!(matches!(parse("0x"), Err(TagError::InvalidHex(_))));
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(names(TEE | SCONE | GPU), ["tee", "scone", "gpu"]);
        assert_eq!(names(bit(200)), ["bit200"]);
        assert_eq!(
            parse(&names(TEE | TDX).join(",")).expect("round trip"),
            TEE | TDX
        );
    }

    #[test]
    fn container_apps_need_the_container_bit() {
        assert_eq!(U256::from_be_bytes(CONTAINER.0), U256::from(0x200));
        assert_eq!(parse("container,gpu").expect("names"), CONTAINER | GPU);
        assert!(is_container_app("OCI") && is_container_app(" docker "));
        assert!(!is_container_app("WASM"));
        assert_eq!(required_by_app_type("oci"), CONTAINER);
        assert_eq!(required_by_app_type("WASM"), B256::ZERO);
    }

    #[test]
    fn subset() {
        assert!(is_subset(TEE, TEE | GPU));
        assert!(!is_subset(TEE | GPU, TEE));
        assert!(is_subset(B256::ZERO, B256::ZERO));
    }
}
