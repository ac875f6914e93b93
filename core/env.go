package core

import (
	"io"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/dchat/network/core/identity"
)

// Timer is a pending callback set with Clock.AfterFunc.
type Timer interface {
	// Stop cancels the timer. It reports whether the call stopped it, false if
	// it had already fired or been stopped.
	Stop() bool
}

// Clock gives a node its notion of time. In simulation it is virtual time; in
// the real node it is the wall clock, with callbacks posted to the node's loop.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc arranges for f to be called, as a new input to the node, after
	// at least d has elapsed. f never runs before AfterFunc returns.
	AfterFunc(d time.Duration, f func()) Timer
}

// Transport carries datagrams between nodes.
type Transport interface {
	// Send enqueues b for delivery to the given address. b is read-only from
	// then on: neither the caller, nor the transport, nor a receiving
	// handler may modify it, so one buffer may be sent to several peers.
	// Delivery is best effort; Send never calls back into the node before
	// it returns.
	Send(to netip.AddrPort, b []byte)
	// LocalAddr returns the address the node listens on.
	LocalAddr() netip.AddrPort
}

// Observer receives the structured events a node reports. Traces, metrics,
// summaries and plots are all built from these events.
type Observer interface {
	Observe(now time.Time, ev Event)
}

// Event is a structured protocol event. Concrete events are plain structs
// with JSON tags; Kind names the event in traces ("ping.rtt", "drop", ...).
type Event interface {
	Kind() string
}

// Env is everything a node may use to act on the world.
type Env struct {
	Clock     Clock
	Transport Transport
	// Rand is the node's seeded random source. In simulation it is derived
	// from (scenario seed, node index, purpose).
	Rand *rand.Rand
	// Entropy feeds key generation and other cryptographic randomness:
	// crypto/rand in the real node, a seeded stream in simulation.
	Entropy io.Reader
	// Observer receives events; it must not be nil (use Discard).
	Observer Observer
	// Connectivity gives access to NAT traversal primitives. It may be nil
	// where the node has none (e.g. a simulation without NATs).
	Connectivity Connectivity
	// Peers tells which peer the transport's session with an address proved
	// to be (the real node's Noise sessions). It may be nil where the
	// transport authenticates nothing (the simulator); then the peer IDs
	// that messages claim stand on their own.
	Peers PeerDirectory
}

// Validate reports whether e has what a node needs.
func (e Env) Validate() error {
	switch {
	case e.Clock == nil:
		return errMissing("Clock")
	case e.Transport == nil:
		return errMissing("Transport")
	case e.Rand == nil:
		return errMissing("Rand")
	case e.Observer == nil:
		return errMissing("Observer")
	}
	return nil
}

// Discard is an Observer that drops every event.
var Discard Observer = discard{}

type discard struct{}

func (discard) Observe(time.Time, Event) {}

// PeerDirectory maps a remote address to the identity its transport
// session authenticated.
type PeerDirectory interface {
	PeerID(addr netip.AddrPort) (identity.PeerID, bool)
}

// ObserverFunc adapts a function to the Observer interface.
type ObserverFunc func(now time.Time, ev Event)

// Observe calls f(now, ev).
func (f ObserverFunc) Observe(now time.Time, ev Event) { f(now, ev) }
