package chaos

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"github.com/dchat/network/core"
)

// Dest matches destination addresses: those in Prefix, on Port (0: any
// port).
type Dest struct {
	Prefix netip.Prefix
	Port   uint16
}

// Match reports whether a is matched.
func (d Dest) Match(a netip.AddrPort) bool {
	return d.Prefix.Contains(a.Addr().Unmap()) && (d.Port == 0 || d.Port == a.Port())
}

// String returns the form ParseDest reads.
func (d Dest) String() string {
	if d.Port != 0 && d.Prefix.IsSingleIP() {
		return netip.AddrPortFrom(d.Prefix.Addr(), d.Port).String()
	}
	if d.Prefix.IsSingleIP() {
		return d.Prefix.Addr().String()
	}
	return d.Prefix.String()
}

// ParseDest parses a destination: an address with a port
// ("127.0.0.1:4001", "[::1]:4001"), an address (any port) or a prefix
// ("10.0.0.0/8").
func ParseDest(s string) (Dest, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Port() == 0 {
			return Dest{}, fmt.Errorf("%w: destination %q: port 0 (omit the port for any)", ErrConfig, s)
		}
		a := ap.Addr().Unmap()
		return Dest{Prefix: netip.PrefixFrom(a, a.BitLen()), Port: ap.Port()}, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return Dest{Prefix: netip.PrefixFrom(a, a.BitLen())}, nil
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		return Dest{Prefix: p.Masked()}, nil
	}
	return Dest{}, fmt.Errorf("%w: destination %q: want ADDR:PORT, ADDR or PREFIX/BITS", ErrConfig, s)
}

// Rule is a link fault on the packets a node sends to some destinations,
// during a window of time.
type Rule struct {
	Link
	// To are the destinations it applies to; empty: every destination.
	To []Dest
	// Start is when the rule starts, after the Transport was created;
	// Duration how long it lasts (0: to the end).
	Start, Duration time.Duration
}

// Active reports whether the rule applies at elapsed time since the
// Transport was created.
func (r *Rule) Active(elapsed time.Duration) bool {
	return elapsed >= r.Start && (r.Duration == 0 || elapsed < r.Start+r.Duration)
}

// Matches reports whether the rule applies to packets to a.
func (r *Rule) Matches(a netip.AddrPort) bool {
	if len(r.To) == 0 {
		return true
	}
	for _, d := range r.To {
		if d.Match(a) {
			return true
		}
	}
	return false
}

// Validate checks the rule; errors wrap ErrConfig.
func (r *Rule) Validate() error {
	if r.Start < 0 || r.Duration < 0 {
		return fmt.Errorf("%w: Rule: negative Start %v or Duration %v", ErrConfig, r.Start, r.Duration)
	}
	return r.Link.Validate()
}

// Stats counts what a Transport did to the packets it was given.
type Stats struct {
	// Sent counts Send calls; Passed the packets handed on untouched and
	// at once.
	Sent, Passed uint64
	// Dropped, Duplicated (extra copies made), Corrupted, Delayed (held
	// back for any time) and Reordered count packets by fault.
	Dropped, Duplicated, Corrupted, Delayed, Reordered uint64
}

// Transport is a core.Transport decorator that applies link faults to the
// packets a real node sends: each Send is matched against the active rules
// (in order; see Verdict.Merge), then dropped, corrupted (a copy: the
// caller's buffer is never written), duplicated or delayed (handed to the
// wrapped transport later, from a Clock.AfterFunc callback) as they
// decide. Inbound faults are the peers' outbound ones: run a Transport on
// each end to fault both directions.
//
// Concurrency: safe for concurrent use (a mutex guards the random stream
// and the counters); the wrapped transport is called without it held,
// from Send or from clock callbacks, so it must accept calls from those
// goroutines (the real node posts AfterFunc callbacks to its loop, where
// it also sends).
type Transport struct {
	inner core.Transport
	clock core.Clock
	start time.Time

	mu    sync.Mutex
	rng   *rand.Rand
	rules []Rule
	stats Stats
}

// NewTransport wraps inner. Rules are timed from clock.Now() at this call;
// delays use clock.AfterFunc; every random draw comes from rng, in Send
// order.
func NewTransport(inner core.Transport, clock core.Clock, rng *rand.Rand, rules []Rule) (*Transport, error) {
	if inner == nil || clock == nil || rng == nil {
		return nil, fmt.Errorf("%w: NewTransport: nil transport, clock or rng", ErrConfig)
	}
	for i := range rules {
		if err := rules[i].Validate(); err != nil {
			return nil, fmt.Errorf("rule %d: %w", i, err)
		}
	}
	return &Transport{inner: inner, clock: clock, start: clock.Now(), rng: rng, rules: append([]Rule(nil), rules...)}, nil
}

// Send implements core.Transport.
func (t *Transport) Send(to netip.AddrPort, b []byte) {
	t.mu.Lock()
	t.stats.Sent++
	elapsed := t.clock.Now().Sub(t.start)
	var v Verdict
	for i := range t.rules {
		r := &t.rules[i]
		if r.Active(elapsed) && r.Matches(to) {
			v.Merge(r.Decide(t.rng))
		}
	}
	switch {
	case v.Drop:
		t.stats.Dropped++
		t.mu.Unlock()
		return
	case v.Corrupt:
		t.stats.Corrupted++
		b = Corrupt(b, t.rng)
	}
	if v.Reordered {
		t.stats.Reordered++
	}
	if v.Delay > 0 {
		t.stats.Delayed++
	}
	t.stats.Duplicated += uint64(v.Duplicates)
	if v == (Verdict{}) {
		t.stats.Passed++
	}
	t.mu.Unlock()
	t.after(v.Delay, to, b)
	for k := range v.Duplicates {
		t.after(v.DuplicateDelay[k], to, b)
	}
}

// after hands b to the wrapped transport after d (at once if d is 0).
func (t *Transport) after(d time.Duration, to netip.AddrPort, b []byte) {
	if d <= 0 {
		t.inner.Send(to, b)
		return
	}
	t.clock.AfterFunc(d, func() { t.inner.Send(to, b) })
}

// LocalAddr implements core.Transport.
func (t *Transport) LocalAddr() netip.AddrPort { return t.inner.LocalAddr() }

// Stats returns the counters.
func (t *Transport) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stats
}

// SkewClock returns a core.Clock that reads inner with the skew s, counted
// from inner.Now() at this call: Now is s.Local, and a timer set for d
// fires after s.TrueDelay(d) of inner's time. Safe for concurrent use if
// inner is.
func SkewClock(inner core.Clock, s Skew) core.Clock {
	return skewClock{inner: inner, s: s, since: inner.Now()}
}

type skewClock struct {
	inner core.Clock
	s     Skew
	since time.Time
}

func (c skewClock) Now() time.Time { return c.s.Local(c.inner.Now(), c.since) }

func (c skewClock) AfterFunc(d time.Duration, f func()) core.Timer {
	return c.inner.AfterFunc(c.s.TrueDelay(d), f)
}
