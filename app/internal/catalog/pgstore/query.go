package pgstore

// detailSelect is the product detail: the product, its category, its inventory and the aggregate
// of its reviews, in one statement. Every read path appends its own WHERE/ORDER BY.
const detailSelect = `SELECT p.id, p.sku, p.name, p.description, p.price_cents, p.currency, p.version,
       p.is_hot, p.created_at, p.updated_at,
       c.id AS category_id, c.name AS category_name, c.slug AS category_slug,
       COALESCE(i.stock, 0) AS stock, COALESCE(i.reserved, 0) AS reserved,
       i.updated_at AS inventory_updated_at,
       COALESCE(r.rating_avg, 0) AS rating_avg, COALESCE(r.rating_count, 0) AS rating_count
FROM products p
JOIN categories c ON c.id = p.category_id
LEFT JOIN inventory i ON i.product_id = p.id
LEFT JOIN LATERAL (
    SELECT round(avg(rv.rating), 2)::float8 AS rating_avg, count(*) AS rating_count
    FROM reviews rv
    WHERE rv.product_id = p.id
) r ON true`

// DetailSQL loads the detail of the product whose id is $1. It is exported so that a baseline
// outside GORM (make bench) runs exactly the statement the service runs.
const DetailSQL = detailSelect + `
WHERE p.id = $1`

// detailsByIDsSQL loads the details of a set of ids ($1, a bigint array) in one statement.
const detailsByIDsSQL = detailSelect + `
WHERE p.id = ANY($1::bigint[])`

// listSQL is one keyset page over all products: ids after $1, at most $2 rows.
const listSQL = detailSelect + `
WHERE p.id > $1
ORDER BY p.id
LIMIT $2`

// listByCategorySQL is one keyset page of a category ($3): ids after $1, at most $2 rows.
const listByCategorySQL = detailSelect + `
WHERE p.category_id = $3 AND p.id > $1
ORDER BY p.id
LIMIT $2`
