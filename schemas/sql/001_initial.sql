-- Version 1 of the registry. Applied once, in one transaction, when
-- PRAGMA user_version is below 1; never edit a version that has shipped: add 002_....sql.

-- Hub-wide counters. etag_counter makes every device write a new etag, even after a delete.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO meta (key, value) VALUES ('etag_counter', 0);

-- The hub's shared access policies (docs/protocol.md §4.3). permissions is a bit set:
-- 1 RegistryRead, 2 RegistryWrite, 4 ServiceConnect, 8 DeviceConnect.
CREATE TABLE policies (
    name          TEXT PRIMARY KEY,
    primary_key   TEXT NOT NULL,
    secondary_key TEXT NOT NULL,
    permissions   INTEGER NOT NULL
);

-- Device identities, with the fields of the hub's device JSON (docs/protocol.md §5).
-- Ids are case-sensitive, as on the hub (BINARY collation).
CREATE TABLE devices (
    device_id                     TEXT PRIMARY KEY,
    generation_id                 TEXT NOT NULL,
    etag                          INTEGER NOT NULL,
    status                        TEXT NOT NULL CHECK (status IN ('enabled', 'disabled')),
    status_reason                 TEXT,
    status_updated_time           TEXT NOT NULL,
    auth_type                     TEXT NOT NULL,
    primary_key                   TEXT NOT NULL,
    secondary_key                 TEXT NOT NULL,
    iot_edge                      INTEGER NOT NULL DEFAULT 0,
    connection_state              TEXT NOT NULL DEFAULT 'Disconnected',
    connection_state_updated_time TEXT NOT NULL DEFAULT '0001-01-01T00:00:00',
    last_activity_time            TEXT NOT NULL DEFAULT '0001-01-01T00:00:00',
    cloud_to_device_message_count INTEGER NOT NULL DEFAULT 0
);

-- Resource-log records, like the hub's diagnostic logs: one row per device-stream transition
-- (category 'DeviceStreams').
CREATE TABLE logs (
    id                      INTEGER PRIMARY KEY,
    time_utc                TEXT NOT NULL,
    category                TEXT NOT NULL,
    operation               TEXT NOT NULL,
    device_id               TEXT,
    module_id               TEXT,
    stream_id               TEXT,
    stream_name             TEXT,
    step                    TEXT,
    result                  TEXT,
    status_code             INTEGER,
    elapsed_ms              INTEGER,
    bytes_service_to_device INTEGER,
    bytes_device_to_service INTEGER,
    message                 TEXT
);
CREATE INDEX logs_by_category_time ON logs (category, time_utc);
CREATE INDEX logs_by_device_time ON logs (device_id, time_utc);
