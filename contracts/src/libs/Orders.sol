// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

/// @title Orders: the four signed order types of the marketplace and their EIP-712 struct hashes.
/// @notice Field names, order and meaning follow iExec's PoCo v5 orders so that tools and users
/// can move between the two. `sign` is not part of the typed data: it carries the signature
/// (65- or 64-byte ECDSA, an ERC-1271 blob, or empty for an on-chain presigned order).

/// @notice An app provider's offer: run `app` for `appprice` nRLC per task, `volume` times.
struct AppOrder {
    address app;
    uint256 appprice;
    uint256 volume;
    bytes32 tag;
    address datasetrestrict;
    address workerpoolrestrict;
    address requesterrestrict;
    bytes32 salt;
    bytes sign;
}

/// @notice A dataset provider's offer: use `dataset` for `datasetprice` nRLC per task.
struct DatasetOrder {
    address dataset;
    uint256 datasetprice;
    uint256 volume;
    bytes32 tag;
    address apprestrict;
    address workerpoolrestrict;
    address requesterrestrict;
    bytes32 salt;
    bytes sign;
}

/// @notice A workerpool's offer of computing power in a category, up to a trust level.
struct WorkerpoolOrder {
    address workerpool;
    uint256 workerpoolprice;
    uint256 volume;
    bytes32 tag;
    uint256 category;
    uint256 trust;
    address apprestrict;
    address datasetrestrict;
    address requesterrestrict;
    bytes32 salt;
    bytes sign;
}

/// @notice A requester's bid: run `app` (on `dataset`) on `workerpool` (an address, an ERC-734
/// group or zero for any) at no more than the max prices.
struct RequestOrder {
    address app;
    uint256 appmaxprice;
    address dataset;
    uint256 datasetmaxprice;
    address workerpool;
    uint256 workerpoolmaxprice;
    address requester;
    uint256 volume;
    bytes32 tag;
    uint256 category;
    uint256 trust;
    address beneficiary;
    address callback;
    string params;
    bytes32 salt;
    bytes sign;
}

/// @notice What an order operation does: presign the order on-chain or close (cancel) it.
enum OrderOperation {
    SIGN,
    CLOSE
}

/// @notice The kind of an order, and of the asset it offers: the one numbering of the hub
/// (`hashOperation`, `viewAssetOwner`, the kind byte of the asset mirror, see `AssetWord`).
enum OrderKind {
    APP,
    DATASET,
    WORKERPOOL,
    REQUEST // no asset: a request's owner is its requester
}

/// @notice Struct hashing for the order types (EIP-712 `hashStruct`).
library Orders {
    bytes32 internal constant APP_ORDER_TYPEHASH = keccak256(
        "AppOrder(address app,uint256 appprice,uint256 volume,bytes32 tag,address datasetrestrict,address workerpoolrestrict,address requesterrestrict,bytes32 salt)"
    );
    bytes32 internal constant DATASET_ORDER_TYPEHASH = keccak256(
        "DatasetOrder(address dataset,uint256 datasetprice,uint256 volume,bytes32 tag,address apprestrict,address workerpoolrestrict,address requesterrestrict,bytes32 salt)"
    );
    bytes32 internal constant WORKERPOOL_ORDER_TYPEHASH = keccak256(
        "WorkerpoolOrder(address workerpool,uint256 workerpoolprice,uint256 volume,bytes32 tag,uint256 category,uint256 trust,address apprestrict,address datasetrestrict,address requesterrestrict,bytes32 salt)"
    );
    bytes32 internal constant REQUEST_ORDER_TYPEHASH = keccak256(
        "RequestOrder(address app,uint256 appmaxprice,address dataset,uint256 datasetmaxprice,address workerpool,uint256 workerpoolmaxprice,address requester,uint256 volume,bytes32 tag,uint256 category,uint256 trust,address beneficiary,address callback,string params,bytes32 salt)"
    );
    /// @dev A request order that may only be matched by `sponsor` paying (or by anyone paying
    /// when `sponsor` is zero). It closes iExec's sponsoring front-run: a plain `matchOrders`
    /// cannot use this signature to make the requester pay.
    bytes32 internal constant SPONSORED_REQUEST_TYPEHASH = keccak256(
        "SponsoredRequest(RequestOrder order,address sponsor)RequestOrder(address app,uint256 appmaxprice,address dataset,uint256 datasetmaxprice,address workerpool,uint256 workerpoolmaxprice,address requester,uint256 volume,bytes32 tag,uint256 category,uint256 trust,address beneficiary,address callback,string params,bytes32 salt)"
    );
    bytes32 internal constant APP_ORDER_OPERATION_TYPEHASH = keccak256(
        "AppOrderOperation(AppOrder order,uint256 operation)AppOrder(address app,uint256 appprice,uint256 volume,bytes32 tag,address datasetrestrict,address workerpoolrestrict,address requesterrestrict,bytes32 salt)"
    );
    bytes32 internal constant DATASET_ORDER_OPERATION_TYPEHASH = keccak256(
        "DatasetOrderOperation(DatasetOrder order,uint256 operation)DatasetOrder(address dataset,uint256 datasetprice,uint256 volume,bytes32 tag,address apprestrict,address workerpoolrestrict,address requesterrestrict,bytes32 salt)"
    );
    bytes32 internal constant WORKERPOOL_ORDER_OPERATION_TYPEHASH = keccak256(
        "WorkerpoolOrderOperation(WorkerpoolOrder order,uint256 operation)WorkerpoolOrder(address workerpool,uint256 workerpoolprice,uint256 volume,bytes32 tag,uint256 category,uint256 trust,address apprestrict,address datasetrestrict,address requesterrestrict,bytes32 salt)"
    );
    bytes32 internal constant REQUEST_ORDER_OPERATION_TYPEHASH = keccak256(
        "RequestOrderOperation(RequestOrder order,uint256 operation)RequestOrder(address app,uint256 appmaxprice,address dataset,uint256 datasetmaxprice,address workerpool,uint256 workerpoolmaxprice,address requester,uint256 volume,bytes32 tag,uint256 category,uint256 trust,address beneficiary,address callback,string params,bytes32 salt)"
    );

    // The struct hashes below read the orders' static head words straight from calldata: an
    // order's first N words are exactly its N static typed fields, in type-hash order, so
    // `typehash ‖ calldata[o : o + 32·N]` is the EIP-712 encoding. Dirty (non-canonical) words
    // only change the digest, so a tampered order can never match its owner's signature;
    // tests check these against a field-by-field abi.encode.

    /// @dev keccak256(typehash ‖ the first `words` words of the struct at calldata offset `o`).
    function _hashHead(bytes32 typehash, uint256 o, uint256 words) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, typehash)
            calldatacopy(add(ptr, 0x20), o, mul(words, 0x20))
            h := keccak256(ptr, add(0x20, mul(words, 0x20)))
        }
    }

    function hash(AppOrder calldata o) internal pure returns (bytes32 h) {
        uint256 offset;
        assembly ("memory-safe") {
            offset := o
        }
        return _hashHead(APP_ORDER_TYPEHASH, offset, 8);
    }

    function hash(DatasetOrder calldata o) internal pure returns (bytes32) {
        uint256 offset;
        assembly ("memory-safe") {
            offset := o
        }
        return _hashHead(DATASET_ORDER_TYPEHASH, offset, 8);
    }

    function hash(WorkerpoolOrder calldata o) internal pure returns (bytes32) {
        uint256 offset;
        assembly ("memory-safe") {
            offset := o
        }
        return _hashHead(WORKERPOOL_ORDER_TYPEHASH, offset, 10);
    }

    /// @dev Fields 0..12 and 14 are static words; field 13 (`params`) is a string whose head word
    /// is an offset, replaced by keccak256 of its bytes as EIP-712 requires.
    function hash(RequestOrder calldata o) internal pure returns (bytes32 h) {
        bytes32 paramsHash = keccak256(bytes(o.params));
        bytes32 typehash = REQUEST_ORDER_TYPEHASH;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, typehash)
            calldatacopy(add(ptr, 0x20), o, 0x1e0) // 15 words
            mstore(add(ptr, 0x1c0), paramsHash) // word 13 (at 0x20 + 13·0x20)
            h := keccak256(ptr, 0x200)
        }
    }

    function hashSponsored(bytes32 requestStructHash, address sponsor) internal pure returns (bytes32) {
        return keccak256(abi.encode(SPONSORED_REQUEST_TYPEHASH, requestStructHash, sponsor));
    }

    /// @dev EIP-712 struct hash of an order operation on an order of `kind`.
    function hashOperation(OrderKind kind, bytes32 orderStructHash, OrderOperation operation)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(operationTypehash(kind), orderStructHash, uint256(operation)));
    }

    function operationTypehash(OrderKind kind) internal pure returns (bytes32) {
        if (kind == OrderKind.APP) return APP_ORDER_OPERATION_TYPEHASH;
        if (kind == OrderKind.DATASET) return DATASET_ORDER_OPERATION_TYPEHASH;
        if (kind == OrderKind.WORKERPOOL) return WORKERPOOL_ORDER_OPERATION_TYPEHASH;
        return REQUEST_ORDER_OPERATION_TYPEHASH;
    }
}
