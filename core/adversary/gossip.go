package adversary

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/gossip"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
)

// GossipAttacker plays a gossip role over a node's real gossip component:
// it is the component's gossip.Behavior and, for spam, forgeries and
// replays, a core.Component with timers of its own.
type GossipAttacker struct {
	role    string
	p       Params
	node    *core.Node
	g       *gossip.Gossip
	cfg     gossip.Config
	rand    *rand.Rand
	victim  identity.PeerID   // selective-drop
	others  []identity.PeerID // publishers forgeries claim to come from
	running bool
	timer   core.Timer
	seq     uint64
	credit  float64 // messages owed at the configured rate
	payload []byte
	saved   []saved // replay: accepted messages waiting for Delay
	shead   int
	stats   Stats
}

type saved struct {
	at  time.Time
	msg wire.Gossip // Payload owned
}

// maxSaved bounds the messages a replayer keeps.
const maxSaved = 4096

// NewGossip makes node's gossip component g play role (a gossip role)
// with params p; cfg is g's configuration. victim is selective-drop's
// victim; others are publishers forgeries may claim (e.g. honest nodes).
// The attacker is attached to node, so its timers follow the node's
// start and stop.
func NewGossip(role string, p Params, node *core.Node, g *gossip.Gossip, cfg gossip.Config, rnd *rand.Rand,
	victim identity.PeerID, others []identity.PeerID) (*GossipAttacker, error) {
	if Layer(role) != "gossip" {
		return nil, fmt.Errorf("%w: adversary: %q is not a gossip role", core.ErrConfig, role)
	}
	p = p.Fill(role)
	if err := p.Validate(role); err != nil {
		return nil, err
	}
	if p.Delay == 0 {
		p.Delay = cfg.CacheTTL + time.Second
	}
	a := &GossipAttacker{role: role, p: p, node: node, g: g, cfg: cfg, rand: rnd, victim: victim, others: others,
		payload: make([]byte, 64)}
	g.SetBehavior(a)
	node.Attach(a)
	return a, nil
}

// Stats returns the attacker's counters.
func (a *GossipAttacker) Stats() Stats { return a.stats }

// Relay implements gossip.Behavior.
func (a *GossipAttacker) Relay(_ gossip.ID, sender identity.PeerID) bool {
	switch a.role {
	case BlackHole:
		a.stats.Withheld++
		return false
	case SelectiveDrop:
		if sender == a.victim {
			a.stats.Withheld++
			return false
		}
	}
	return true
}

// Accepted implements gossip.Behavior: a replayer keeps the message.
func (a *GossipAttacker) Accepted(now time.Time, m *wire.Gossip) {
	if a.role != Replay {
		return
	}
	if len(a.saved)-a.shead >= maxSaved {
		return
	}
	c := *m
	c.Payload = append([]byte(nil), m.Payload...)
	a.saved = append(a.saved, saved{at: now.Add(a.p.Delay), msg: c})
	if a.running && a.timer == nil {
		a.arm(now)
	}
}

// Start implements core.Component.
func (a *GossipAttacker) Start(now time.Time) {
	a.running = true
	if floor := uint64(max(0, now.UnixNano())) + 1<<40; a.seq < floor {
		a.seq = floor // apart from the numbers the node's own publishing uses
	}
	a.arm(now)
}

// Stop implements core.Component.
func (a *GossipAttacker) Stop(time.Time) {
	a.running = false
	if a.timer != nil {
		a.timer.Stop()
		a.timer = nil
	}
}

func (a *GossipAttacker) arm(now time.Time) {
	if a.timer != nil {
		return
	}
	clk := a.node.Env().Clock
	switch a.role {
	case Spam, Forged:
		a.timer = clk.AfterFunc(a.p.Interval, a.onTick)
	case Replay:
		if a.shead < len(a.saved) {
			a.timer = clk.AfterFunc(max(0, a.saved[a.shead].at.Sub(now)), a.onTick)
		}
	}
}

func (a *GossipAttacker) onTick() {
	a.timer = nil
	if !a.running {
		return
	}
	now := a.node.Env().Clock.Now()
	switch a.role {
	case Spam:
		a.spam(now)
	case Forged:
		a.forge(now)
	case Replay:
		a.replay(now)
	}
	a.arm(now)
}

// due returns the number of messages per peer owed for one tick at Rate
// times the per-peer limit.
func (a *GossipAttacker) due() int {
	a.credit += a.p.Rate * a.cfg.PeerRate * a.p.Interval.Seconds()
	n := int(math.Floor(a.credit))
	a.credit -= float64(n)
	return n
}

func (a *GossipAttacker) peers() []netip.AddrPort {
	ps := a.g.Peers()
	out := make([]netip.AddrPort, 0, len(ps))
	for _, p := range ps {
		if p.Addr.IsValid() {
			out = append(out, p.Addr)
		}
	}
	return out
}

// spam sends due() new, validly signed messages to every peer: each
// message goes to all peers, so each peer sees Rate times its limit.
func (a *GossipAttacker) spam(now time.Time) {
	peers := a.peers()
	if len(peers) == 0 {
		return
	}
	for range a.due() {
		a.seq++
		fill(a.rand, a.payload)
		m := gossip.Seal(a.node.Identity(), a.seq, now, uint8(a.cfg.MaxTTL), a.payload)
		pkt := m.AppendPacket(nil)
		for _, to := range peers {
			a.node.Send(to, pkt)
		}
		a.stats.Spam += uint64(len(peers))
	}
}

// forge sends due() forgeries to every peer, in turn: a bad signature
// under the node's own key; another publisher's key with the node's own
// signature; and a payload that does not hash to the carried ID.
func (a *GossipAttacker) forge(now time.Time) {
	peers := a.peers()
	if len(peers) == 0 {
		return
	}
	for range a.due() {
		a.seq++
		fill(a.rand, a.payload)
		m := gossip.Seal(a.node.Identity(), a.seq, now, uint8(a.cfg.MaxTTL), a.payload)
		switch a.seq % 3 {
		case 0:
			m.Sig[a.rand.IntN(len(m.Sig))] ^= 1 << a.rand.IntN(8)
		case 1:
			if len(a.others) > 0 {
				claim := a.others[a.rand.IntN(len(a.others))]
				copy(m.Sender[:], claim.PublicKey())
				m.ID = gossip.ComputeID(claim, m.Seq, m.Time, m.Payload)
				copy(m.Sig[:], a.node.Identity().Sign(gossip.SigningBytes(m.ID)))
			} else {
				m.Sig[0] ^= 1
			}
		default:
			p := append([]byte(nil), m.Payload...)
			p[0] ^= 1
			m.Payload = p
		}
		pkt := m.AppendPacket(nil)
		for _, to := range peers {
			a.node.Send(to, pkt)
		}
		a.stats.Forged += uint64(len(peers))
	}
}

// replay re-sends the saved messages that have waited Delay to every
// peer, as a forwarder would (one more hop).
func (a *GossipAttacker) replay(now time.Time) {
	peers := a.peers()
	for a.shead < len(a.saved) && !a.saved[a.shead].at.After(now) {
		m := a.saved[a.shead].msg
		a.saved[a.shead] = saved{}
		a.shead++
		if m.TTL > 1 {
			m.TTL--
		}
		if m.Hops < 255 {
			m.Hops++
		}
		pkt := m.AppendPacket(nil)
		for _, to := range peers {
			a.node.Send(to, pkt)
		}
		a.stats.Replayed += uint64(len(peers))
	}
	if a.shead == len(a.saved) {
		a.saved, a.shead = a.saved[:0], 0
	}
}

func fill(r *rand.Rand, b []byte) {
	for i := 0; i < len(b); i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < len(b); j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
}
