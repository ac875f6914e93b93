package adversary

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/dht"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
)

// Contact is a peer as a DHT answer names it.
type Contact struct {
	ID   identity.PeerID
	Addr netip.AddrPort
}

// PersonaTransport decorates a node's transport so that the DHT datagrams
// it sends carry another identity than the node's own: how one node with
// one address presents several (Sybil) identities. DHT headers are not
// signed; only a transport that authenticates sessions (core.Env.Peers)
// would catch it. The identity used towards an address is the one set
// for its next datagram (Once), else the one last introduced to it
// (Stick), else the node's own.
//
// Concurrency: not safe for concurrent use.
type PersonaTransport struct {
	next   core.Transport
	once   map[netip.AddrPort]identity.PeerID
	sticky map[netip.AddrPort]identity.PeerID
}

// NewPersonaTransport wraps t.
func NewPersonaTransport(t core.Transport) *PersonaTransport {
	return &PersonaTransport{next: t, once: map[netip.AddrPort]identity.PeerID{}, sticky: map[netip.AddrPort]identity.PeerID{}}
}

// LocalAddr implements core.Transport.
func (t *PersonaTransport) LocalAddr() netip.AddrPort { return t.next.LocalAddr() }

// Send implements core.Transport.
func (t *PersonaTransport) Send(to netip.AddrPort, b []byte) {
	if len(b) >= wire.HeaderLen+8+wire.DHTIDLen && isDHT(wire.Kind(b[1])) {
		id, ok := t.once[to]
		if ok {
			delete(t.once, to)
		} else {
			id, ok = t.sticky[to]
		}
		if ok {
			c := append([]byte(nil), b...)
			copy(c[wire.HeaderLen+8:], id.PublicKey())
			b = c
		}
	}
	t.next.Send(to, b)
}

// Once makes the next DHT datagram to addr carry id.
func (t *PersonaTransport) Once(addr netip.AddrPort, id identity.PeerID) { t.once[addr] = id }

// Stick makes DHT datagrams to addr carry id until changed.
func (t *PersonaTransport) Stick(addr netip.AddrPort, id identity.PeerID) { t.sticky[addr] = id }

func isDHT(k wire.Kind) bool { return k >= wire.KindDHTPing && k <= wire.KindDHTPong }

// DHTAttacker plays a DHT role over a node's real DHT component: it is
// the component's dht.Liar and, for sybil and eclipse, a core.Component
// that introduces its identities to peers.
type DHTAttacker struct {
	role     string
	p        Params
	node     *core.Node
	d        *dht.DHT
	k        int
	rand     *rand.Rand
	addr     netip.AddrPort
	personas []persona // sybil, eclipse: [0] is the node's own identity
	pt       *PersonaTransport
	fellows  []persona // routing-poisoning: the other attackers
	fakeAddr func(i int) netip.AddrPort
	victim   Contact
	running  bool
	timer    core.Timer
	intro    int
	stats    Stats
}

type persona struct {
	id   identity.PeerID
	key  identity.Key
	addr netip.AddrPort
}

// DHTConfig is what a DHT attacker is given besides its node.
type DHTConfig struct {
	// Transport is the node's PersonaTransport (sybil, eclipse).
	Transport *PersonaTransport
	// Fellows are the other attackers (routing-poisoning names them).
	Fellows []Contact
	// Unroutable returns the i-th address where no node listens, for the
	// nonexistent peers routing-poisoning names.
	Unroutable func(i int) netip.AddrPort
	// Victim is the node eclipse targets (and sybil, if set).
	Victim Contact
	// K is the bucket size (the length of a NODES answer).
	K int
}

// maxGrind bounds the tries to grind one identity close to a key.
const maxGrind = 1 << 14

// NewDHT makes node's DHT d play role with params p.
func NewDHT(role string, p Params, node *core.Node, d *dht.DHT, rnd *rand.Rand, c DHTConfig) (*DHTAttacker, error) {
	if Layer(role) != "dht" {
		return nil, fmt.Errorf("%w: adversary: %q is not a DHT role", core.ErrConfig, role)
	}
	p = p.Fill(role)
	if err := p.Validate(role); err != nil {
		return nil, err
	}
	if role == Eclipse && c.Victim.ID.IsZero() {
		return nil, fmt.Errorf("%w: adversary: eclipse needs a victim", core.ErrConfig)
	}
	if (role == Sybil || role == Eclipse) && c.Transport == nil {
		return nil, fmt.Errorf("%w: adversary: %s needs a PersonaTransport", core.ErrConfig, role)
	}
	a := &DHTAttacker{role: role, p: p, node: node, d: d, k: max(1, c.K), rand: rnd,
		addr: node.Env().Transport.LocalAddr(), pt: c.Transport, fakeAddr: c.Unroutable, victim: c.Victim}
	self := node.ID()
	a.personas = []persona{{id: self, key: self.Key(), addr: a.addr}}
	if role == Sybil || role == Eclipse {
		for j := 1; j < p.Identities; j++ {
			var id identity.PeerID
			if c.Victim.ID.IsZero() {
				id = randomID(rnd)
			} else {
				// Spread over the victim's deeper buckets: 5 to 12 bits
				// shared, where honest peers are few.
				id = grind(rnd, c.Victim.ID.Key(), 5+(j-1)%8)
			}
			a.personas = append(a.personas, persona{id: id, key: id.Key(), addr: a.addr})
		}
	}
	for _, f := range c.Fellows {
		if f.ID != self {
			a.fellows = append(a.fellows, persona{id: f.ID, key: f.ID.Key(), addr: f.Addr})
		}
	}
	d.SetLiar(a)
	node.Attach(a)
	return a, nil
}

// Identities returns the identities the attacker presents (its own first).
func (a *DHTAttacker) Identities() []identity.PeerID {
	out := make([]identity.PeerID, len(a.personas))
	for i, p := range a.personas {
		out[i] = p.id
	}
	return out
}

// Stats returns the attacker's counters.
func (a *DHTAttacker) Stats() Stats { return a.stats }

func randomID(r *rand.Rand) identity.PeerID {
	var pub [32]byte
	fill(r, pub[:])
	return identity.PeerIDFromPublicKey(pub[:])
}

// grind draws identities until one's key shares at least bits leading bits
// with key (or maxGrind tries, keeping the best): cheap, as an identity is
// only a public key that nobody asks to sign here.
func grind(r *rand.Rand, key identity.Key, bits int) identity.PeerID {
	var best identity.PeerID
	bestN := -1
	for range maxGrind {
		id := randomID(r)
		n := identity.Xor(key, id.Key()).CommonPrefixLen()
		if n > bestN {
			best, bestN = id, n
		}
		if n >= bits {
			break
		}
	}
	return best
}

// Nodes implements dht.Liar.
func (a *DHTAttacker) Nodes(target identity.Key, requester identity.PeerID, from netip.AddrPort, honest []wire.DHTNode) []wire.DHTNode {
	a.stats.Lies++
	var cands []persona
	switch a.role {
	case Poisoning:
		cands = append(cands, a.fellows...)
		for i := range a.k / 2 {
			id := grind(a.rand, target, 6)
			addr := a.addr
			if a.fakeAddr != nil {
				addr = a.fakeAddr(a.rand.IntN(1 << 20))
			}
			_ = i
			cands = append(cands, persona{id: id, key: id.Key(), addr: addr})
		}
	default:
		cands = append(cands, a.personas...)
		for _, h := range honest {
			id := identity.PeerIDFromPublicKey(h.ID[:])
			cands = append(cands, persona{id: id, key: id.Key(), addr: h.Addr})
		}
	}
	cands = slices.DeleteFunc(cands, func(p persona) bool { return p.id == requester })
	slices.SortFunc(cands, func(x, y persona) int {
		if c := identity.Xor(target, x.key).Cmp(identity.Xor(target, y.key)); c != 0 {
			return c
		}
		return bytes.Compare(x.id.PublicKey(), y.id.PublicKey())
	})
	cands = slices.CompactFunc(cands, func(x, y persona) bool { return x.id == y.id })
	if len(cands) > a.k {
		cands = cands[:a.k]
	}
	out := make([]wire.DHTNode, len(cands))
	for i, p := range cands {
		out[i] = wire.DHTNode{ID: [wire.DHTIDLen]byte(p.id.PublicKey()), Addr: p.addr}
	}
	if a.pt != nil && len(a.personas) > 1 {
		// Answer as the identity the requester most likely asked: of
		// ours, the closest to the target (lookups ask closest first).
		best := a.personas[0]
		for _, p := range a.personas[1:] {
			if identity.Xor(target, p.key).Cmp(identity.Xor(target, best.key)) < 0 {
				best = p
			}
		}
		a.pt.Once(from, best.id)
	}
	return out
}

// Start implements core.Component: sybil and eclipse nodes introduce an
// identity every Interval.
func (a *DHTAttacker) Start(time.Time) {
	a.running = true
	if a.timer == nil && a.pt != nil && len(a.personas) > 1 {
		a.timer = a.node.Env().Clock.AfterFunc(a.p.Interval, a.onIntro)
	}
}

// Stop implements core.Component.
func (a *DHTAttacker) Stop(time.Time) {
	a.running = false
	if a.timer != nil {
		a.timer.Stop()
		a.timer = nil
	}
}

// onIntro sends one FIND_NODE under the next identity, to the victim (or,
// without one, to a random peer of the table), and keeps answering that
// peer as that identity: the peer's admission ping then gets a PONG from
// it, and the identity enters the peer's table if its limits allow.
func (a *DHTAttacker) onIntro() {
	a.timer = nil
	if !a.running {
		return
	}
	a.timer = a.node.Env().Clock.AfterFunc(a.p.Interval, a.onIntro)
	to := a.victim.Addr
	if a.victim.ID.IsZero() {
		ps := a.d.Table().Peers(0)
		if len(ps) == 0 {
			return
		}
		to = ps[a.rand.IntN(len(ps))].Addr
	}
	a.intro = a.intro%(len(a.personas)-1) + 1
	p := a.personas[a.intro]
	a.pt.Stick(to, p.id)
	m := wire.FindNode{DHTHeader: wire.DHTHeader{ReqID: a.rand.Uint64() | 1, Sender: [wire.DHTIDLen]byte(p.id.PublicKey())}, Target: p.key}
	a.node.Send(to, m.AppendPacket(nil))
	a.stats.Intros++
}
