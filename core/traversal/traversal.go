package traversal

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/time/rate"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
)

// Method is how a path to a peer came about. Methods are ranked:
// Direct > UPnP > Punch > Relay (the order of the ladder); a larger value
// is a better method.
type Method uint8

// Methods, in rank order.
const (
	MethodNone Method = iota
	MethodRelay
	MethodPunch
	MethodUPnP
	MethodDirect
)

var methodNames = [...]string{"none", "relay", "punch", "upnp", "direct"}

// String returns the method's trace name.
func (m Method) String() string {
	if int(m) < len(methodNames) {
		return methodNames[m]
	}
	return "invalid"
}

// MarshalText implements encoding.TextMarshaler (events carry the name).
func (m Method) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// Path is the endpoint a peer is reached at, and how it was found.
type Path struct {
	Addr   netip.AddrPort
	Method Method
	Since  time.Time
}

// Self is what the node knows about its own reachability.
type Self struct {
	Type    core.NATType
	Public  netip.AddrPort // STUN-reported endpoint
	Mapped  netip.AddrPort // UPnP/NAT-PMP mapped endpoint
	Relayed netip.AddrPort // TURN relayed endpoint
	// Reachable: peers can reach the node without an introduction (no
	// NAT, a full-cone NAT or a mapped port).
	Reachable bool
	// Discovered: self discovery has answered (or was assumed, without
	// Connectivity).
	Discovered bool
}

// Stats counts a Traversal's work.
type Stats struct {
	Connects, Offers, Paths, Upgrades, Failures, Losses uint64
	// LadderRetries counts ladders asked for again after finding no path.
	LadderRetries              uint64
	ProbesSent, ProbesAnswered uint64
	// Introductions counts the OFFER pairs this node sent as a rendezvous.
	Introductions uint64
	// Drops counts bad input by reason.
	Drops map[string]uint64
}

// Errors returned by Connect.
var (
	ErrNotRunning   = errors.New("traversal: not running")
	ErrSelf         = errors.New("traversal: cannot connect to self")
	ErrInProgress   = errors.New("traversal: an attempt with the peer is in progress")
	ErrConnected    = errors.New("traversal: the peer has a path already")
	ErrFull         = errors.New("traversal: too many peers")
	ErrNoRendezvous = errors.New("traversal: no rendezvous configured")
)

// Drop reasons, besides core's.
const (
	DropBadPeer     = "bad-peer"     // all-zero peer key
	DropSelf        = "self"         // a message claiming this node's own key
	DropNotServing  = "not-serving"  // REGISTER or CONNECT to a node that is no rendezvous
	DropRateLimited = "rate-limited" // CONNECT over its source's rate
	DropFull        = "full"         // an OFFER for a new peer at MaxPeers
	DropDuplicate   = "duplicate"    // an OFFER for an attempt already offered
	DropStale       = "stale"        // an answer to an old nonce, seq or txn
	DropBadDelay    = "bad-delay"    // an OFFER delay above MaxStartDelay
)

// Traversal is the NAT traversal component of one node: self discovery,
// registration with rendezvous nodes, the connection ladder (direct,
// mapped port, hole punch, relay) and path upkeep; and, with Serve, the
// rendezvous role. See the package documentation.
//
// Concurrency: not safe for concurrent use; it runs on its node's driver.
// The OnPath callback runs on that driver too, after the state is
// consistent; it may call the Traversal.
type Traversal struct {
	node    *core.Node
	env     core.Env
	cfg     Config
	self    identity.PeerID
	selfKey [wire.NATKeyLen]byte
	running bool
	gen     uint64 // bumped by Stop: callbacks of an earlier run are ignored
	inEnv   int    // >0 while calling into Connectivity: callbacks are deferred
	later   []core.Timer

	// Self.
	natType       core.NATType
	public        netip.AddrPort
	mapped        netip.AddrPort
	relayed       netip.AddrPort
	discovered    bool
	relayAsked    bool
	startPending  int // startup queries not yet answered (reachability waits for them)
	reachKnown    bool
	reachable     bool
	reachDisagree int
	discoverTimer core.Timer
	registerTimer core.Timer
	regs          []*registration
	onPath        func(now time.Time, peer identity.PeerID, addr netip.AddrPort, m Method)
	peers         map[identity.PeerID]*peer
	stats         Stats
	table         map[identity.PeerID]*entry
	limiters      map[netip.Addr]*rate.Limiter
	sweepTimer    core.Timer
	permittedIPs  map[netip.Addr]bool
}

// New creates the traversal component of node, registers its message
// kinds and attaches it.
func New(node *core.Node, cfg Config) (*Traversal, error) {
	if node == nil {
		return nil, fmt.Errorf("%w: traversal: nil node", core.ErrConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t := &Traversal{
		node:         node,
		env:          node.Env(),
		cfg:          cfg,
		self:         node.ID(),
		selfKey:      [wire.NATKeyLen]byte(node.ID().PublicKey()),
		peers:        make(map[identity.PeerID]*peer),
		table:        make(map[identity.PeerID]*entry),
		limiters:     make(map[netip.Addr]*rate.Limiter),
		permittedIPs: make(map[netip.Addr]bool),
		stats:        Stats{Drops: map[string]uint64{}},
	}
	for _, k := range []struct {
		kind wire.Kind
		h    core.Handler
	}{
		{wire.KindNATRegister, t.handleRegister}, {wire.KindNATRegistered, t.handleRegistered},
		{wire.KindNATConnect, t.handleConnect}, {wire.KindNATOffer, t.handleOffer},
		{wire.KindNATRefused, t.handleRefused}, {wire.KindPunch, t.handlePunch},
		{wire.KindPunchAck, t.handlePunchAck}, {wire.KindPathPing, t.handlePathPing},
		{wire.KindPathPong, t.handlePathPong},
	} {
		if err := node.Register(k.kind, k.h); err != nil {
			return nil, err
		}
	}
	node.Attach(t)
	return t, nil
}

// Config returns the configuration.
func (t *Traversal) Config() Config { return t.cfg }

// OnPath sets f to be called whenever a peer's chosen path is set or
// changes (first path, upgrade, fallback), and with an invalid address and
// MethodNone when a peer's path is lost without a fallback. nil removes it.
func (t *Traversal) OnPath(f func(now time.Time, peer identity.PeerID, addr netip.AddrPort, m Method)) {
	t.onPath = f
}

// Self returns what the node knows about its own reachability.
func (t *Traversal) Self() Self {
	return Self{Type: t.natType, Public: t.public, Mapped: t.mapped, Relayed: t.relayed,
		Reachable: t.reachable, Discovered: t.discovered}
}

// Path returns the chosen path to peer, if it has one.
func (t *Traversal) Path(peer identity.PeerID) (Path, bool) {
	p := t.peers[peer]
	if p == nil || p.path == nil {
		return Path{}, false
	}
	return Path{Addr: p.path.addr, Method: p.path.method, Since: p.since}, true
}

// Stats returns a copy of the counters.
func (t *Traversal) Stats() Stats {
	s := t.stats
	s.Drops = make(map[string]uint64, len(t.stats.Drops))
	for k, v := range t.stats.Drops { // copied into a map: order is irrelevant
		s.Drops[k] = v
	}
	return s
}

// Start implements core.Component: self discovery (STUN with behaviour
// discovery, UPnP mapping, TURN allocation as the policy says), then
// REGISTER with every rendezvous, repeated every KeepAlive.
func (t *Traversal) Start(now time.Time) {
	if t.running {
		return
	}
	t.running = true
	t.regs = t.regs[:0]
	for _, a := range t.cfg.Rendezvous {
		if a == t.env.Transport.LocalAddr() {
			continue // a rendezvous does not register with itself
		}
		t.regs = append(t.regs, &registration{addr: a})
	}
	t.discover(now, true)
	t.register(now)
	t.registerTimer = t.env.Clock.AfterFunc(t.cfg.KeepAlive, t.onRegisterTick)
	if t.cfg.Serve {
		t.sweepTimer = t.env.Clock.AfterFunc(t.cfg.KeepAlive, t.onSweep)
	}
}

// Stop implements core.Component: every timer is cancelled, every attempt
// abandoned and every path forgotten, silently. A rendezvous keeps its
// table (its entries expire).
func (t *Traversal) Stop(time.Time) {
	if !t.running {
		return
	}
	t.running = false
	t.gen++
	for _, tm := range []core.Timer{t.discoverTimer, t.registerTimer, t.sweepTimer} {
		if tm != nil {
			tm.Stop()
		}
	}
	t.discoverTimer, t.registerTimer, t.sweepTimer = nil, nil, nil
	for _, tm := range t.later {
		tm.Stop()
	}
	t.later = nil
	for id, p := range t.peers { // order is irrelevant: timers are cancelled, nothing is emitted
		p.stopTimers()
		delete(t.peers, id)
	}
	t.regs = t.regs[:0]
	t.relayAsked, t.startPending = false, 0
}

// info is what this node tells others about itself.
func (t *Traversal) info() wire.NATInfo {
	return wire.NATInfo{Type: uint8(t.natType), Public: t.public, Mapped: t.mapped, Relayed: t.relayed}
}

func (t *Traversal) drop(reason string) error {
	t.stats.Drops[reason]++
	return core.Dropped(reason)
}

func (t *Traversal) observe(now time.Time, ev core.Event) { t.node.Observe(now, ev) }

// callback returns a function that runs f as a new input of the current
// run: ignored after Stop (or in a later run), and deferred through the
// clock if the environment calls it synchronously, which the Connectivity
// contract forbids.
func (t *Traversal) callback(f func(now time.Time)) func() {
	gen := t.gen
	var run func()
	run = func() {
		if !t.running || t.gen != gen {
			return
		}
		if t.inEnv > 0 {
			t.later = append(t.later, t.env.Clock.AfterFunc(0, run))
			return
		}
		f(t.env.Clock.Now())
	}
	return run
}

// peerID returns the peer a wire key names, or an error for a key no
// message may claim.
func (t *Traversal) peerID(key [wire.NATKeyLen]byte) (identity.PeerID, error) {
	if key == ([wire.NATKeyLen]byte{}) {
		return identity.PeerID{}, t.drop(DropBadPeer)
	}
	if key == t.selfKey {
		return identity.PeerID{}, t.drop(DropSelf)
	}
	return identity.PeerIDFromPublicKey(key[:]), nil
}

// claimed returns the peer a message from addr claims to be, checked
// against the transport's authentication (core.Node.Claims).
func (t *Traversal) claimed(from netip.AddrPort, key [wire.NATKeyLen]byte) (identity.PeerID, error) {
	id, err := t.peerID(key)
	if err != nil {
		return id, err
	}
	if !t.node.Claims(from, id) {
		return id, t.drop(core.ReasonImpostor)
	}
	return id, nil
}

func natType(v uint8) core.NATType {
	if v > uint8(core.NATSymmetric) {
		return core.NATUnknown
	}
	return core.NATType(v)
}
