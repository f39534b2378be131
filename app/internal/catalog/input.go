package catalog

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"
)

// ProductInput is what a client sends to create or replace a product.
type ProductInput struct {
	SKU         string `json:"sku"`
	Name        string `json:"name"`
	Description string `json:"description"`
	PriceCents  *int64 `json:"price_cents"`
	Currency    string `json:"currency"`
	CategoryID  int64  `json:"category_id"`
	Stock       *int64 `json:"stock,omitempty"`
	IsHot       bool   `json:"is_hot"`
}

// Field limits enforced by Validate.
const (
	MaxNameLen        = 200
	MaxDescriptionLen = 10_000
	MaxSKULen         = 64
	MaxPriceCents     = 100_000_000_00 // 100 million in the major unit
	MaxStock          = 1_000_000_000
)

var (
	skuPattern      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)
)

// ValidationError lists every invalid field of an input, field name → reason.
type ValidationError struct {
	Fields map[string]string
}

// Error joins the reasons in field order so the message is stable.
func (e *ValidationError) Error() string {
	names := make([]string, 0, len(e.Fields))
	for name := range e.Fields {
		names = append(names, name)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, name := range names {
		parts[i] = name + ": " + e.Fields[name]
	}
	return "invalid product: " + strings.Join(parts, "; ")
}

// Normalize trims surrounding spaces and upper-cases the currency.
func (in *ProductInput) Normalize() {
	in.SKU = strings.TrimSpace(in.SKU)
	in.Name = strings.TrimSpace(in.Name)
	in.Description = strings.TrimSpace(in.Description)
	in.Currency = strings.ToUpper(strings.TrimSpace(in.Currency))
}

// Validate checks every field and returns a *ValidationError naming each bad one, or nil.
// Whether the category exists is the store's to say (ErrUnknownCategory).
func (in ProductInput) Validate() error {
	bad := map[string]string{}
	switch {
	case in.SKU == "":
		bad["sku"] = "is required"
	case len(in.SKU) > MaxSKULen:
		bad["sku"] = fmt.Sprintf("is longer than %d characters", MaxSKULen)
	case !skuPattern.MatchString(in.SKU):
		bad["sku"] = "may contain only letters, digits, '.', '_' and '-', starting with a letter or digit"
	}
	switch {
	case in.Name == "":
		bad["name"] = "is required"
	case !utf8.ValidString(in.Name) || strings.ContainsRune(in.Name, 0):
		bad["name"] = "is not valid UTF-8 text"
	case utf8.RuneCountInString(in.Name) > MaxNameLen:
		bad["name"] = fmt.Sprintf("is longer than %d characters", MaxNameLen)
	}
	switch {
	case !utf8.ValidString(in.Description) || strings.ContainsRune(in.Description, 0):
		bad["description"] = "is not valid UTF-8 text"
	case utf8.RuneCountInString(in.Description) > MaxDescriptionLen:
		bad["description"] = fmt.Sprintf("is longer than %d characters", MaxDescriptionLen)
	}
	switch {
	case in.PriceCents == nil:
		bad["price_cents"] = "is required"
	case *in.PriceCents < 0:
		bad["price_cents"] = "must not be negative"
	case *in.PriceCents > MaxPriceCents:
		bad["price_cents"] = fmt.Sprintf("must not exceed %d", int64(MaxPriceCents))
	}
	if !currencyPattern.MatchString(in.Currency) {
		bad["currency"] = "must be a three-letter ISO 4217 code such as EUR"
	}
	if in.CategoryID <= 0 {
		bad["category_id"] = "must be a positive category id"
	}
	if in.Stock != nil && (*in.Stock < 0 || *in.Stock > MaxStock) {
		bad["stock"] = fmt.Sprintf("must be between 0 and %d", MaxStock)
	}
	if len(bad) > 0 {
		return &ValidationError{Fields: bad}
	}
	return nil
}
