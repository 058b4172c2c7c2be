-- The transactional outbox: the application inserts one row per event in the same
-- transaction as its business change. Column names are Debezium's EventRouter defaults,
-- which Outflow's outbox stage uses unless told otherwise.
CREATE TABLE IF NOT EXISTS public.outbox (
    id            uuid        PRIMARY KEY,
    aggregatetype text        NOT NULL,      -- routes the event: topic outbox.event.<aggregatetype>
    aggregateid   text        NOT NULL,      -- the record key: one aggregate's events stay in order
    type          text        NOT NULL,      -- the event type, sent as a header
    payload       jsonb,                     -- the record value, passed through untouched
    created_at    timestamptz NOT NULL DEFAULT now()
);
