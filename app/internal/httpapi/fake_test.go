package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/product-service-lab/product-service/app/internal/cache"
	"github.com/product-service-lab/product-service/app/internal/catalog"
	"github.com/product-service-lab/product-service/app/internal/faults"
	"github.com/product-service-lab/product-service/app/internal/httpapi"
	"github.com/product-service-lab/product-service/app/internal/logctl"
	"github.com/product-service-lab/product-service/app/internal/telemetry"
)

// The fakes here serve the router without a database, for tests about the HTTP layer alone (fuzzing,
// access control): they answer deterministically and count the calls that would change something.

var (
	_ catalog.Store      = (*fakeStore)(nil)
	_ httpapi.CacheAdmin = (*fakeCache)(nil)
)

// fakeStore is a catalogue in which every id exists except multiples of 7, with version 1. When
// down is set, every call fails with catalog.ErrUnavailable, as a database that does not answer.
type fakeStore struct {
	down   atomic.Bool
	writes atomic.Int64
}

func (s *fakeStore) fail(op string) error {
	if s.down.Load() {
		return fmt.Errorf("%s: %w", op, catalog.ErrUnavailable)
	}
	return nil
}

func fakeProduct(id int64) catalog.Product {
	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	return catalog.Product{
		ID: id, SKU: fmt.Sprintf("SKU-%08d", id), Name: fmt.Sprintf("Product %d", id), PriceCents: id * 100, Currency: "EUR",
		Version: 1, Category: catalog.Category{ID: id%5 + 1, Name: "Lamps", Slug: "lamps"},
		Inventory: catalog.Inventory{ProductID: id, Stock: 10, Available: 10, UpdatedAt: at}, CreatedAt: at, UpdatedAt: at,
	}
}

func exists(id int64) bool { return id%7 != 0 }

func (s *fakeStore) Product(_ context.Context, id int64) (catalog.Product, error) {
	if err := s.fail("product"); err != nil {
		return catalog.Product{}, err
	}
	if !exists(id) {
		return catalog.Product{}, fmt.Errorf("product %d: %w", id, catalog.ErrNotFound)
	}
	return fakeProduct(id), nil
}

func (s *fakeStore) Products(_ context.Context, ids []int64) ([]catalog.Product, error) {
	if err := s.fail("products"); err != nil {
		return nil, err
	}
	var out []catalog.Product
	for _, id := range ids {
		if exists(id) {
			out = append(out, fakeProduct(id))
		}
	}
	return out, nil
}

func (s *fakeStore) List(_ context.Context, p catalog.Page) (catalog.PageResult, error) {
	if err := s.fail("list"); err != nil {
		return catalog.PageResult{}, err
	}
	const last = 500 // the fake catalogue ends here
	var res catalog.PageResult
	for id := p.After + 1; id <= last && len(res.Items) < p.Limit; id++ {
		if exists(id) && (p.CategoryID == 0 || fakeProduct(id).Category.ID == p.CategoryID) {
			res.Items = append(res.Items, fakeProduct(id))
		}
	}
	if n := len(res.Items); n == p.Limit {
		res.Next = res.Items[n-1].ID
	}
	return res, nil
}

func (s *fakeStore) Inventory(ctx context.Context, id int64) (catalog.Inventory, error) {
	p, err := s.Product(ctx, id)
	return p.Inventory, err
}

// write checks a write the way the database would: the category must be 1..5, the SKU
// "DUPLICATE" is taken, the product must exist and be at version 1 when a version is named.
func (s *fakeStore) write(op string, id int64, in *catalog.ProductInput, ifVersion int64) error {
	s.writes.Add(1)
	if err := s.fail(op); err != nil {
		return err
	}
	switch {
	case id != 0 && !exists(id):
		return fmt.Errorf("%s %d: %w", op, id, catalog.ErrNotFound)
	case ifVersion != 0 && ifVersion != 1:
		return fmt.Errorf("%s %d: %w", op, id, catalog.ErrVersionMismatch)
	case in != nil && (in.CategoryID < 1 || in.CategoryID > 5):
		return fmt.Errorf("%s: %w", op, catalog.ErrUnknownCategory)
	case in != nil && strings.EqualFold(in.SKU, "DUPLICATE"):
		return fmt.Errorf("%s: %w", op, catalog.ErrDuplicateSKU)
	}
	return nil
}

func fromInput(id, version int64, in catalog.ProductInput) catalog.Product {
	p := fakeProduct(id)
	p.SKU, p.Name, p.Description, p.PriceCents, p.Currency, p.IsHot = in.SKU, in.Name, in.Description, *in.PriceCents, in.Currency, in.IsHot
	p.Version = version
	return p
}

func (s *fakeStore) Create(_ context.Context, in catalog.ProductInput) (catalog.Product, error) {
	if err := s.write("create", 0, &in, 0); err != nil {
		return catalog.Product{}, err
	}
	return fromInput(1001, 1, in), nil
}

func (s *fakeStore) Update(_ context.Context, id int64, in catalog.ProductInput, ifVersion int64) (catalog.Product, error) {
	if err := s.write("update", id, &in, ifVersion); err != nil {
		return catalog.Product{}, err
	}
	return fromInput(id, 2, in), nil
}

func (s *fakeStore) Delete(_ context.Context, id int64, ifVersion int64) error {
	return s.write("delete", id, nil, ifVersion)
}

// fakeCache is the cache's admin face without Redis: policy changes go through the real policy
// parser (cache.Apply) but are not kept; when its store is down, reset and warm-up fail.
type fakeCache struct {
	store *fakeStore
	calls atomic.Int64
}

func (c *fakeCache) Policy() cache.Policy {
	p, _ := cache.Preset("protected")
	return p
}

func (c *fakeCache) SetPolicy(_ context.Context, patch []byte) (cache.Policy, error) {
	c.calls.Add(1)
	return cache.Apply(c.Policy(), patch)
}

func (c *fakeCache) Status() cache.Status { return cache.Status{Ready: true} }

func (c *fakeCache) Reset(context.Context) (int64, error) {
	c.calls.Add(1)
	return 2, c.store.fail("reset")
}

func (c *fakeCache) Warmup(context.Context) (int, error) {
	c.calls.Add(1)
	return 3, c.store.fail("warmup")
}

func (c *fakeCache) Evict(context.Context, int64) { c.calls.Add(1) }

// fakeAPI is the router as serve wires it (request ids, tracing, metrics, access log, recovery,
// fault injection, run-time log settings, every route), over the fakes.
type fakeAPI struct {
	router  *gin.Engine
	store   *fakeStore
	cache   *fakeCache
	faults  *faults.Injector
	logging *logctl.Control
}

// newFakeAPI builds the router over fresh fakes; adminToken "" refuses every write. Logs go
// through the service's own formatter (masking included) to io.Discard; spans are sampled and
// recorded (so their attributes are computed) but exported nowhere.
func newFakeAPI(adminToken string) *fakeAPI {
	log, _, err := telemetry.NewLogger(io.Discard, telemetry.LogOptions{Level: "info", Env: "test"})
	if err != nil {
		panic(err)
	}
	reg := prometheus.NewRegistry()
	store := &fakeStore{}
	a := &fakeAPI{store: store, cache: &fakeCache{store: store}, faults: faults.New(reg, log)}
	a.logging, err = logctl.New(logctl.Options{Logger: log, Startup: logctl.Settings{Level: logrus.InfoLevel, SampleEvery: 1},
		DebugMax: 15 * time.Minute, Registerer: reg})
	if err != nil {
		panic(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	a.router = httpapi.New(httpapi.Deps{
		Store: httpapi.Uncached(store), Cache: a.cache, Gatherer: reg, Metrics: httpapi.NewMetrics(reg), Tracer: tp, Faults: a.faults, Log: log,
		Logging: a.logging,
		Checks:  []httpapi.Check{{Name: "store", Probe: func(context.Context) error { return store.fail("ping") }}},
	}, httpapi.Options{AdminToken: adminToken, MaxBodyBytes: 4 << 10, CacheMaxAge: 5 * time.Second, SlowRequest: time.Second})
	return a
}

// serve runs one request through the router in process.
func (a *fakeAPI) serve(req *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	a.router.ServeHTTP(w, req)
	return w
}
