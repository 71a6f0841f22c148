-- Version 3: cloud-to-device queues (docs/protocol.md §12.4). One row per message a service sent,
-- in the order sent (sequence_number). state is 'Enqueued' until the message is handed to its
-- device's MQTT session, then 'Completed'; 'Expired' when its expiry passed first; 'Purged' when
-- the service purged the queue. Finished rows stay for the queue's view, the newest 50 per
-- device. envelope holds the message's properties as JSON (server/c2d/c2d_message.h says how).
-- A device's delete removes its messages in the same transaction (registry.c).
CREATE TABLE c2d_messages (
    sequence_number INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id   TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    state       TEXT NOT NULL,
    enqueued_ms INTEGER NOT NULL,
    expiry_ms   INTEGER NOT NULL,
    end_ms      INTEGER,
    envelope    TEXT NOT NULL,
    body        BLOB NOT NULL
);
CREATE INDEX c2d_messages_by_device ON c2d_messages (device_id, state, sequence_number);
