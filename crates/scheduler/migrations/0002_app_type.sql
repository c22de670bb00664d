-- The app's registry type (WASM or OCI): container apps go only to workers offering the
-- `container` tag, and workers are told which runtime runs the app.
ALTER TABLE deals ADD COLUMN app_type TEXT NOT NULL DEFAULT 'WASM';
