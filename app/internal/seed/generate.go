// Package seed fills the catalogue with a deterministic data set: the same seed and product count
// always give the same products, inventory and reviews, so measurements can be repeated. It loads
// with COPY in batches and skips products that already exist, so running it again is harmless.
package seed

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// DefaultSeed is the random seed used unless the caller picks another.
const DefaultSeed uint64 = 20261122

// baseTime anchors every generated timestamp, so the data set does not depend on when it is seeded.
var baseTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// categoryNames are the seeded categories; their slugs are derived from the names.
var categoryNames = []string{
	"Audio", "Books", "Cameras", "Coffee", "Cycling", "Desk Setup", "Drones", "Fitness",
	"Gaming", "Garden", "Home Office", "Kitchen", "Lighting", "Music Gear", "Networking",
	"Outdoor", "Pet Supplies", "Phones", "Smart Home", "Storage", "Tools", "Toys", "Travel", "Watches",
}

var (
	adjectives = []string{"Compact", "Classic", "Rugged", "Silent", "Smart", "Wireless", "Modular",
		"Portable", "Premium", "Everyday", "Pro", "Ultra", "Eco", "Vintage", "Heavy-Duty", "Mini"}
	nouns = []string{"Speaker", "Lamp", "Backpack", "Kettle", "Router", "Keyboard", "Monitor Arm",
		"Tripod", "Grinder", "Bottle", "Charger", "Headphones", "Drill", "Tent", "Watch", "Camera Strap"}
	phrases = []string{"Built to last.", "Ships in recycled packaging.", "Two-year warranty included.",
		"Designed for daily use.", "Tested by our team for a month.", "Easy to clean.",
		"Works out of the box.", "Replacement parts available.", "Quiet and efficient.",
		"A customer favourite."}
	reviewBodies = []string{"Does what it says.", "Great value for the price.", "Arrived quickly, well packed.",
		"Stopped working after a month.", "Better than expected.", "Not as described.",
		"Would buy again.", "Solid build quality.", "Okay, nothing special.", "Exactly what I needed."}
	currencies = []string{"EUR", "EUR", "EUR", "USD", "USD", "GBP"}
	// ratingWeights skews ratings towards 4 and 5 stars, as real shops see.
	ratingWeights = []int{1, 1, 2, 4, 4} // 1..5 stars
)

// Product is one generated product with everything that hangs off it.
type Product struct {
	ID          int64
	SKU         string
	Name        string
	Description string
	PriceCents  int64
	Currency    string
	CategoryIdx int
	IsHot       bool
	Stock       int64
	Reserved    int64
	CreatedAt   time.Time
	Reviews     []Review
}

// Review is one generated review.
type Review struct {
	Rating    int16
	Body      string
	CreatedAt time.Time
}

// Generator derives products from a seed. Each product depends only on (seed, id), so any range
// of ids can be generated independently and in any order.
type Generator struct {
	Seed uint64
	// HotShare is the fraction of products flagged is_hot (0..1).
	HotShare float64
}

// Product generates the product with the given id.
func (g Generator) Product(id int64) Product {
	r := rand.New(rand.NewPCG(g.Seed, uint64(id)))
	created := baseTime.Add(-time.Duration(r.IntN(365*24)) * time.Hour)
	p := Product{
		ID:          id,
		SKU:         fmt.Sprintf("SKU-%08d", id),
		Name:        fmt.Sprintf("%s %s %d", pick(r, adjectives), pick(r, nouns), id),
		Description: description(r),
		PriceCents:  int64(99 + r.IntN(99_900)),
		Currency:    pick(r, currencies),
		CategoryIdx: r.IntN(len(categoryNames)),
		IsHot:       r.Float64() < g.HotShare,
		Stock:       int64(r.IntN(500)),
		CreatedAt:   created,
	}
	p.Reserved = int64(r.IntN(int(min(p.Stock, 20)) + 1))
	n := 5 + r.IntN(11) // 5..15 reviews, 10 on average
	p.Reviews = make([]Review, n)
	for i := range p.Reviews {
		p.Reviews[i] = Review{
			Rating:    rating(r),
			Body:      pick(r, reviewBodies),
			CreatedAt: created.Add(time.Duration(1+r.IntN(300*24)) * time.Hour),
		}
	}
	return p
}

// Categories returns the seeded category names and slugs, in a fixed order.
func Categories() (names, slugs []string) {
	slugs = make([]string, len(categoryNames))
	for i, n := range categoryNames {
		slugs[i] = strings.ReplaceAll(strings.ToLower(n), " ", "-")
	}
	return categoryNames, slugs
}

func pick(r *rand.Rand, from []string) string { return from[r.IntN(len(from))] }

func description(r *rand.Rand) string {
	n := 2 + r.IntN(3)
	parts := make([]string, n)
	for i := range parts {
		parts[i] = pick(r, phrases)
	}
	return strings.Join(parts, " ")
}

func rating(r *rand.Rand) int16 {
	total := 0
	for _, w := range ratingWeights {
		total += w
	}
	x := r.IntN(total)
	for i, w := range ratingWeights {
		if x < w {
			return int16(i + 1)
		}
		x -= w
	}
	return 5
}
