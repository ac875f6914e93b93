package sim

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"
)

// A Filter is the inbound filter of one node: the filtering half of an
// RFC 4787 NAT, without address translation. Every packet the node sends
// opens (or refreshes) a binding to its destination endpoint for the
// binding timeout; an inbound packet passes only if a live binding matches
// its source, otherwise it is dropped (DropFiltered). With the default,
// address-and-port-dependent behaviour this is what the filter of a
// port-restricted cone NAT (or a stateful firewall) does: a node behind it
// can talk to anyone it has sent to recently, and nobody can reach it
// unsolicited.
//
// RFC 4787 terms:
//
//   - filtering behaviour (§5): FilterEndpointIndependent (REQ-8's
//     recommendation for transparency: any source passes while the node
//     holds any live binding), FilterAddressDependent (the source's
//     address must have been sent to) and FilterAddressPortDependent (the
//     source's address and port must have been sent to; the default, and
//     REQ-8's alternative for strictness);
//   - binding refresh (§4.3): outbound packets refresh a binding (REQ-6,
//     "NAT Outbound refresh behavior" True); inbound packets do not (the
//     inbound refresh behaviour RFC 4787 leaves open is off);
//   - binding timeout (§4.3, REQ-5): at least 2 minutes; the default is
//     exactly that.
//
// A full NAT model adds the mapping half (which external endpoint a
// binding gets: endpoint-independent, address-dependent or
// address-and-port-dependent mapping, RFC 4787 §4.1) in front of this
// filter; the filter then matches the remote endpoints seen on the
// external side, which is why it works on endpoints (address and port)
// rather than node indices.
//
// State is bounded: at most MaxBindings bindings; expired ones are dropped
// whenever the node sends, and when the table is full the binding closest
// to expiry is evicted (counted in FilterStats.Evicted). Neither sending
// nor receiving allocates once the table has grown to its working size.
//
// A Filter is a network element like the others: it takes a packet and
// passes it on or drops it; it reads no clock (times are passed in) and
// draws nothing at random. Not safe for concurrent use.
type Filter struct {
	mask     uint64 // the part of an endpoint a binding matches on
	timeout  time.Duration
	max      int
	bindings []binding // in no particular order; all live after Outbound
	stats    FilterStats
}

type binding struct {
	remote  uint64        // the remote endpoint, masked
	expires time.Duration // the binding is live while now < expires
}

// FilterStats counts what a filter did.
type FilterStats struct {
	// Opened counts bindings created (not refreshed).
	Opened uint64
	// Passed and Dropped count inbound packets let through and dropped.
	Passed, Dropped uint64
	// Evicted counts live bindings dropped because the table was full.
	Evicted uint64
	// Peak is the most bindings held at once.
	Peak int
}

// Filtering behaviours (RFC 4787 §5), as FilterConfig.Behavior spells them.
const (
	FilterEndpointIndependent  = "endpoint-independent"
	FilterAddressDependent     = "address-dependent"
	FilterAddressPortDependent = "address-and-port-dependent"
)

// FilterConfig configures a Filter.
type FilterConfig struct {
	// Behavior is the filtering behaviour; "" means
	// FilterAddressPortDependent.
	Behavior string
	// Timeout is how long a binding lives after the last outbound packet
	// that matched it. Default 120 s (RFC 4787 REQ-5's minimum).
	Timeout time.Duration
	// MaxBindings bounds the bindings held at once. Default 1024.
	MaxBindings int
}

// DefaultFilterConfig returns address-and-port-dependent filtering with a
// 120 s binding timeout and at most 1024 bindings.
func DefaultFilterConfig() FilterConfig {
	return FilterConfig{Behavior: FilterAddressPortDependent, Timeout: 120 * time.Second, MaxBindings: 1024}
}

// withDefaults fills the zero fields from DefaultFilterConfig.
func (c FilterConfig) withDefaults() FilterConfig {
	d := DefaultFilterConfig()
	if c.Behavior == "" {
		c.Behavior = d.Behavior
	}
	if c.Timeout == 0 {
		c.Timeout = d.Timeout
	}
	if c.MaxBindings == 0 {
		c.MaxBindings = d.MaxBindings
	}
	return c
}

// mask returns the endpoint mask of a behaviour; ok is false for an
// unknown one.
func filterMask(behavior string) (mask uint64, ok bool) {
	switch behavior {
	case "", FilterAddressPortDependent:
		return 1<<48 - 1, true
	case FilterAddressDependent:
		return (1<<32 - 1) << 16, true
	case FilterEndpointIndependent:
		return 0, true
	}
	return 0, false
}

// Validate reports whether c (zero fields meaning their defaults) is
// usable; its errors wrap ErrNetConfig and name the field.
func (c FilterConfig) Validate() error {
	if _, ok := filterMask(c.Behavior); !ok {
		return fmt.Errorf("%w: Filter.Behavior %q: unknown (want %s, %s or %s)", ErrNetConfig, c.Behavior,
			FilterEndpointIndependent, FilterAddressDependent, FilterAddressPortDependent)
	}
	if c.Timeout < 0 || c.Timeout > 24*time.Hour {
		return fmt.Errorf("%w: Filter.Timeout %v: must be in (0, 24h] (0 = 120s)", ErrNetConfig, c.Timeout)
	}
	if c.MaxBindings < 0 || c.MaxBindings > 1<<20 {
		return fmt.Errorf("%w: Filter.MaxBindings %d: must be in [1, %d] (0 = 1024)", ErrNetConfig, c.MaxBindings, 1<<20)
	}
	return nil
}

// NewFilter returns a filter with no binding: it drops every inbound
// packet until the node sends.
func NewFilter(cfg FilterConfig) (*Filter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	mask, _ := filterMask(cfg.Behavior)
	return &Filter{mask: mask, timeout: cfg.Timeout, max: cfg.MaxBindings}, nil
}

// Endpoint packs an IPv4 address and port into 48 bits (address << 16 |
// port), the key a filter matches on. Addresses that are not IPv4 (the
// simulator has none) map to 0.
type Endpoint uint64

// EndpointOf returns a's packed form.
func EndpointOf(a netip.AddrPort) Endpoint {
	if !a.Addr().Is4() {
		return 0
	}
	b := a.Addr().As4()
	return Endpoint(uint64(binary.BigEndian.Uint32(b[:]))<<16 | uint64(a.Port()))
}

// nodeEndpoint is EndpointOf(Addr(i)) without building the address.
func nodeEndpoint(i int) Endpoint {
	return Endpoint(uint64(addrBase|addrBits(i))<<16 | Port)
}

// Outbound records that the node sent a packet to remote at now: it
// refreshes the matching binding or opens one, so that remote's answers
// pass until now + timeout. Expired bindings are dropped on the way.
func (f *Filter) Outbound(now time.Duration, remote Endpoint) {
	key := uint64(remote) & f.mask
	expires := now + f.timeout
	live := f.bindings[:0]
	found := false
	for _, b := range f.bindings {
		if b.expires <= now {
			continue // expired: dropped by not keeping it
		}
		if b.remote == key {
			b.expires = expires
			found = true
		}
		live = append(live, b)
	}
	clear(f.bindings[len(live):])
	f.bindings = live
	if found {
		return
	}
	if len(f.bindings) >= f.max {
		// Full: evict the binding closest to expiry (the first such in
		// table order, which depends only on the node's own traffic).
		k := 0
		for i, b := range f.bindings {
			if b.expires < f.bindings[k].expires {
				k = i
			}
		}
		f.bindings[k] = f.bindings[len(f.bindings)-1]
		f.bindings = f.bindings[:len(f.bindings)-1]
		f.stats.Evicted++
	}
	f.bindings = append(f.bindings, binding{remote: key, expires: expires})
	f.stats.Opened++
	f.stats.Peak = max(f.stats.Peak, len(f.bindings))
}

// Inbound reports whether a packet from remote arriving at now passes: a
// binding matching it is live. It counts the packet either way.
func (f *Filter) Inbound(now time.Duration, remote Endpoint) bool {
	key := uint64(remote) & f.mask
	for _, b := range f.bindings {
		if b.remote == key && now < b.expires {
			f.stats.Passed++
			return true
		}
	}
	f.stats.Dropped++
	return false
}

// Bindings returns the number of live bindings at now.
func (f *Filter) Bindings(now time.Duration) int {
	n := 0
	for _, b := range f.bindings {
		if now < b.expires {
			n++
		}
	}
	return n
}

// Stats returns the filter's counters.
func (f *Filter) Stats() FilterStats { return f.stats }
