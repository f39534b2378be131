package pgstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/product-service-lab/product-service/app/internal/catalog"
	"github.com/product-service-lab/product-service/app/internal/catalog/pgstore"
	"github.com/product-service-lab/product-service/app/internal/testdb"
)

// newOutboxStore returns a store holding one category and no product, and its outbox.
func newOutboxStore(t *testing.T) (*pgstore.Store, *pgstore.Outbox) {
	t.Helper()
	db := testdb.New(t)
	if err := db.Gorm.Exec("INSERT INTO categories (id, name, slug) VALUES (1, 'Lamps', 'lamps')").Error; err != nil {
		t.Fatal(err)
	}
	return pgstore.New(db.Gorm, pgstore.Options{}), pgstore.NewOutbox(db.Gorm, db.URL)
}

// claimAll claims every row and applies none of them.
func claimAll(t *testing.T, o *pgstore.Outbox) []catalog.Invalidation {
	t.Helper()
	var got []catalog.Invalidation
	if _, err := o.Claim(context.Background(), 100, 0, func(_ context.Context, invs []catalog.Invalidation) []int64 {
		got = invs
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

var ignoreSeqAndTime = cmpopts.IgnoreFields(catalog.Invalidation{}, "Seq", "CommittedAt")

// Every committed write leaves one row; a write that fails (rolled back) leaves none.
func TestWritesRecordTheirInvalidation(t *testing.T) {
	store, outbox := newOutboxStore(t)
	ctx := context.Background()
	p, err := store.Create(ctx, input("OUT-1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Update(ctx, p.ID, input("OUT-1"), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Update(ctx, p.ID, input("OUT-1"), 1); err == nil { // stale: rolled back
		t.Fatal("stale update succeeded")
	}
	if err := store.Delete(ctx, p.ID, 2); err != nil {
		t.Fatal(err)
	}
	if err := store.Delete(ctx, p.ID, 0); err == nil { // missing: nothing written
		t.Fatal("second delete succeeded")
	}
	want := []catalog.Invalidation{
		{ProductID: p.ID, Version: 1, Op: catalog.OpCreate},
		{ProductID: p.ID, Version: 2, Op: catalog.OpUpdate},
		{ProductID: p.ID, Version: 2, Op: catalog.OpDelete},
	}
	got := claimAll(t, outbox)
	if diff := cmp.Diff(want, got, ignoreSeqAndTime); diff != "" {
		t.Fatalf("outbox (-want +got):\n%s", diff)
	}
	if n, oldest, err := outbox.Backlog(ctx); err != nil || n != 3 || oldest.IsZero() {
		t.Fatalf("Backlog = %d, %v, %v; want 3 rows and a time", n, oldest, err)
	}
}

// Claim deletes exactly what apply applied; Settle deletes a writer's rows up to its version.
func TestClaimAndSettle(t *testing.T) {
	store, outbox := newOutboxStore(t)
	ctx := context.Background()
	a, err := store.Create(ctx, input("OUT-A"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := store.Create(ctx, input("OUT-B"))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := store.Update(ctx, a.ID, input("OUT-A"), 0); err != nil {
			t.Fatal(err)
		}
	}
	// Apply only b's create.
	if _, err := outbox.Claim(ctx, 100, 0, func(_ context.Context, invs []catalog.Invalidation) []int64 {
		for _, inv := range invs {
			if inv.ProductID == b.ID {
				return []int64{inv.Seq}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// a's writer applied its update to version 2 (and so the older ones), not 3.
	if err := outbox.Settle(ctx, []catalog.Invalidation{{ProductID: a.ID, Op: catalog.OpUpdate, Version: 2}}); err != nil {
		t.Fatal(err)
	}
	want := []catalog.Invalidation{
		{ProductID: a.ID, Version: 1, Op: catalog.OpCreate},
		{ProductID: a.ID, Version: 3, Op: catalog.OpUpdate},
	}
	if diff := cmp.Diff(want, claimAll(t, outbox), ignoreSeqAndTime); diff != "" {
		t.Fatalf("outbox (-want +got):\n%s", diff)
	}
	// A row younger than minAge is left alone.
	if n, err := outbox.Claim(ctx, 100, time.Hour, func(context.Context, []catalog.Invalidation) []int64 { return nil }); err != nil || n != 0 {
		t.Fatalf("Claim(minAge 1h) claimed %d, %v; want none", n, err)
	}
}

// Two relays claiming at once never hold the same row: the second skips what the first locked.
func TestConcurrentClaimsSkipLockedRows(t *testing.T) {
	store, outbox := newOutboxStore(t)
	ctx := context.Background()
	for i := range 4 {
		if _, err := store.Create(ctx, input("OUT-C"+string(rune('0'+i)))); err != nil {
			t.Fatal(err)
		}
	}
	firstHolds, release := make(chan struct{}), make(chan struct{})
	var first, second []catalog.Invalidation
	var wg sync.WaitGroup
	wg.Go(func() {
		_, err := outbox.Claim(ctx, 2, 0, func(_ context.Context, invs []catalog.Invalidation) []int64 {
			first = invs
			close(firstHolds)
			<-release // hold the rows locked while the other relay claims
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	})
	<-firstHolds
	if _, err := outbox.Claim(ctx, 100, 0, func(_ context.Context, invs []catalog.Invalidation) []int64 {
		second = invs
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	close(release)
	wg.Wait()
	if len(first) != 2 || len(second) != 2 {
		t.Fatalf("claimed %d and %d rows, want 2 and 2", len(first), len(second))
	}
	for _, a := range first {
		for _, b := range second {
			if a.Seq == b.Seq {
				t.Fatalf("row %d claimed by both relays", a.Seq)
			}
		}
	}
}

// Listen wakes on a commit that wrote to the outbox.
func TestListenWakesOnCommit(t *testing.T) {
	store, outbox := newOutboxStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wakes := make(chan struct{}, 10)
	done := make(chan error, 1)
	go func() { done <- outbox.Listen(ctx, func() { wakes <- struct{}{} }) }()
	<-wakes // listening
	if _, err := store.Create(context.Background(), input("OUT-L")); err != nil {
		t.Fatal(err)
	}
	<-wakes
	cancel()
	if err := <-done; err == nil {
		t.Fatal("Listen returned nil after its context ended")
	}
}
