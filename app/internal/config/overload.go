package config

import (
	"math"
	"net"
	"strconv"
	"strings"
	"time"
)

// Overload holds overload protection: a bound on the API requests served at once, with a short
// queue in front of it, and a token bucket per client charged by the cost of each request.
type Overload struct {
	// MaxInFlight (HTTP_MAX_IN_FLIGHT) bounds the product requests served at once; 0 turns the
	// bound off.
	MaxInFlight int
	// MaxQueued (HTTP_MAX_QUEUED) bounds the requests waiting for a slot; past it a request is
	// refused at once with 503.
	MaxQueued int
	// QueueTimeout (HTTP_QUEUE_TIMEOUT) is the longest a request waits for a slot before a 503.
	QueueTimeout time.Duration
	// ClientRate (HTTP_CLIENT_RATE) is the cost a client may spend per second; 0 turns the
	// per-client limits off.
	ClientRate float64
	// ClientBurst (HTTP_CLIENT_BURST) is the cost a client may spend at once (its bucket's size);
	// by default twice ClientRate, and never less than one full batch.
	ClientBurst int
	// ItemCost (HTTP_CLIENT_ITEM_COST) is the cost of each product a request asks for (each id of
	// a batch, each row of a page); every request costs at least 1.
	ItemCost float64
	// MaxClients (HTTP_CLIENT_MAX_TRACKED) bounds the clients whose buckets are kept.
	MaxClients int
	// TrustedProxies (HTTP_TRUSTED_PROXIES, comma-separated CIDRs or addresses) are the peers
	// whose X-Forwarded-For names the client (rate limits, logs); "none" trusts no peer.
	TrustedProxies []string
}

// DefaultTrustedProxies are loopback and the private ranges: a proxy in front of the service
// (nginx, an ingress) sits there, and a client on the Internet cannot pick its own address.
const DefaultTrustedProxies = "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7"

// batchItems is the largest batch (catalog.MaxBatch; config imports none of ours).
const batchItems = 100

func (r *reader) overload() Overload {
	o := Overload{
		MaxInFlight:    r.integer("HTTP_MAX_IN_FLIGHT", 256, 0, 1_000_000),
		MaxQueued:      r.integer("HTTP_MAX_QUEUED", 512, 0, 1_000_000),
		QueueTimeout:   r.duration("HTTP_QUEUE_TIMEOUT", 250*time.Millisecond, 0),
		ClientRate:     r.number("HTTP_CLIENT_RATE", 0, 0, 1e9),
		ItemCost:       r.number("HTTP_CLIENT_ITEM_COST", 1, 0, 1e6),
		MaxClients:     r.integer("HTTP_CLIENT_MAX_TRACKED", 100_000, 1, 100_000_000),
		TrustedProxies: r.cidrs("HTTP_TRUSTED_PROXIES", DefaultTrustedProxies),
	}
	batch := max(1, int(math.Ceil(batchItems*o.ItemCost)))
	def := max(int(math.Ceil(2*o.ClientRate)), batch)
	o.ClientBurst = r.integer("HTTP_CLIENT_BURST", def, 1, 1_000_000_000)
	return o
}

// number reads a float in minimum..maximum.
func (r *reader) number(key string, def, minimum, maximum float64) float64 {
	v, ok := r.lookup(key)
	if !ok || strings.TrimSpace(v) == "" {
		return def
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		r.fail(key, "%q is not a number", v)
		return def
	}
	if f < minimum || f > maximum {
		r.fail(key, "%g is outside %g..%g", f, minimum, maximum)
		return def
	}
	return f
}

// cidrs reads a comma-separated list of CIDRs or IP addresses; "none" is the empty list.
func (r *reader) cidrs(key, def string) []string {
	raw := r.str(key, def)
	if strings.EqualFold(raw, "none") {
		return []string{}
	}
	var out []string
	for _, v := range strings.Split(raw, ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		_, _, err := net.ParseCIDR(v)
		if err != nil && net.ParseIP(v) == nil {
			r.fail(key, "%q is neither a CIDR (10.0.0.0/8) nor an IP address", v)
			return nil
		}
		out = append(out, v)
	}
	return out
}
