package transport

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/stun/v4"

	"github.com/dchat/network/core"
)

// The Host implements core.Connectivity with real NAT traversal:
// QueryMapping (STUN, RFC 8489, and RFC 5780 behaviour discovery, on the
// host's own socket), MapPort (UPnP IGD, goupnp), AllocateRelay and
// PermitRelay (TURN, RFC 8656, pion/turn).
//
// Like the rest of the node's Env, these methods may only be called on
// the loop (from the node's handlers and timers, or inside Do). Each only
// starts its operation; blocking network calls (UPnP's HTTP, TURN's
// transactions) run on helper goroutines with a context that ends at
// shutdown, and their results are posted back to the loop, where done
// runs as a new input. done never runs inside the call.
var _ core.Connectivity = (*Host)(nil)

// Errors of the connectivity primitives.
var (
	// ErrBadServer: a STUN or TURN server address that cannot be used.
	ErrBadServer = errors.New("transport: bad server address")
	// ErrBusy: the same operation is already under way (one port mapping
	// and one relay allocation per host).
	ErrBusy = errors.New("transport: operation already under way")
)

// natState is the host's NAT traversal state. The maps and pointers are
// loop-owned; ctx, wg and the channels are how helper goroutines reach
// the loop.
type natState struct {
	ctx    context.Context // ends at shutdown: helpers stop
	cancel context.CancelFunc
	wg     sync.WaitGroup // helper goroutines, relay reader and writer

	// posts carries helpers' results to the loop; relayIn the datagrams
	// the relay reader received through the TURN allocation.
	posts   chan func(now time.Time)
	relayIn chan inbound

	// Loop-owned.
	stun       map[[stun.TransactionIDSize]byte]*stunTxn
	upnp       *portMap
	mapping    bool // a MapPort is under way
	relay      *relay
	allocating bool // an AllocateRelay is under way
	stats      natCounters
}

// natCounters are the NAT traversal counters (NATStats).
type natCounters struct {
	stunSent, stunRetransmits, stunAnswered, stunTimeouts atomic.Uint64
	relayedIn, relayedOut, relayDropped                   atomic.Uint64
}

// NATStats is a snapshot of the host's NAT traversal counters.
type NATStats struct {
	// STUN binding requests sent (first transmissions), retransmitted,
	// answered and timed out.
	STUNSent, STUNRetransmits, STUNAnswered, STUNTimeouts uint64
	// Datagrams received from and sent through the TURN relay, and those
	// the relay writer dropped (queue full or write error).
	RelayedIn, RelayedOut, RelayDropped uint64
}

// NATStats returns a snapshot of the NAT traversal counters. It is safe
// for concurrent use.
func (h *Host) NATStats() NATStats {
	c := &h.nat.stats
	return NATStats{
		STUNSent: c.stunSent.Load(), STUNRetransmits: c.stunRetransmits.Load(),
		STUNAnswered: c.stunAnswered.Load(), STUNTimeouts: c.stunTimeouts.Load(),
		RelayedIn: c.relayedIn.Load(), RelayedOut: c.relayedOut.Load(), RelayDropped: c.relayDropped.Load(),
	}
}

func newNATState(cfg Config) *natState {
	ctx, cancel := context.WithCancel(context.Background())
	return &natState{
		ctx: ctx, cancel: cancel,
		posts:   make(chan func(time.Time)), // unbuffered: a post taken is a post run
		relayIn: make(chan inbound, cfg.InboxLen),
		stun:    map[[stun.TransactionIDSize]byte]*stunTxn{},
	}
}

// post hands f to the loop from a helper goroutine. It returns false,
// without running f, if the host is shutting down.
func (n *natState) post(f func(now time.Time)) bool {
	select {
	case n.posts <- f:
		return true
	case <-n.ctx.Done():
		return false
	}
}

// goHelper runs f on a tracked helper goroutine.
func (n *natState) goHelper(f func()) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		f()
	}()
}

// stopNAT runs on the loop at shutdown, before the socket closes: it
// stops the helpers, closes the relay, waits for them, deletes the UPnP
// mapping (bounded by UPnPTimeout) and ends the STUN transactions.
func (h *Host) stopNAT() {
	n := h.nat
	n.cancel()
	if n.relay != nil {
		n.relay.close()
	}
	n.wg.Wait()
	if n.upnp != nil {
		h.unmapPort(n.upnp)
		n.upnp = nil
	}
	for id, t := range n.stun { // order is irrelevant: none completes
		t.timer.Stop()
		delete(n.stun, id)
	}
	for {
		select {
		case p := <-n.relayIn:
			h.pool.put(p.buf)
		default:
			return
		}
	}
}

// receiveRelayed is the loop's input for a datagram that came through the
// TURN relay: from is the peer's address as the server reports it, so the
// peer's sessions work unchanged over the relay.
func (h *Host) receiveRelayed(now time.Time, p inbound) {
	h.nat.stats.relayedIn.Add(1)
	h.receive(now, p.from, (*p.buf)[:p.n])
	h.pool.put(p.buf)
}
