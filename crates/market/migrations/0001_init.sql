-- dexec market state. Portable SQL: runs on SQLite and PostgreSQL alike (TEXT and BIGINT only;
-- hashes and addresses as lowercase 0x-hex, times as Unix milliseconds).

-- The watcher's cursor: the first block not yet processed.
CREATE TABLE cursor (
    id BIGINT PRIMARY KEY,
    next_block BIGINT NOT NULL
);

-- Published orders of the four kinds, with the fields queries filter on as columns.
-- asset: app / dataset / workerpool of an asset order, the app of a request order.
-- app_r, dataset_r, workerpool_r, requester_r: the order's restrictions (asset orders) or its
-- app, dataset, workerpool and requester (request orders); zero address for none.
-- price: the asset's price, or the request's workerpoolmaxprice.
-- tag_low: tag bits 0..62; tag_high: 0x-hex of the bits above, '' when none.
-- status: open, filled, cancelled, dead, unpublished.
CREATE TABLE orders (
    hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    asset TEXT NOT NULL,
    signer TEXT NOT NULL,
    price BIGINT NOT NULL,
    max_total BIGINT NOT NULL,
    volume BIGINT NOT NULL,
    remaining BIGINT NOT NULL,
    tag_low BIGINT NOT NULL,
    tag_high TEXT NOT NULL,
    category BIGINT NOT NULL,
    trust BIGINT NOT NULL,
    app_r TEXT NOT NULL,
    dataset_r TEXT NOT NULL,
    workerpool_r TEXT NOT NULL,
    requester_r TEXT NOT NULL,
    beneficiary TEXT NOT NULL,
    status TEXT NOT NULL,
    publication BIGINT NOT NULL,
    published_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX orders_by_asset ON orders (kind, status, asset, price, publication);
CREATE INDEX orders_by_category ON orders (kind, status, category, price, publication);
CREATE INDEX orders_by_signer ON orders (signer, status, kind);

-- Volume consumed on chain per order hash, as the watcher last read it (published or not), so
-- that a publish needs no RPC call for it.
CREATE TABLE consumed (
    hash TEXT PRIMARY KEY,
    consumed BIGINT NOT NULL,
    closed BIGINT NOT NULL
);

-- Deals (trades), from DealCreated events.
CREATE TABLE deals (
    deal_id TEXT PRIMARY KEY,
    block BIGINT NOT NULL,
    log_index BIGINT NOT NULL,
    tx_hash TEXT NOT NULL,
    category BIGINT NOT NULL,
    app TEXT NOT NULL,
    dataset TEXT NOT NULL,
    workerpool TEXT NOT NULL,
    app_owner TEXT NOT NULL,
    dataset_owner TEXT NOT NULL,
    workerpool_owner TEXT NOT NULL,
    requester TEXT NOT NULL,
    beneficiary TEXT NOT NULL,
    app_price BIGINT NOT NULL,
    dataset_price BIGINT NOT NULL,
    workerpool_price BIGINT NOT NULL,
    volume BIGINT NOT NULL,
    trust BIGINT NOT NULL,
    tag TEXT NOT NULL,
    start_time BIGINT NOT NULL,
    apporder_hash TEXT NOT NULL,
    datasetorder_hash TEXT NOT NULL,
    workerpoolorder_hash TEXT NOT NULL,
    requestorder_hash TEXT NOT NULL
);
CREATE INDEX deals_by_category ON deals (category, start_time);
CREATE INDEX deals_by_block ON deals (block, log_index);
