// Package catalog is the product domain: what a product is, what may be asked of the store that
// keeps products, and the errors those requests end in. It knows nothing of HTTP, SQL or caches.
package catalog

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors of the domain; stores and caches wrap them, the HTTP layer maps them to statuses.
var (
	// ErrNotFound means the product does not exist.
	ErrNotFound = errors.New("product not found")
	// ErrVersionMismatch means a conditional write named a version that is no longer current.
	ErrVersionMismatch = errors.New("product version mismatch")
	// ErrDuplicateSKU means another product already uses the SKU.
	ErrDuplicateSKU = errors.New("sku already exists")
	// ErrUnknownCategory means the category named by a write does not exist.
	ErrUnknownCategory = errors.New("unknown category")
	// ErrUnavailable means the store cannot be reached; the request may succeed later.
	ErrUnavailable = errors.New("store unavailable")
	// ErrLockTimeout means a write waited too long for a row another transaction holds; nothing
	// was written, and the write may succeed when retried a moment later.
	ErrLockTimeout = errors.New("row locked by another transaction")
)

// Limits of the read API.
const (
	// MaxBatch is the largest number of ids one batch read may ask for.
	MaxBatch = 100
	// MaxPageSize is the largest page a list may return.
	MaxPageSize = 100
	// DefaultPageSize is the page size when the caller gives none.
	DefaultPageSize = 20
)

// Product is the full detail of one product as clients read it.
type Product struct {
	ID          int64     `json:"id"`
	SKU         string    `json:"sku"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	PriceCents  int64     `json:"price_cents"`
	Currency    string    `json:"currency"`
	Version     int64     `json:"version"`
	IsHot       bool      `json:"is_hot"`
	Category    Category  `json:"category"`
	Inventory   Inventory `json:"inventory"`
	Rating      Rating    `json:"rating"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Category groups products.
type Category struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	Slug string `json:"slug"`
}

// Inventory is the stock of one product.
type Inventory struct {
	ProductID int64     `json:"product_id"`
	Stock     int64     `json:"stock"`
	Reserved  int64     `json:"reserved"`
	Available int64     `json:"available"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Rating aggregates the reviews of one product; Average is 0 when Count is 0.
type Rating struct {
	Average float64 `json:"average"`
	Count   int64   `json:"count"`
}

// Page asks for one page of a keyset-paginated list.
type Page struct {
	// CategoryID restricts the list to one category when non-zero.
	CategoryID int64
	// After is the last id of the previous page (0 for the first page).
	After int64
	// Limit is the page size, 1..MaxPageSize.
	Limit int
}

// PageResult is one page of products and the key to continue after it.
type PageResult struct {
	Items []Product
	// Next is the id to pass as Page.After for the following page; 0 when this page is the last.
	Next int64
}

// Store keeps products. Implementations return errors wrapping the sentinels above.
type Store interface {
	// Product returns the detail of one product.
	Product(ctx context.Context, id int64) (Product, error)
	// Products returns the details of the ids that exist, in no particular order, in one round trip.
	Products(ctx context.Context, ids []int64) ([]Product, error)
	// List returns one page of products ordered by id.
	List(ctx context.Context, p Page) (PageResult, error)
	// Inventory returns the stock of one product.
	Inventory(ctx context.Context, productID int64) (Inventory, error)
	// Create stores a new product with its inventory and returns its detail.
	Create(ctx context.Context, in ProductInput) (Product, error)
	// Update replaces the mutable fields of a product. When ifVersion is non-zero the update only
	// applies if the stored version equals it (else ErrVersionMismatch).
	Update(ctx context.Context, id int64, in ProductInput, ifVersion int64) (Product, error)
	// Delete removes a product, its inventory and its reviews, with the same ifVersion rule as Update.
	Delete(ctx context.Context, id int64, ifVersion int64) error
}
