package cache

import "context"

// Result says where a read was answered from; it is the X-Cache response header.
type Result string

// The results of a read.
const (
	HitL1       Result = "HIT-L1"
	HitRedis    Result = "HIT-REDIS"
	HitNull     Result = "HIT-NULL"     // a cached "not found"
	BloomReject Result = "BLOOM-REJECT" // the Bloom filter knows the id does not exist
	Miss        Result = "MISS"         // loaded from the database
	Bypass      Result = "BYPASS"       // the policy caches nothing
)

type resultKey struct{}

// Track returns a context in which the cache records the result of a read, and the record.
// The record reads Miss until the cache says otherwise (as for a store that does not cache).
func Track(ctx context.Context) (context.Context, *Result) {
	r := new(Result)
	*r = Miss
	return context.WithValue(ctx, resultKey{}, r), r
}

// record stores r in the context's record, if the caller is tracking.
func record(ctx context.Context, r Result) {
	if rec, ok := ctx.Value(resultKey{}).(*Result); ok {
		*rec = r
	}
}
