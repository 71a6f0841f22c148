-- Version 2: device and module twins (docs/protocol.md §12.2). document is the twin's state as
-- server/twins/twin_doc.h describes it (JSON text); module_id '' is the device's own twin.
-- A device's delete removes its twins in the same transaction (registry.c).
CREATE TABLE twins (
    device_id TEXT NOT NULL,
    module_id TEXT NOT NULL DEFAULT '',
    document  TEXT NOT NULL,
    PRIMARY KEY (device_id, module_id)
);
