package core

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
)

// Handler processes one decoded message body. A returned error means the
// message was dropped; the node observes it as a Drop whose reason is
// Reason(err). Handlers must not modify body, nor retain it after
// returning.
type Handler func(now time.Time, from netip.AddrPort, body []byte) error

// Component is a protocol part attached to a node (liveness, DHT, gossip...).
// Start is called when the node starts (and again after a restart that kept
// state, since pending timers do not survive a crash); Stop when it stops.
type Component interface {
	Start(now time.Time)
	Stop(now time.Time)
}

// Node routes incoming datagrams to the components registered for their
// kinds, and gives components a way to send and observe.
//
// Concurrency: not safe for concurrent use; one driver goroutine owns it.
type Node struct {
	// The fields every datagram touches come first, in one cache line:
	// HandlePacket and Send read running and traffic and count in stats
	// before they reach the handler table or the environment.
	running bool
	traffic TrafficHook
	stats   Stats

	env        Env
	id         *identity.Identity
	cfg        Config
	handlers   [256]Handler
	components []Component
}

// TrafficHook is called for every datagram a node sends, and for every
// datagram it receives that decodes to a valid envelope: now, the peer's
// address, the envelope's kind, the datagram's size (envelope included)
// and whether it went out. It runs on the node's driver, inside Send and
// HandlePacket, so like an environment call it must not send or run a
// handler itself.
type TrafficHook func(now time.Time, peer netip.AddrPort, kind wire.Kind, size int, out bool)

// Stats counts a node's traffic. Drops are also observed as Drop events.
type Stats struct {
	PacketsIn, PacketsOut uint64
	BytesIn, BytesOut     uint64
	Dropped               uint64
}

// NewNode creates a node with the given identity, environment and config.
func NewNode(id *identity.Identity, env Env, cfg Config) (*Node, error) {
	if id == nil {
		return nil, fmt.Errorf("%w: node: nil identity", ErrConfig)
	}
	if err := env.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Node{env: env, id: id, cfg: cfg}, nil
}

// ID returns the node's peer ID.
func (n *Node) ID() identity.PeerID { return n.id.ID() }

// Identity returns the node's key pair, for components that sign.
func (n *Node) Identity() *identity.Identity { return n.id }

// Env returns the node's environment.
func (n *Node) Env() Env { return n.env }

// Config returns the node's protocol configuration.
func (n *Node) Config() Config { return n.cfg }

// Stats returns the node's traffic counters.
func (n *Node) Stats() Stats { return n.stats }

// Running reports whether the node is started.
func (n *Node) Running() bool { return n.running }

// Register routes messages of kind to h. It fails if the kind is taken.
func (n *Node) Register(kind wire.Kind, h Handler) error {
	if n.handlers[kind] != nil {
		return fmt.Errorf("%w: node: kind %v registered twice", ErrConfig, kind)
	}
	n.handlers[kind] = h
	return nil
}

// SetTrafficHook sets f to be called for every datagram the node sends,
// and for every datagram it receives that decodes to a valid envelope,
// before it is handed to its kind's handler (e.g. the connection manager's
// Traffic, which counts application traffic per session). nil removes it.
// Without a hook, sending and receiving cost nothing extra.
func (n *Node) SetTrafficHook(f func(now time.Time, peer netip.AddrPort, kind wire.Kind, size int, out bool)) {
	n.traffic = f
}

// Attach adds a component whose Start and Stop follow the node's.
func (n *Node) Attach(c Component) { n.components = append(n.components, c) }

// Start starts every attached component, in attachment order.
func (n *Node) Start(now time.Time) {
	if n.running {
		return
	}
	n.running = true
	for _, c := range n.components {
		c.Start(now)
	}
}

// Stop stops every attached component, in reverse order.
func (n *Node) Stop(now time.Time) {
	if !n.running {
		return
	}
	n.running = false
	for i := len(n.components) - 1; i >= 0; i-- {
		n.components[i].Stop(now)
	}
}

// HandlePacket is the node's packet input: decode the envelope and hand the
// body to its kind's handler. Bad input is dropped, counted and observed;
// it never panics.
func (n *Node) HandlePacket(now time.Time, from netip.AddrPort, pkt []byte) {
	n.stats.PacketsIn++
	n.stats.BytesIn += uint64(len(pkt))
	if !n.running {
		n.Drop(now, from, 0, ReasonNotRunning)
		return
	}
	env, err := wire.DecodeEnvelope(pkt)
	if err != nil {
		n.Drop(now, from, 0, Reason(err))
		return
	}
	if n.traffic != nil {
		n.traffic(now, from, env.Kind, len(pkt), false)
	}
	h := n.handlers[env.Kind]
	if h == nil {
		n.Drop(now, from, env.Kind, ReasonUnknownKind)
		return
	}
	if err := h(now, from, env.Body); err != nil {
		n.Drop(now, from, env.Kind, Reason(err))
	}
}

// Send hands a complete datagram (envelope included) to the transport.
// The traffic hook, if set, sees it first, with the envelope's kind byte
// (0 for a datagram too short to have one).
func (n *Node) Send(to netip.AddrPort, pkt []byte) {
	n.stats.PacketsOut++
	n.stats.BytesOut += uint64(len(pkt))
	if n.traffic != nil {
		var kind wire.Kind
		if len(pkt) >= wire.HeaderLen {
			kind = wire.Kind(pkt[1])
		}
		n.traffic(n.env.Clock.Now(), to, kind, len(pkt), true)
	}
	n.env.Transport.Send(to, pkt)
}

// Observe reports an event to the environment's observer.
func (n *Node) Observe(now time.Time, ev Event) { n.env.Observer.Observe(now, ev) }

// Drop counts and observes a dropped message.
func (n *Node) Drop(now time.Time, from netip.AddrPort, kind wire.Kind, reason string) {
	n.stats.Dropped++
	n.env.Observer.Observe(now, Drop{From: from, Msg: kind.String(), Reason: reason})
}

// Drop reasons shared by all components. Components add their own.
const (
	ReasonMalformed   = "malformed"
	ReasonVersion     = "bad-version"
	ReasonTooLarge    = "too-large"
	ReasonUnknownKind = "unknown-kind"
	ReasonNotRunning  = "not-running"
	ReasonUnsolicited = "unsolicited"
	ReasonOther       = "other"
)

// Claims reports whether a message from addr may claim to come from id:
// always when the environment authenticates nothing (Env.Peers is nil),
// otherwise only when the transport's session with addr proved id. A
// component drops a message whose claim fails, with ReasonImpostor.
func (n *Node) Claims(addr netip.AddrPort, id identity.PeerID) bool {
	if n.env.Peers == nil {
		return true
	}
	got, ok := n.env.Peers.PeerID(addr)
	return ok && got == id
}

// ReasonImpostor is the drop reason for a message whose claimed sender is
// not the peer the transport authenticated at its address.
const ReasonImpostor = "impostor"

// DropError is an error that carries its own drop reason.
type DropError struct{ Reason string }

func (e *DropError) Error() string { return "dropped: " + e.Reason }

// Dropped returns an error that a Handler can return to drop with reason.
func Dropped(reason string) error { return &DropError{Reason: reason} }

// Reason maps a handler or decoder error to a drop reason.
func Reason(err error) string {
	var de *DropError
	switch {
	case errors.As(err, &de):
		return de.Reason
	case errors.Is(err, wire.ErrTooLarge):
		return ReasonTooLarge
	case errors.Is(err, wire.ErrVersion):
		return ReasonVersion
	case errors.Is(err, wire.ErrMalformed):
		return ReasonMalformed
	}
	return ReasonOther
}
