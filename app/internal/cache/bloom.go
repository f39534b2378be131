package cache

import (
	"encoding/binary"
	"sync"

	"github.com/bits-and-blooms/bloom/v3"
)

// bloomSet is a Bloom filter of existing product ids. Until it is first built it lets every id
// through, so a cold start never rejects a real product.
type bloomSet struct {
	mu     sync.RWMutex
	filter *bloom.BloomFilter
	fpr    float64
}

func idBytes(id int64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(id))
	return b[:]
}

// mayContain reports whether id may exist: false means it certainly does not.
func (b *bloomSet) mayContain(id int64) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.filter == nil || b.filter.Test(idBytes(id))
}

// isReady reports whether the filter has been built.
func (b *bloomSet) isReady() bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.filter != nil
}

// add records a new id (a product created after the last build).
func (b *bloomSet) add(id int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.filter != nil {
		b.filter.Add(idBytes(id))
	}
}

// rebuild replaces the filter with one holding exactly ids, sized for fpr with room for growth.
func (b *bloomSet) rebuild(ids []int64, fpr float64) {
	f := bloom.NewWithEstimates(uint(len(ids)+len(ids)/5+1024), fpr)
	for _, id := range ids {
		f.Add(idBytes(id))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.filter, b.fpr = f, fpr
}

// stats describes the filter for the admin API.
func (b *bloomSet) stats() BloomStatus {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.filter == nil {
		return BloomStatus{}
	}
	return BloomStatus{Ready: true, Bits: b.filter.Cap(), Hashes: b.filter.K(), TargetFPR: b.fpr,
		ApproxEntries: b.filter.ApproximatedSize()}
}

// BloomStatus describes the Bloom filter.
type BloomStatus struct {
	Ready         bool    `json:"ready"`
	Bits          uint    `json:"bits,omitempty"`
	Hashes        uint    `json:"hashes,omitempty"`
	TargetFPR     float64 `json:"target_fpr,omitempty"`
	ApproxEntries uint32  `json:"approx_entries,omitempty"`
}
