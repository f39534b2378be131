-- The transactional outbox of cache invalidations: every write of a product records, in its own
-- transaction, what the caches must drop or replace; a relay on any instance applies the rows to
-- Redis and deletes them. NOTIFY wakes the relays when such a transaction commits.

-- +goose Up
CREATE TABLE cache_outbox (
    seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id  bigint      NOT NULL,
    version     bigint      NOT NULL,
    op          text        NOT NULL CHECK (op IN ('create', 'update', 'delete')),
    -- clock_timestamp(): the time of the write's statement, not of its transaction's start.
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- A writer that applied its own invalidation deletes its rows by product.
CREATE INDEX cache_outbox_product_id_idx ON cache_outbox (product_id);

-- +goose StatementBegin
CREATE FUNCTION cache_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Delivered at commit, once per transaction (identical notifications are folded).
    PERFORM pg_notify('cache_outbox', '');
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER cache_outbox_notify AFTER INSERT ON cache_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION cache_outbox_notify();

-- +goose Down
DROP TABLE cache_outbox;
DROP FUNCTION cache_outbox_notify();
