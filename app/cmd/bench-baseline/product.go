package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sirupsen/logrus"

	"github.com/product-service-lab/product-service/app/internal/catalog"
	"github.com/product-service-lab/product-service/app/internal/catalog/pgstore"
)

// productHandler answers GET /api/v1/products/{id} with one DetailSQL round trip.
type productHandler struct {
	pool *pgxpool.Pool
	log  *logrus.Entry
}

// ServeHTTP writes the product as JSON: 400 for an id that is not a positive integer, 404 when no
// row matches, 500 when the query fails.
func (h productHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		http.Error(w, "id must be a positive integer", http.StatusBadRequest)
		return
	}
	p, err := load(r.Context(), h.pool, id)
	if errors.Is(err, catalog.ErrNotFound) {
		http.Error(w, "product not found", http.StatusNotFound)
		return
	}
	if err != nil {
		h.log.WithContext(r.Context()).WithFields(logrus.Fields{"product_id": id, "error": err.Error()}).Error("load product failed")
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	body, err := json.Marshal(p)
	if err != nil {
		h.log.WithContext(r.Context()).WithFields(logrus.Fields{"product_id": id, "error": err.Error()}).Error("encode product failed")
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(body)
}

// load runs DetailSQL for id through pgx.
func load(ctx context.Context, pool *pgxpool.Pool, id int64) (catalog.Product, error) {
	p, err := scanProduct(pool.QueryRow(ctx, pgstore.DetailSQL, id).Scan)
	if errors.Is(err, pgx.ErrNoRows) {
		return catalog.Product{}, fmt.Errorf("load product %d: %w", id, catalog.ErrNotFound)
	}
	if err != nil {
		return catalog.Product{}, fmt.Errorf("load product %d: %w", id, err)
	}
	return p, nil
}

// scanProduct scans one DetailSQL row with scan (pgx's or database/sql's Row.Scan) and maps it
// the way pgstore does, so every server sends the same body for the same product.
func scanProduct(scan func(dest ...any) error) (catalog.Product, error) {
	var (
		p           catalog.Product
		invUpdated  *time.Time
		stock, resv int64
	)
	err := scan(
		&p.ID, &p.SKU, &p.Name, &p.Description, &p.PriceCents, &p.Currency, &p.Version,
		&p.IsHot, &p.CreatedAt, &p.UpdatedAt,
		&p.Category.ID, &p.Category.Name, &p.Category.Slug,
		&stock, &resv, &invUpdated,
		&p.Rating.Average, &p.Rating.Count,
	)
	if err != nil {
		return catalog.Product{}, err
	}
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	p.Inventory = catalog.Inventory{
		ProductID: p.ID,
		Stock:     stock,
		Reserved:  resv,
		Available: max(stock-resv, 0),
		UpdatedAt: p.UpdatedAt,
	}
	if invUpdated != nil {
		p.Inventory.UpdatedAt = invUpdated.UTC()
	}
	return p, nil
}
