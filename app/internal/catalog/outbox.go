package catalog

import "time"

// Operations an Invalidation records: what a committed write did to a product.
const (
	OpCreate = "create"
	OpUpdate = "update"
	OpDelete = "delete"
)

// Invalidation is one committed write whose copies in the caches must be dropped or replaced: a
// row of the store's transactional outbox, written in the write's own transaction, so it exists
// exactly when the write does.
type Invalidation struct {
	// Seq orders the outbox; 0 in an Invalidation that only names what a writer settled.
	Seq int64
	// ProductID is the product written.
	ProductID int64
	// Version is the product's version after the write (for a delete, the version deleted).
	Version int64
	// Op is OpCreate, OpUpdate or OpDelete.
	Op string
	// CommittedAt is when the write recorded it (the database's clock).
	CommittedAt time.Time
}
