-- The book's indexes, one set per order kind, partial on open orders: a query names its kind
-- and status as literals, seeks its leading filter (asset, category, app, or none) and reads
-- orders already in the book's sort order, and every filter of the kind is in the index, so
-- rows are filtered and counted from index entries alone (`count` reads no table rows). A
-- publish of one kind updates that kind's indexes only. Replaces 0001's two indexes over all
-- kinds and statuses, which left tag, trust and restriction filters to table reads.
DROP INDEX IF EXISTS orders_by_asset;
DROP INDEX IF EXISTS orders_by_category;

-- app orders: price ascending, then publication, then hash
CREATE INDEX book_app_by_asset ON orders (asset, price, publication, hash,
    dataset_r, workerpool_r, requester_r, tag_low, tag_high, remaining, signer)
    WHERE kind = 'app' AND status = 'open';
CREATE INDEX book_app ON orders (price, publication, hash,
    asset, dataset_r, workerpool_r, requester_r, tag_low, tag_high, remaining, signer)
    WHERE kind = 'app' AND status = 'open';

-- dataset orders
CREATE INDEX book_dataset_by_asset ON orders (asset, price, publication, hash,
    app_r, workerpool_r, requester_r, tag_low, tag_high, remaining, signer)
    WHERE kind = 'dataset' AND status = 'open';
CREATE INDEX book_dataset ON orders (price, publication, hash,
    asset, app_r, workerpool_r, requester_r, tag_low, tag_high, remaining, signer)
    WHERE kind = 'dataset' AND status = 'open';

-- workerpool orders
CREATE INDEX book_workerpool_by_category ON orders (category, price, publication, hash,
    trust, tag_low, tag_high, app_r, dataset_r, requester_r, remaining, asset, signer)
    WHERE kind = 'workerpool' AND status = 'open';
CREATE INDEX book_workerpool_by_asset ON orders (asset, price, publication, hash,
    category, trust, tag_low, tag_high, app_r, dataset_r, requester_r, remaining, signer)
    WHERE kind = 'workerpool' AND status = 'open';
CREATE INDEX book_workerpool ON orders (price, publication, hash,
    category, trust, tag_low, tag_high, app_r, dataset_r, requester_r, remaining, asset, signer)
    WHERE kind = 'workerpool' AND status = 'open';

-- request orders: workerpoolmaxprice descending, then publication, then hash
CREATE INDEX book_request_by_app ON orders (app_r, price DESC, publication, hash,
    category, trust, tag_low, tag_high, dataset_r, workerpool_r, requester_r, beneficiary,
    remaining)
    WHERE kind = 'request' AND status = 'open';
CREATE INDEX book_request_by_category ON orders (category, price DESC, publication, hash,
    trust, tag_low, tag_high, app_r, dataset_r, workerpool_r, requester_r, beneficiary,
    remaining)
    WHERE kind = 'request' AND status = 'open';
CREATE INDEX book_request ON orders (price DESC, publication, hash,
    category, trust, tag_low, tag_high, app_r, dataset_r, workerpool_r, requester_r,
    beneficiary, remaining)
    WHERE kind = 'request' AND status = 'open';
