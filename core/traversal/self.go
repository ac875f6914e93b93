package traversal

import (
	"net/netip"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/wire"
)

// registration is this node's standing with one rendezvous.
type registration struct {
	addr     netip.AddrPort
	nonce    uint64
	sentAt   time.Time
	rtt      time.Duration
	observed netip.AddrPort
	ok       bool
	lastOK   time.Time
	// The previous REGISTER's nonce stays good: info changes at start
	// send REGISTERs faster than the answers come back.
	prevNonce  uint64
	prevSentAt time.Time
}

// discover runs self discovery: the STUN query (with behaviour discovery),
// and at start the UPnP mapping and, under RelayAlways, the relay.
func (t *Traversal) discover(now time.Time, start bool) {
	c := t.env.Connectivity
	if c == nil {
		if start {
			t.natType, t.public, t.discovered = core.NATOpen, t.env.Transport.LocalAddr(), true
			t.observe(now, Discovered{Type: t.natType.String(), Public: t.public, Assumed: true})
			t.decideReachability(now, "assumed")
		}
		return
	}
	t.inEnv++
	defer func() { t.inEnv-- }()
	if len(t.cfg.STUNServers) > 0 {
		server := t.cfg.STUNServers[0]
		if start {
			t.startPending++
		}
		c.QueryMapping(server, true, func(r core.MappingResult) {
			t.callback(func(now time.Time) { t.onMapping(now, server, start, r) })()
		})
	} else if start {
		t.observe(now, Discovered{Type: core.NATUnknown.String(), Err: "no STUN server"})
	}
	if !start {
		return
	}
	if t.cfg.UseUPnP {
		t.startPending++
		c.MapPort(t.cfg.UPnPLease, func(m core.PortMapping) {
			t.callback(func(now time.Time) { t.onPortMapping(now, m) })()
		})
	}
	if t.cfg.RelayPolicy == RelayAlways || (t.cfg.RelayPolicy == RelayAuto && len(t.cfg.STUNServers) == 0) {
		t.allocateRelay()
	}
	if t.startPending == 0 {
		t.decideReachability(now, "no-discovery")
	}
}

// allocateRelay asks the first TURN server for a relay, once per run.
func (t *Traversal) allocateRelay() {
	if t.relayAsked || len(t.cfg.TURNServers) == 0 || t.env.Connectivity == nil || t.cfg.RelayPolicy == RelayNever {
		return
	}
	t.relayAsked = true
	server := t.cfg.TURNServers[0]
	t.inEnv++
	defer func() { t.inEnv-- }()
	t.env.Connectivity.AllocateRelay(server, func(a core.RelayAllocation) {
		t.callback(func(now time.Time) { t.onRelay(now, server, a) })()
	})
}

func (t *Traversal) onMapping(now time.Time, server netip.AddrPort, start bool, r core.MappingResult) {
	ev := Discovered{Server: server, Public: r.Public, Took: r.Took,
		Mapping: r.Mapping.String(), Filtering: r.Filtering.String()}
	changed := false
	if r.Err != nil {
		ev.Err, ev.Type = r.Err.Error(), t.natType.String()
	} else {
		typ := r.Type
		if typ == core.NATUnknown {
			typ = core.Classify(t.env.Transport.LocalAddr(), r.Public, r.Mapping, r.Filtering)
		}
		changed = typ != t.natType || r.Public != t.public
		t.natType, t.public, t.discovered = typ, r.Public, true
		ev.Type = typ.String()
	}
	t.observe(now, ev)
	if t.cfg.RelayPolicy == RelayAuto && (r.Err != nil || t.natType == core.NATSymmetric || t.natType == core.NATUnknown) {
		t.allocateRelay()
	}
	if changed {
		t.register(now)
	}
	t.settle(now, start, "stun")
	if start && t.cfg.Rediscover > 0 {
		t.discoverTimer = t.env.Clock.AfterFunc(t.cfg.Rediscover, t.onRediscover)
	}
}

func (t *Traversal) onRediscover() {
	if !t.running {
		return
	}
	t.discoverTimer = t.env.Clock.AfterFunc(t.cfg.Rediscover, t.onRediscover)
	t.discover(t.env.Clock.Now(), false)
}

func (t *Traversal) onPortMapping(now time.Time, m core.PortMapping) {
	ev := Mapped{External: m.External, Lease: m.Lease, Took: m.Took}
	if m.Err != nil {
		ev.Err = m.Err.Error()
	} else if m.External.IsValid() && m.External != t.mapped {
		t.mapped = m.External
		t.register(now)
	}
	t.observe(now, ev)
	t.settle(now, true, "upnp")
}

func (t *Traversal) onRelay(now time.Time, server netip.AddrPort, a core.RelayAllocation) {
	ev := RelayAllocated{Server: server, Relayed: a.Relayed, Lifetime: a.Lifetime, Took: a.Took}
	if a.Err != nil {
		ev.Err = a.Err.Error()
	} else if a.Relayed.IsValid() && a.Relayed != t.relayed {
		t.relayed = a.Relayed
		t.register(now)
	}
	t.observe(now, ev)
}

// settle counts an answered startup query (start) or feeds a later
// observation to the reachability hysteresis.
func (t *Traversal) settle(now time.Time, start bool, reason string) {
	if start && t.startPending > 0 {
		t.startPending--
		if t.startPending == 0 {
			t.decideReachability(now, reason)
		}
		return
	}
	if t.reachKnown {
		t.observeReachability(now, reason)
	}
}

// reachableNow says whether the current facts make the node reachable
// without an introduction.
func (t *Traversal) reachableNow() bool {
	return t.natType == core.NATOpen || t.natType == core.NATFullCone || t.mapped.IsValid()
}

// decideReachability sets the first reachable state, once every startup
// query has answered (so the state does not flip while they arrive).
func (t *Traversal) decideReachability(now time.Time, reason string) {
	if t.reachKnown {
		t.observeReachability(now, reason)
		return
	}
	t.reachKnown, t.reachable, t.reachDisagree = true, t.reachableNow(), 0
	t.observe(now, Reachability{Reachable: t.reachable, Type: t.natType.String(), Reason: reason})
}

// observeReachability changes the reachable state only after
// ReachabilityAfter consecutive observations disagree with it.
func (t *Traversal) observeReachability(now time.Time, reason string) {
	if t.reachableNow() == t.reachable {
		t.reachDisagree = 0
		return
	}
	t.reachDisagree++
	if t.reachDisagree < t.cfg.ReachabilityAfter {
		return
	}
	t.reachable, t.reachDisagree = !t.reachable, 0
	t.observe(now, Reachability{Reachable: t.reachable, Type: t.natType.String(), Reason: reason})
}

// register sends REGISTER to every rendezvous, with a fresh nonce each.
func (t *Traversal) register(now time.Time) {
	for _, r := range t.regs {
		r.prevNonce, r.prevSentAt = r.nonce, r.sentAt
		r.nonce, r.sentAt = t.nonce(), now
		m := wire.NATRegister{Nonce: r.nonce, Sender: t.selfKey, Info: t.info(), RTT: r.rtt}
		t.node.Send(r.addr, m.AppendPacket(nil))
	}
}

func (t *Traversal) onRegisterTick() {
	if !t.running {
		return
	}
	t.registerTimer = t.env.Clock.AfterFunc(t.cfg.KeepAlive, t.onRegisterTick)
	now := t.env.Clock.Now()
	for _, r := range t.regs {
		// Three keepalives without an answer: no longer registered there.
		if r.ok && now.Sub(r.lastOK) > 3*t.cfg.KeepAlive {
			r.ok = false
		}
	}
	t.register(now)
}

func (t *Traversal) handleRegistered(now time.Time, from netip.AddrPort, body []byte) error {
	m, err := wire.DecodeNATRegistered(body)
	if err != nil {
		return err
	}
	r := t.registration(from)
	if r == nil {
		return t.drop(core.ReasonUnsolicited)
	}
	sentAt := r.sentAt
	switch {
	case m.Nonce == 0:
		return t.drop(DropStale)
	case m.Nonce == r.nonce:
	case m.Nonce == r.prevNonce:
		sentAt = r.prevSentAt
	default:
		return t.drop(DropStale)
	}
	if m.Nonce == r.nonce {
		r.nonce = 0
	}
	r.prevNonce, r.lastOK = 0, now
	hadRTT := r.rtt != 0
	r.rtt = max(now.Sub(sentAt), time.Microsecond)
	if !r.ok || m.Observed != r.observed {
		r.ok, r.observed = true, m.Observed
		t.observe(now, Registered{Rendezvous: from, Observed: m.Observed, RTT: r.rtt})
	}
	if !hadRTT {
		// Tell the rendezvous the RTT at once: it times introductions.
		r.prevNonce, r.prevSentAt = r.nonce, r.sentAt
		r.nonce, r.sentAt = t.nonce(), now
		reg := wire.NATRegister{Nonce: r.nonce, Sender: t.selfKey, Info: t.info(), RTT: r.rtt}
		t.node.Send(r.addr, reg.AppendPacket(nil))
	}
	return nil
}

func (t *Traversal) registration(addr netip.AddrPort) *registration {
	for _, r := range t.regs {
		if r.addr == addr {
			return r
		}
	}
	return nil
}

// nonce draws a random non-zero 64-bit value.
func (t *Traversal) nonce() uint64 {
	for {
		if v := t.env.Rand.Uint64(); v != 0 {
			return v
		}
	}
}
