//! The OpenAPI 3.1 description of the API, served at `/openapi.json` and committed at
//! `docs/openapi/market.json` (a test fails when they differ; run the crate's tests with
//! `DEXEC_BLESS=1` to rewrite the file).

use serde_json::{json, Value};

fn param(name: &str, location: &str, schema: Value, description: &str) -> Value {
    json!({
        "name": name,
        "in": location,
        "required": location == "path",
        "schema": schema,
        "description": description,
    })
}

fn address(name: &str, description: &str) -> Value {
    param(
        name,
        "query",
        json!({"type": "string", "pattern": "^(0x[0-9a-fA-F]{40}|any)$"}),
        description,
    )
}

fn flag(name: &str, description: &str) -> Value {
    param(
        name,
        "query",
        json!({"type": "boolean", "default": false}),
        description,
    )
}

fn int(name: &str, description: &str) -> Value {
    param(
        name,
        "query",
        json!({"type": "integer", "minimum": 0}),
        description,
    )
}

fn errors(codes: &[&str]) -> serde_json::Map<String, Value> {
    codes
        .iter()
        .map(|c| {
            (
                (*c).to_owned(),
                json!({
                    "description": match *c {
                        "400" => "Malformed request, bad parameter or bad signature",
                        "403" => "The signer is not the asset's owner / the requester / the order's signer",
                        "404" => "Not found",
                        "409" => "Already published, or not open / republished since (unpublish)",
                        "413" => "Body or params too large",
                        "422" => "Refused by the chain or the book: unregistered asset, no volume left, insufficient balance or stake, too many open orders",
                        "429" => "Rate limited",
                        _ => "Error",
                    },
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
                }),
            )
        })
        .collect()
}

fn book(kind: &str, asset_params: Vec<Value>) -> Value {
    let mut params = vec![int("chainId", "Must be this market's chain when given")];
    params.extend(asset_params);
    params.extend([
        param(
            "minTag",
            "query",
            json!({"type": "string"}),
            "Orders whose tag has all these bits (0x-hex or names: tee,gpu…)",
        ),
        param(
            "maxTag",
            "query",
            json!({"type": "string"}),
            "Orders whose tag bits are all within these",
        ),
        int("minVolume", "Remaining volume at least this"),
        param(
            "pageSize",
            "query",
            json!({"type": "integer", "minimum": 10, "maximum": 1000, "default": 20}),
            "Orders per page",
        ),
        int("pageIndex", "Page index, from 0"),
    ]);
    let mut get_responses = serde_json::Map::new();
    get_responses.insert(
        "200".into(),
        json!({"description": "Open orders, best first", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OrderPage"}}}}),
    );
    get_responses.extend(errors(&["400", "429"]));
    let mut post_responses = serde_json::Map::new();
    post_responses.insert(
        "201".into(),
        json!({"description": "Published", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OrderView"}}}}),
    );
    post_responses.extend(errors(&["400", "403", "409", "413", "422", "429"]));
    json!({
        "get": {
            "summary": format!("Query open {kind} orders"),
            "parameters": params,
            "responses": get_responses,
        },
        "post": {
            "summary": format!("Publish a signed {kind} order"),
            "parameters": [int("chainId", "Must be this market's chain when given")],
            "requestBody": {
                "required": true,
                "content": {"application/json": {"schema": {
                    "type": "object",
                    "required": ["order"],
                    "properties": {"order": {"type": "object", "description": format!("The {kind} order's fields and `sign` (flat, as iExec)")}}
                }}}
            },
            "responses": post_responses,
        }
    })
}

fn get_one(kind: &str) -> Value {
    let mut responses = serde_json::Map::new();
    responses.insert(
        "200".into(),
        json!({"description": "The order, any status", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OrderView"}}}}),
    );
    responses.extend(errors(&["400", "404"]));
    json!({"get": {
        "summary": format!("Get a {kind} order by hash"),
        "parameters": [param("hash", "path", json!({"type": "string"}), "Order hash")],
        "responses": responses,
    }})
}

/// The OpenAPI document.
pub fn spec() -> Value {
    let restrict = |name: &str, strict: &str| {
        vec![
            address(name, &format!("Orders open to this {name} (restricted to it or unrestricted); omitted: unrestricted only; `any`: no filter")),
            flag(strict, &format!("Only orders restricted to exactly this {name}")),
        ]
    };
    let mut app = vec![
        address("app", "The app"),
        address("appOwner", "The app's owner (signer)"),
    ];
    app.extend(restrict("dataset", "isDatasetStrict"));
    app.extend(restrict("workerpool", "isWorkerpoolStrict"));
    app.extend(restrict("requester", "isRequesterStrict"));
    let mut dataset = vec![
        address("dataset", "The dataset"),
        address("datasetOwner", "The dataset's owner"),
    ];
    dataset.extend(restrict("app", "isAppStrict"));
    dataset.extend(restrict("workerpool", "isWorkerpoolStrict"));
    dataset.extend(restrict("requester", "isRequesterStrict"));
    let mut pool = vec![
        address("workerpool", "The workerpool"),
        address("workerpoolOwner", "The workerpool's owner"),
        int("category", "Category"),
        int("minTrust", "Trust at least this (applied when > 1)"),
    ];
    pool.extend(restrict("app", "isAppStrict"));
    pool.extend(restrict("dataset", "isDatasetStrict"));
    pool.extend(restrict("requester", "isRequesterStrict"));
    let mut request = vec![
        address("app", "The app"),
        address("dataset", "The dataset"),
        address("requester", "The requester"),
        address("beneficiary", "The beneficiary"),
        int("category", "Category"),
        int("maxTrust", "Trust at most this"),
    ];
    request.extend(restrict("workerpool", "isWorkerpoolStrict"));

    let mut unpublish_responses = serde_json::Map::new();
    unpublish_responses.insert(
        "200".into(),
        json!({"description": "Unpublished", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OrderView"}}}}),
    );
    unpublish_responses.extend(errors(&["400", "403", "404", "409", "429"]));

    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "dexec market",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The order book of dexec: signed app, dataset, workerpool and request orders, deals and prices. Every error is JSON {\"error\": \"<sentence>\"}. See docs/market.md."
        },
        "paths": {
            "/health": {"get": {"summary": "Liveness", "responses": {"200": {"description": "ok"}}}},
            "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1"}}}},
            "/apporders": book("app", app),
            "/datasetorders": book("dataset", dataset),
            "/workerpoolorders": book("workerpool", pool),
            "/requestorders": book("request", request),
            "/apporders/{hash}": get_one("app"),
            "/datasetorders/{hash}": get_one("dataset"),
            "/workerpoolorders/{hash}": get_one("workerpool"),
            "/requestorders/{hash}": get_one("request"),
            "/orders/{hash}": get_one("any"),
            "/orders/{hash}/unpublish": {"post": {
                "summary": "Unpublish an order (signed by its signer)",
                "description": "Sign the EIP-712 typed data UnpublishOrder(bytes32 orderHash,uint256 publication) under the hub's domain, or personal_sign the text `dexec market: unpublish order <hash> publication <n>` with scheme `personal`.",
                "parameters": [param("hash", "path", json!({"type": "string"}), "Order hash")],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Unpublish"}}}},
                "responses": unpublish_responses,
            }},
            "/deals": {"get": {
                "summary": "Deals (trades), newest first",
                "parameters": [
                    int("chainId", "Must be this market's chain when given"),
                    int("category", "Category"),
                    address("requester", "Requester"),
                    address("beneficiary", "Beneficiary"),
                    address("app", "App"),
                    address("dataset", "Dataset"),
                    address("workerpool", "Workerpool"),
                    address("appOwner", "App owner"),
                    address("datasetOwner", "Dataset owner"),
                    address("workerpoolOwner", "Workerpool owner"),
                    param("orderHash", "query", json!({"type": "string"}), "Deals that used this order"),
                    param("pageSize", "query", json!({"type": "integer", "minimum": 10, "maximum": 1000, "default": 20}), "Deals per page"),
                    int("pageIndex", "Page index, from 0"),
                ],
                "responses": {"200": {"description": "A page of deals", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DealPage"}}}}, "400": errors(&["400"])["400"].clone()},
            }},
            "/deals/{id}": {"get": {
                "summary": "A deal",
                "parameters": [param("id", "path", json!({"type": "string"}), "Deal id")],
                "responses": {"200": {"description": "The deal", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Deal"}}}}, "404": errors(&["404"])["404"].clone()},
            }},
            "/ohlc": {"get": {
                "summary": "Workerpool price candles and last price of a category",
                "parameters": [
                    int("chainId", "Must be this market's chain when given"),
                    param("category", "query", json!({"type": "integer", "minimum": 0}), "Category (required)"),
                    int("interval", "Candle width in seconds (default 3600)"),
                    int("since", "First second covered, Unix time (default 0)"),
                ],
                "responses": {"200": {"description": "Candles", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Ohlc"}}}}, "400": errors(&["400"])["400"].clone()},
            }},
            "/ws": {"get": {
                "summary": "Live feed (WebSocket)",
                "description": "Upgrade to a WebSocket; `topics=orders,deals` (default both). Text messages: {\"event\": \"<kind>order_published\", \"order\": OrderView}, {\"event\": \"<kind>order_unpublished\", \"orderHash\", \"reason\": unpublished|filled|cancelled|dead}, {\"event\": \"deal_created\", \"deal\": Deal}, {\"event\": \"lagged\", \"missed\": n}.",
                "parameters": [param("topics", "query", json!({"type": "string"}), "orders, deals or orders,deals")],
                "responses": {"101": {"description": "Switching protocols"}, "400": errors(&["400"])["400"].clone()},
            }},
        },
        "components": {"schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string", "description": "What to fix, as a sentence"}}},
            "OrderView": {"type": "object", "properties": {
                "orderHash": {"type": "string"},
                "kind": {"type": "string", "enum": ["app", "dataset", "workerpool", "request"]},
                "chainId": {"type": "integer"},
                "order": {"type": "object", "description": "The signed order as published"},
                "signer": {"type": "string"},
                "remaining": {"type": "integer"},
                "status": {"type": "string", "enum": ["open", "filled", "cancelled", "dead", "unpublished"]},
                "publication": {"type": "integer", "description": "Publication number, named by unpublish signatures"},
                "publicationTimestamp": {"type": "integer", "description": "Unix milliseconds"}
            }},
            "OrderPage": {"type": "object", "properties": {
                "ok": {"type": "boolean"},
                "orders": {"type": "array", "items": {"$ref": "#/components/schemas/OrderView"}},
                "count": {"type": "integer", "description": "Matching orders, exact up to 1000 (beyond, at least 1000)"},
                "pageIndex": {"type": "integer"},
                "nextPage": {"type": ["integer", "null"]}
            }},
            "Unpublish": {"type": "object", "required": ["publication", "sign"], "properties": {
                "publication": {"type": "integer"},
                "sign": {"type": "string", "description": "65- or 64-byte ECDSA signature, 0x-hex"},
                "scheme": {"type": "string", "enum": ["eip712", "personal"], "default": "eip712"}
            }},
            "Deal": {"type": "object", "properties": {
                "dealId": {"type": "string"}, "block": {"type": "integer"}, "logIndex": {"type": "integer"},
                "txHash": {"type": "string"}, "category": {"type": "integer"}, "app": {"type": "string"},
                "dataset": {"type": "string"}, "workerpool": {"type": "string"}, "appOwner": {"type": "string"},
                "datasetOwner": {"type": "string"}, "workerpoolOwner": {"type": "string"},
                "requester": {"type": "string"}, "beneficiary": {"type": "string"},
                "appPrice": {"type": "integer"}, "datasetPrice": {"type": "integer"},
                "workerpoolPrice": {"type": "integer"}, "volume": {"type": "integer"},
                "trust": {"type": "integer"}, "tag": {"type": "string"}, "startTime": {"type": "integer"},
                "apporderHash": {"type": "string"}, "datasetorderHash": {"type": "string"},
                "workerpoolorderHash": {"type": "string"}, "requestorderHash": {"type": "string"}
            }},
            "DealPage": {"type": "object", "properties": {
                "ok": {"type": "boolean"},
                "deals": {"type": "array", "items": {"$ref": "#/components/schemas/Deal"}},
                "count": {"type": "integer"},
                "pageIndex": {"type": "integer"},
                "nextPage": {"type": ["integer", "null"]}
            }},
            "Ohlc": {"type": "object", "properties": {
                "category": {"type": "integer"},
                "interval": {"type": "integer"},
                "lastPrice": {"type": ["integer", "null"]},
                "candles": {"type": "array", "items": {"type": "object", "properties": {
                    "time": {"type": "integer"}, "open": {"type": "integer"}, "high": {"type": "integer"},
                    "low": {"type": "integer"}, "close": {"type": "integer"}, "volume": {"type": "integer"}
                }}}
            }}
        }}
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn committed_spec_is_current() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/openapi/market.json"
        );
        let current = format!(
            "{}\n",
            serde_json::to_string_pretty(&super::spec()).expect("serializes")
        );
        if std::env::var_os("DEXEC_BLESS").is_some() {
            std::fs::write(path, &current).expect("write docs/openapi/market.json");
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == current,
            "docs/openapi/market.json is stale: run `DEXEC_BLESS=1 cargo test -p dexec-market committed_spec`"
        );
    }
}
