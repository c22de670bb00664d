//! The market's wire formats as OpenAPI schemas (feature `openapi`): the exact patterns of its
//! hashes, addresses, amounts and signatures, and the signed orders of the four kinds, field by
//! field, as the server parses them. The server (`dexec-market`) builds its OpenAPI document
//! from these and from the `#[cfg_attr(feature = "openapi", …)]` of the wire types, and a test
//! there checks that each order schema names exactly the fields of its order type.
//!
//! The schemas describe what the server accepts, not every spelling its parsers tolerate: an
//! amount is a JSON integer, a `0x`-hex string or a decimal string up to 2^63 − 1 (the book
//! stores BIGINTs); the hub's `uint256` would take more, and the market refuses it (400).

use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

/// `0x` and 40 hex digits (either case).
pub const ADDRESS_PATTERN: &str = "^0x[0-9a-fA-F]{40}$";
/// `0x` and 64 hex digits (either case).
pub const BYTES32_PATTERN: &str = "^0x[0-9a-fA-F]{64}$";
/// An address or `any` (query filters).
pub const ADDRESS_FILTER_PATTERN: &str = "^(0x[0-9a-fA-F]{40}|any)$";
/// Largest number the book stores (BIGINT): 2^63 − 1, as a string.
pub const MAX_NUMBER: i64 = i64::MAX;
/// Largest JSON integer the document allows, 2^53 − 1: a JSON number beyond it is not exact in
/// most JSON parsers (I-JSON), and `5.0` is an integer to JSON Schema: the server takes an
/// integral float up to it as the integer. Larger numbers are written as strings.
pub const MAX_JSON_INTEGER: i64 = (1 << 53) - 1;
/// Characters of a request's `params` the document allows: 1024 characters are at most 4096
/// bytes of UTF-8, the server's default `--max-params-size`.
pub const PARAMS_MAX_CHARS: usize = 1024;

/// A string schema with `pattern`.
fn string(pattern: &str, description: &str, example: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .description(Some(description))
        .examples([example])
        .into()
}

/// A string schema type, named in the document.
macro_rules! string_schema {
    ($(#[$doc:meta])* $name:ident, $pattern:expr, $description:literal, $example:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name;
        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                string($pattern, $description, $example)
            }
        }
        impl ToSchema for $name {}
    };
}

string_schema!(
    /// An address: `0x` and 40 hex digits.
    Address,
    ADDRESS_PATTERN,
    "An address: 0x and 40 hex digits (either case)",
    "0x000000000000000000000000000000000000a11c"
);
string_schema!(
    /// 32 bytes: a hash (order hash, deal id, transaction), a tag or a salt.
    Bytes32,
    BYTES32_PATTERN,
    "32 bytes: 0x and 64 hex digits (order hashes, deal ids, transaction hashes, tags, salts)",
    "0x0000000000000000000000000000000000000000000000000000000000000001"
);
string_schema!(
    /// The `sign` of an order: empty (presigned on chain), a 64-byte compact or a 65-byte
    /// (r, s, v) ECDSA signature with v 27 or 28.
    OrderSign,
    "^0x([0-9a-fA-F]{128}(1[bBcC])?)?$",
    "The order's signature: 0x alone when the order is presigned on chain, else a 64-byte compact (ERC-2098) or 65-byte (r, s, v with v 27 or 28) ECDSA signature of its EIP-712 hash, 0x-hex. A well-formed signature that does not recover the signer the order needs is refused with 403",
    "0x"
);
string_schema!(
    /// An ECDSA signature: 64 bytes compact or 65 bytes (r, s, v) with v 27 or 28.
    EcdsaSign,
    "^0x[0-9a-fA-F]{128}(1[bBcC])?$",
    "A 64-byte compact (ERC-2098) or 65-byte (r, s, v with v 27 or 28) ECDSA signature, 0x-hex",
    "0x00000000000000000000000000000000000000000000000000000000000000010000000000000000000000000000000000000000000000000000000000000001"
);

/// An order kind: `app`, `dataset`, `workerpool` or `request`.
#[derive(Debug, Clone, Copy)]
pub struct OrderKind;

impl PartialSchema for OrderKind {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(["app", "dataset", "workerpool", "request"]))
            .description(Some("An order kind"))
            .into()
    }
}
impl ToSchema for OrderKind {}

/// A number of an order, at most 2^63 − 1: a JSON integer (up to 2^53 − 1), a `0x`-hex string
/// or a decimal string (iExec tools write strings). Answers write it as `0x`-hex.
#[derive(Debug, Clone, Copy)]
pub struct Amount;

impl PartialSchema for Amount {
    fn schema() -> RefOr<Schema> {
        number(
            0,
            "^0x0{0,48}[0-7]?[0-9a-fA-F]{1,15}$",
            "^[0-9]{1,18}$",
            "A number up to 2^63 - 1: a JSON integer up to 2^53 - 1, or a string, 0x-hex (as answers write it) or decimal (up to 18 digits)",
        )
    }
}
impl ToSchema for Amount {}

/// An order's `volume`: a number from 1 to 2^63 − 1, written as [`Amount`].
#[derive(Debug, Clone, Copy)]
pub struct Volume;

impl PartialSchema for Volume {
    fn schema() -> RefOr<Schema> {
        number(
            1,
            "^0x0{0,48}([1-7][0-9a-fA-F]{0,15}|[89a-fA-F][0-9a-fA-F]{0,14})$",
            "^0{0,8}[1-9][0-9]{0,17}$",
            "Number of tasks, 1 to 2^63 - 1: a JSON integer up to 2^53 - 1, or a string, 0x-hex or decimal",
        )
    }
}
impl ToSchema for Volume {}

/// One of: an integer from `minimum` to [`MAX_JSON_INTEGER`], a hex or a decimal string up to
/// [`MAX_NUMBER`].
fn number(minimum: i64, hex: &str, decimal: &str, description: &str) -> RefOr<Schema> {
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                    utoipa::openapi::KnownFormat::Int64,
                )))
                .minimum(Some(minimum))
                .maximum(Some(MAX_JSON_INTEGER)),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(hex)),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(decimal)),
        )
        .description(Some(description))
        .into()
}

/// A request's `params`: a string (JSON text by convention), at most `--max-params-size`
/// bytes of UTF-8.
#[derive(Debug, Clone, Copy)]
pub struct Params;

impl PartialSchema for Params {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(PARAMS_MAX_CHARS))
            .description(Some(
                "The request's parameters, JSON text by convention ({\"iexec_args\": \"…\"}); at most --max-params-size bytes of UTF-8 (4096 by default, else 413). The document allows 1024 characters, which always fit",
            ))
            .examples([r#"{"iexec_args":"hello"}"#])
            .into()
    }
}
impl ToSchema for Params {}

/// A signed app order (iExec's format: the order's fields and `sign`, flat).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AppOrder)]
#[allow(dead_code)]
pub struct SignedAppOrder {
    /// The app.
    app: Address,
    /// Price per task, nRLC.
    appprice: Amount,
    /// Number of tasks.
    volume: Volume,
    /// Tag bits the app requires.
    tag: Bytes32,
    /// Only this dataset (zero: any).
    datasetrestrict: Address,
    /// Only this workerpool (zero: any).
    workerpoolrestrict: Address,
    /// Only this requester (zero: any).
    requesterrestrict: Address,
    /// Makes identical orders distinct.
    salt: Bytes32,
    /// Signature of the app's owner.
    sign: OrderSign,
}

/// A signed dataset order.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DatasetOrder)]
#[allow(dead_code)]
pub struct SignedDatasetOrder {
    /// The dataset.
    dataset: Address,
    /// Price per task, nRLC.
    datasetprice: Amount,
    /// Number of tasks.
    volume: Volume,
    /// Tag bits the dataset requires.
    tag: Bytes32,
    /// Only this app (zero: any).
    apprestrict: Address,
    /// Only this workerpool (zero: any).
    workerpoolrestrict: Address,
    /// Only this requester (zero: any).
    requesterrestrict: Address,
    /// Makes identical orders distinct.
    salt: Bytes32,
    /// Signature of the dataset's owner.
    sign: OrderSign,
}

/// A signed workerpool order.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WorkerpoolOrder)]
#[allow(dead_code)]
pub struct SignedWorkerpoolOrder {
    /// The workerpool.
    workerpool: Address,
    /// Price per task, nRLC.
    workerpoolprice: Amount,
    /// Number of tasks.
    volume: Volume,
    /// Tag bits the workerpool offers.
    tag: Bytes32,
    /// Category.
    category: Amount,
    /// Highest trust accepted.
    trust: Amount,
    /// Only this app (zero: any).
    apprestrict: Address,
    /// Only this dataset (zero: any).
    datasetrestrict: Address,
    /// Only this requester (zero: any).
    requesterrestrict: Address,
    /// Makes identical orders distinct.
    salt: Bytes32,
    /// Signature of the workerpool's owner.
    sign: OrderSign,
}

/// A signed request order.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RequestOrder)]
#[allow(dead_code)]
pub struct SignedRequestOrder {
    /// The app to run.
    app: Address,
    /// Highest app price, nRLC.
    appmaxprice: Amount,
    /// The dataset (zero: none).
    dataset: Address,
    /// Highest dataset price, nRLC.
    datasetmaxprice: Amount,
    /// The workerpool (zero: any).
    workerpool: Address,
    /// Highest workerpool price, nRLC. The three max prices must add up to at most 2^63 − 1
    /// (else 422: no balance can pay them).
    workerpoolmaxprice: Amount,
    /// Who signs and pays.
    requester: Address,
    /// Number of tasks.
    volume: Volume,
    /// Tag bits required.
    tag: Bytes32,
    /// Category.
    category: Amount,
    /// Trust wanted.
    trust: Amount,
    /// Who may read the results.
    beneficiary: Address,
    /// Result callback contract (zero: none).
    callback: Address,
    /// Parameters.
    params: Params,
    /// Makes identical orders distinct.
    salt: Bytes32,
    /// Signature of the requester.
    sign: OrderSign,
}

/// A signed order of any kind (the `order` of an order view; its `kind` says which).
#[derive(Debug, Clone, Copy)]
pub struct AnySignedOrder;

impl PartialSchema for AnySignedOrder {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(Ref::from_schema_name(SignedAppOrder::name()))
            .item(Ref::from_schema_name(SignedDatasetOrder::name()))
            .item(Ref::from_schema_name(SignedWorkerpoolOrder::name()))
            .item(Ref::from_schema_name(SignedRequestOrder::name()))
            .description(Some(
                "The signed order as published: its fields and `sign`, flat (the view's `kind` says which)",
            ))
            .into()
    }
}
impl ToSchema for AnySignedOrder {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        for (name, schema) in [
            (SignedAppOrder::name(), SignedAppOrder::schema()),
            (SignedDatasetOrder::name(), SignedDatasetOrder::schema()),
            (
                SignedWorkerpoolOrder::name(),
                SignedWorkerpoolOrder::schema(),
            ),
            (SignedRequestOrder::name(), SignedRequestOrder::schema()),
        ] {
            schemas.push((name.into_owned(), schema));
        }
        for (name, schema) in [
            (Address::name(), Address::schema()),
            (Bytes32::name(), Bytes32::schema()),
            (Amount::name(), Amount::schema()),
            (Volume::name(), Volume::schema()),
            (OrderSign::name(), OrderSign::schema()),
            (Params::name(), Params::schema()),
        ] {
            schemas.push((name.into_owned(), schema));
        }
    }
}

/// The body of a publish of each kind: `{"order": <signed order>}`.
macro_rules! publish_body {
    ($name:ident, $order:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(ToSchema)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        pub struct $name {
            /// The signed order.
            order: $order,
        }
    };
}
publish_body!(
    PublishApp,
    SignedAppOrder,
    "`POST /apporders`: `{\"order\": <signed app order>}`."
);
publish_body!(
    PublishDataset,
    SignedDatasetOrder,
    "`POST /datasetorders`: `{\"order\": <signed dataset order>}`."
);
publish_body!(
    PublishWorkerpool,
    SignedWorkerpoolOrder,
    "`POST /workerpoolorders`: `{\"order\": <signed workerpool order>}`."
);
publish_body!(
    PublishRequest,
    SignedRequestOrder,
    "`POST /requestorders`: `{\"order\": <signed request order>}`."
);
