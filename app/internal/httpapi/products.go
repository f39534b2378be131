package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/product-service-lab/product-service/app/internal/cache"
	"github.com/product-service-lab/product-service/app/internal/catalog"
)

// productHandlers serves the /api/v1/products routes.
type productHandlers struct {
	store        Store
	maxBodyBytes int64
	cacheControl []string // the Cache-Control header value of a product read
}

// Store is what the product routes serve from: the catalogue, whose single reads also say where
// their answer came from (X-Cache): a product's detail, already encoded as its JSON body, and its
// stock. The cache is one; Uncached makes one of a store that caches nothing.
type Store interface {
	catalog.Store
	LookupProduct(ctx context.Context, id int64) (cache.Body, cache.Result, error)
	LookupInventory(ctx context.Context, id int64) (catalog.Inventory, cache.Result, error)
}

// Uncached serves from a store that caches nothing: every single read answers MISS.
func Uncached(s catalog.Store) Store { return direct{s} }

// direct is the Store of a catalogue that caches nothing.
type direct struct{ catalog.Store }

func (d direct) LookupProduct(ctx context.Context, id int64) (cache.Body, cache.Result, error) {
	p, err := d.Product(ctx, id)
	if err != nil {
		return cache.Body{}, cache.Miss, err
	}
	b, err := json.Marshal(p)
	if err != nil {
		return cache.Body{}, cache.Miss, fmt.Errorf("encode product %d: %w", id, err)
	}
	return cache.Body{ID: p.ID, Version: p.Version, JSON: b}, cache.Miss, nil
}

func (d direct) LookupInventory(ctx context.Context, id int64) (catalog.Inventory, cache.Result, error) {
	inv, err := d.Inventory(ctx, id)
	return inv, cache.Miss, err
}

// batchResult answers GET /api/v1/products?ids=…
type batchResult struct {
	Items   []catalog.Product `json:"items"`
	Missing []int64           `json:"missing"`
}

// pageResult answers GET /api/v1/products (list).
type pageResult struct {
	Items      []catalog.Product `json:"items"`
	Limit      int               `json:"limit"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

func cacheControl(maxAge time.Duration) []string {
	return []string{"public, max-age=" + strconv.Itoa(int(maxAge.Seconds()))}
}

// get answers GET /api/v1/products/:id.
func (h productHandlers) get(c *gin.Context) error {
	id, err := ParseID(c.Param("id"))
	if err != nil {
		return badRequest("invalid-id", "%v", err)
	}
	body, result, err := h.store.LookupProduct(c.Request.Context(), id)
	hdr := c.Writer.Header()
	hdr[xCacheKey] = xCacheValue(result)
	if err != nil {
		return err
	}
	etag := ETag(body.ID, body.Version)
	setHeader(c, etagKey, etag)
	hdr[cacheControlKey] = h.cacheControl
	if noneMatch(firstHeader(c.Request.Header, ifNoneMatchKey), etag) {
		c.Status(http.StatusNotModified)
		return nil
	}
	// The body is already JSON: written as it is, under a shared Content-Type value (gin's
	// c.Data would box a render and allocate the header value per request).
	hdr[contentTypeKey] = jsonContentType
	c.Status(http.StatusOK)
	if _, err := c.Writer.Write(body.JSON); err != nil {
		_ = c.Error(err) // the client is gone: the access line says so
		c.Abort()
	}
	return nil
}

// Header values the product read sets on every response, made once. A response's header map
// holds them without copying: net/http only reads them, and Header.Add on one of them appends
// to a full slice, which copies it first.
var (
	jsonContentType = []string{"application/json; charset=utf-8"}
	xCacheValues    = func() map[cache.Result][]string {
		m := make(map[cache.Result][]string)
		for _, r := range []cache.Result{cache.HitL1, cache.HitRedis, cache.HitNull, cache.Stale, cache.BloomReject, cache.Miss, cache.Bypass} {
			m[r] = []string{string(r)}
		}
		return m
	}()
)

// xCacheValue is the X-Cache header value of r.
func xCacheValue(r cache.Result) []string {
	if v, ok := xCacheValues[r]; ok {
		return v
	}
	return []string{string(r)}
}

// list answers GET /api/v1/products: a batch when ids is given, else a keyset page.
func (h productHandlers) list(c *gin.Context) error {
	q := c.Request.URL.Query()
	if _, ok := q["ids"]; ok {
		for _, other := range []string{"category_id", "limit", "cursor"} {
			if q.Has(other) {
				return badRequest("invalid-query", "ids cannot be combined with %s", other)
			}
		}
		return h.batch(c, q.Get("ids"))
	}
	var page catalog.Page
	var err error
	if v := q.Get("category_id"); q.Has("category_id") {
		if page.CategoryID, err = ParseID(v); err != nil {
			return badRequest("invalid-query", "category_id: %v", err)
		}
	}
	if page.Limit, err = ParseLimit(q.Get("limit")); err != nil {
		return badRequest("invalid-query", "%v", err)
	}
	if page.After, err = DecodeCursor(q.Get("cursor")); err != nil {
		return badRequest("invalid-cursor", "%v", err)
	}
	res, err := h.store.List(c.Request.Context(), page)
	if err != nil {
		return err
	}
	out := pageResult{Items: res.Items, Limit: page.Limit}
	if res.Next != 0 {
		out.NextCursor = EncodeCursor(res.Next)
	}
	c.JSON(http.StatusOK, out)
	return nil
}

func (h productHandlers) batch(c *gin.Context, raw string) error {
	ids, err := ParseIDs(raw)
	if err != nil {
		return badRequest("invalid-ids", "%v", err)
	}
	found, err := h.store.Products(c.Request.Context(), ids)
	if err != nil {
		return err
	}
	byID := make(map[int64]catalog.Product, len(found))
	for _, p := range found {
		byID[p.ID] = p
	}
	out := batchResult{Items: make([]catalog.Product, 0, len(found)), Missing: []int64{}}
	for _, id := range ids {
		if p, ok := byID[id]; ok {
			out.Items = append(out.Items, p)
		} else {
			out.Missing = append(out.Missing, id)
		}
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// inventory answers GET /api/v1/products/:id/inventory.
func (h productHandlers) inventory(c *gin.Context) error {
	id, err := ParseID(c.Param("id"))
	if err != nil {
		return badRequest("invalid-id", "%v", err)
	}
	inv, result, err := h.store.LookupInventory(c.Request.Context(), id)
	c.Header("X-Cache", string(result))
	if err != nil {
		return err
	}
	c.Header("Cache-Control", "no-cache")
	c.JSON(http.StatusOK, inv)
	return nil
}

// create answers POST /api/v1/products.
func (h productHandlers) create(c *gin.Context) error {
	in, err := h.input(c)
	if err != nil {
		return err
	}
	p, err := h.store.Create(c.Request.Context(), in)
	if err != nil {
		return err
	}
	c.Header("Location", fmt.Sprintf("/api/v1/products/%d", p.ID))
	c.Header("ETag", ETag(p.ID, p.Version))
	c.JSON(http.StatusCreated, p)
	return nil
}

// update answers PUT /api/v1/products/:id.
func (h productHandlers) update(c *gin.Context) error {
	id, version, err := h.target(c)
	if err != nil {
		return err
	}
	in, err := h.input(c)
	if err != nil {
		return err
	}
	p, err := h.store.Update(c.Request.Context(), id, in, version)
	if err != nil {
		return err
	}
	c.Header("ETag", ETag(p.ID, p.Version))
	c.JSON(http.StatusOK, p)
	return nil
}

// remove answers DELETE /api/v1/products/:id.
func (h productHandlers) remove(c *gin.Context) error {
	id, version, err := h.target(c)
	if err != nil {
		return err
	}
	if err := h.store.Delete(c.Request.Context(), id, version); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

// target reads the id of a write and the version its If-Match names (0: any).
func (h productHandlers) target(c *gin.Context) (id, version int64, err error) {
	if id, err = ParseID(c.Param("id")); err != nil {
		return 0, 0, badRequest("invalid-id", "%v", err)
	}
	version, matched, err := ifMatchVersion(c.GetHeader("If-Match"), id)
	if err != nil {
		return 0, 0, badRequest("invalid-header", "%v", err)
	}
	if !matched {
		return 0, 0, fmt.Errorf("If-Match names no version of product %d: %w", id, catalog.ErrVersionMismatch)
	}
	return id, version, nil
}

// input decodes, normalises and validates a product body.
func (h productHandlers) input(c *gin.Context) (catalog.ProductInput, error) {
	var in catalog.ProductInput
	if err := decodeJSON(c, h.maxBodyBytes, &in); err != nil {
		return in, err
	}
	in.Normalize()
	if err := in.Validate(); err != nil {
		return in, err
	}
	return in, nil
}
