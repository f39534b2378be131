-- Indexes the read paths need. Keyset pagination over all products walks the primary key.

-- +goose Up
-- List by category, keyset-ordered by id.
CREATE INDEX products_category_id_id_idx ON products (category_id, id);
-- Warm-up reads the hot products.
CREATE INDEX products_hot_idx ON products (id) WHERE is_hot;
-- The rating aggregate of the detail query; INCLUDE lets it read ratings from the index.
CREATE INDEX reviews_product_id_idx ON reviews (product_id) INCLUDE (rating);

-- +goose Down
DROP INDEX reviews_product_id_idx;
DROP INDEX products_hot_idx;
DROP INDEX products_category_id_id_idx;
