package pgstore

import (
	"database/sql"
	"time"

	"github.com/product-service-lab/product-service/app/internal/catalog"
)

// productRow is a row of the products table, as GORM writes it.
type productRow struct {
	ID          int64 `gorm:"primaryKey"`
	SKU         string
	Name        string
	Description string
	PriceCents  int64
	Currency    string
	CategoryID  int64
	IsHot       bool
	Version     int64 `gorm:"default:1"`
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// TableName maps productRow to its table.
func (productRow) TableName() string { return "products" }

// inventoryRow is a row of the inventory table.
type inventoryRow struct {
	ProductID int64 `gorm:"primaryKey;autoIncrement:false"`
	Stock     int64
	Reserved  int64
	UpdatedAt time.Time
}

// TableName maps inventoryRow to its table.
func (inventoryRow) TableName() string { return "inventory" }

func (r inventoryRow) toDomain() catalog.Inventory {
	return catalog.Inventory{
		ProductID: r.ProductID,
		Stock:     r.Stock,
		Reserved:  r.Reserved,
		Available: max(r.Stock-r.Reserved, 0),
		UpdatedAt: r.UpdatedAt.UTC(),
	}
}

// detailRow is one row of DetailSQL.
type detailRow struct {
	ID                 int64
	SKU                string
	Name               string
	Description        string
	PriceCents         int64
	Currency           string
	Version            int64
	IsHot              bool
	CreatedAt          time.Time
	UpdatedAt          time.Time
	CategoryID         int64
	CategoryName       string
	CategorySlug       string
	Stock              int64
	Reserved           int64
	InventoryUpdatedAt sql.NullTime
	RatingAvg          float64
	RatingCount        int64
}

func (r detailRow) toDomain() catalog.Product {
	inv := inventoryRow{ProductID: r.ID, Stock: r.Stock, Reserved: r.Reserved, UpdatedAt: r.UpdatedAt}
	if r.InventoryUpdatedAt.Valid {
		inv.UpdatedAt = r.InventoryUpdatedAt.Time
	}
	return catalog.Product{
		ID:          r.ID,
		SKU:         r.SKU,
		Name:        r.Name,
		Description: r.Description,
		PriceCents:  r.PriceCents,
		Currency:    r.Currency,
		Version:     r.Version,
		IsHot:       r.IsHot,
		Category:    catalog.Category{ID: r.CategoryID, Name: r.CategoryName, Slug: r.CategorySlug},
		Inventory:   inv.toDomain(),
		Rating:      catalog.Rating{Average: r.RatingAvg, Count: r.RatingCount},
		CreatedAt:   r.CreatedAt.UTC(),
		UpdatedAt:   r.UpdatedAt.UTC(),
	}
}
