-- dexec scheduler state. Portable SQL: runs on SQLite and PostgreSQL alike (TEXT and BIGINT
-- only; hashes and addresses as lowercase 0x-hex, times as Unix milliseconds).

-- The event cursor: the first block not yet processed.
CREATE TABLE cursor (
    id BIGINT PRIMARY KEY,
    next_block BIGINT NOT NULL
);

-- Deals of this workerpool, as DealCreated emitted them, with the app and dataset resolved.
CREATE TABLE deals (
    deal_id TEXT PRIMARY KEY,
    encoded TEXT NOT NULL,
    params TEXT NOT NULL,
    app_multiaddr TEXT NOT NULL,
    app_checksum TEXT NOT NULL,
    dataset_multiaddr TEXT NOT NULL,
    dataset_checksum TEXT NOT NULL,
    block BIGINT NOT NULL
);

-- One row per task: pending, running, revealing, completed, failed.
CREATE TABLE tasks (
    task_id TEXT PRIMARY KEY,
    deal_id TEXT NOT NULL,
    idx BIGINT NOT NULL,
    block BIGINT NOT NULL,
    status TEXT NOT NULL,
    consensus TEXT,
    result_digest TEXT,
    results TEXT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX tasks_by_status ON tasks (status, block, idx);

-- One row per (task, worker): assigned, computed, contributed, revealed, done, failed, lost,
-- timeout, aborted, rejected.
CREATE TABLE replicates (
    task_id TEXT NOT NULL,
    worker TEXT NOT NULL,
    status TEXT NOT NULL,
    weight BIGINT NOT NULL,
    digest TEXT,
    result_hash TEXT,
    result_location TEXT,
    callback_data TEXT,
    error TEXT,
    assigned_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (task_id, worker)
);
CREATE INDEX replicates_by_worker ON replicates (worker, status);
CREATE INDEX replicates_by_status ON replicates (status);
