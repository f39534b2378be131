package cache

// Result says where a read was answered from; it is the X-Cache response header.
type Result string

// The results of a read.
const (
	HitL1       Result = "HIT-L1"
	HitRedis    Result = "HIT-REDIS"
	HitNull     Result = "HIT-NULL"     // a cached "not found"
	Stale       Result = "STALE"        // a value past its TTL, answered while one instance reloads it
	BloomReject Result = "BLOOM-REJECT" // the Bloom filter knows the id does not exist
	Miss        Result = "MISS"         // loaded from the database
	Bypass      Result = "BYPASS"       // the policy caches nothing
)

// layer names the layer that answered, for spans.
func (r Result) layer() string {
	switch r {
	case HitL1:
		return "l1"
	case HitRedis, HitNull, Stale:
		return "redis"
	case BloomReject:
		return "bloom"
	default:
		return "db"
	}
}
