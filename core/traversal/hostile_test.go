package traversal_test

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/coretest"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/traversal"
	"github.com/dchat/network/core/wire"
)

func dropReasons(l *lab, i int) map[string]int {
	out := map[string]int{}
	for _, d := range events[core.Drop](l, i) {
		out[d.Reason]++
	}
	return out
}

type directory map[netip.AddrPort]identity.PeerID

func (d directory) PeerID(a netip.AddrPort) (identity.PeerID, bool) {
	id, ok := d[a]
	return id, ok
}

// TestHostileInput: malformed, unsolicited, stale, forged and flooding
// messages are dropped and counted, never acted on.
func TestHostileInput(t *testing.T) {
	l := newLab(t, []spec{{typ: open}, {typ: open}}, nil)
	l.start()
	l.run(time.Second)
	evil := netip.MustParseAddrPort("192.0.2.66:666")
	key := func(i int) [32]byte { return [32]byte(l.id(i).PublicKey()) }
	inject := func(to int, pkt []byte) { l.net.Inject(evil, coretest.Addr(to), pkt) }

	// Truncated and padded bodies of every kind.
	for k := wire.KindNATRegister; k <= wire.KindPathPong; k++ {
		inject(0, []byte{wire.Version, byte(k), 1, 2, 3})
		inject(1, append([]byte{wire.Version, byte(k)}, make([]byte, 200)...))
	}
	l.run(time.Second)
	if n := dropReasons(l, 0)[core.ReasonMalformed] + dropReasons(l, 1)[core.ReasonMalformed]; n != 18 {
		t.Fatalf("malformed drops %d: %v %v", n, dropReasons(l, 0), dropReasons(l, 1))
	}

	// OFFERs and REFUSEDs from a node that is not a rendezvous.
	inject(1, (&wire.NATOffer{Txn: 1, Peer: key(2), Observed: evil}).AppendPacket(nil))
	inject(1, (&wire.NATRefused{Txn: 1, Target: key(2)}).AppendPacket(nil))
	inject(1, wire.NATRegistered{Nonce: 1, Observed: evil}.AppendPacket(nil))
	// Probes for attempts that do not exist.
	inject(1, (&wire.NATProbe{Txn: 7, Sender: key(2), Seq: 1}).AppendPacket(nil, wire.KindPunch))
	inject(1, (&wire.NATProbe{Txn: 7, Sender: key(2), Seq: 1}).AppendPacket(nil, wire.KindPunchAck))
	inject(1, (&wire.NATProbe{Txn: 7, Sender: key(2), Seq: 1}).AppendPacket(nil, wire.KindPathPong))
	// Messages claiming this node's own key, or none.
	inject(1, (&wire.NATProbe{Txn: 7, Sender: key(1), Seq: 1}).AppendPacket(nil, wire.KindPunch))
	inject(0, (&wire.NATRegister{Nonce: 1}).AppendPacket(nil))
	// REGISTER and CONNECT to a node that is no rendezvous.
	inject(1, (&wire.NATRegister{Nonce: 1, Sender: key(2)}).AppendPacket(nil))
	inject(1, (&wire.NATConnect{Txn: 1, Sender: key(2), Target: key(0)}).AppendPacket(nil))
	l.run(time.Second)
	d := dropReasons(l, 1)
	if d[core.ReasonUnsolicited] != 3 || d[traversal.DropStale] != 3 || d[traversal.DropSelf] != 1 || d[traversal.DropNotServing] != 2 {
		t.Fatalf("drops at node 1: %v", d)
	}
	if dropReasons(l, 0)[traversal.DropBadPeer] != 1 {
		t.Fatalf("drops at node 0: %v", dropReasons(l, 0))
	}
	if len(events[traversal.PathSet](l, 1))+len(events[traversal.Failed](l, 1)) != 0 {
		t.Fatal("hostile input started or ended an attempt")
	}

	// A CONNECT flood from one source is rate-limited at the rendezvous.
	for range 30 {
		inject(0, (&wire.NATConnect{Txn: 9, Sender: key(1), Target: key(2)}).AppendPacket(nil))
	}
	l.run(time.Second)
	if n := dropReasons(l, 0)[traversal.DropRateLimited]; n != 20 {
		t.Fatalf("rate-limited %d: %v", n, dropReasons(l, 0))
	}
	if s := l.ts[0].Stats(); s.Introductions != 10 || s.Drops[traversal.DropRateLimited] != 20 {
		t.Fatalf("rendezvous stats %+v", s)
	}
	// Without authentication the forgery reaches node 2 as an introduction
	// (the initiator's OFFER went to the forger): the repeats are
	// duplicates, and the ladder towards the forger fails.
	if n := dropReasons(l, 2)[traversal.DropDuplicate]; n != 9 {
		t.Fatalf("repeated offers: %v", dropReasons(l, 2))
	}
	l.run(5 * time.Second)
	if f := events[traversal.Failed](l, 2); len(f) != 1 || f[0].Reason != traversal.FailExhausted {
		t.Fatalf("failures at node 2: %+v", f)
	}
}

// TestImpostor: where the transport authenticates peers, a REGISTER or
// PUNCH claiming another peer's key is dropped as from an impostor.
func TestImpostor(t *testing.T) {
	dir := directory{}
	l := newLabOpts(t, []spec{{typ: open}, {typ: open}}, nil, dir)
	for i := range l.nodes {
		dir[coretest.Addr(i)] = l.id(i)
	}
	l.start()
	l.run(time.Second)
	evil := coretest.Addr(9)
	l.net.Inject(evil, coretest.Addr(0), (&wire.NATRegister{Nonce: 1, Sender: [32]byte(l.id(2).PublicKey())}).AppendPacket(nil))
	l.run(time.Second)
	if n := dropReasons(l, 0)[core.ReasonImpostor]; n != 1 {
		t.Fatalf("impostor drops %v", dropReasons(l, 0))
	}
	connect(t, l, 1, 2)
	l.run(3 * time.Second)
	if _, ok := l.ts[1].Path(l.id(2)); !ok {
		t.Fatalf("honest peers failed\n%v", l.net)
	}
}

func TestConfig(t *testing.T) {
	if err := traversal.DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func(*traversal.Config){
		"keepalive":  func(c *traversal.Config) { c.KeepAlive = 0 },
		"attempts":   func(c *traversal.Config) { c.PunchAttempts = 0 },
		"upgrade":    func(c *traversal.Config) { c.UpgradeAfter = 0 },
		"policy":     func(c *traversal.Config) { c.RelayPolicy = 9 },
		"rate":       func(c *traversal.Config) { c.ConnectRate = 0 },
		"stun":       func(c *traversal.Config) { c.STUNServers = []netip.AddrPort{{}} },
		"delay":      func(c *traversal.Config) { c.MaxStartDelay = time.Hour },
		"prediction": func(c *traversal.Config) { c.PortPrediction = 1000 },
	} {
		c := traversal.DefaultConfig()
		f(&c)
		if err := c.Validate(); !errors.Is(err, core.ErrConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, s := range []string{"auto", "always", "never"} {
		if p, err := traversal.ParseRelayPolicy(s); err != nil || p.String() != s {
			t.Errorf("%s: %v %v", s, p, err)
		}
	}
	if _, err := traversal.ParseRelayPolicy("sometimes"); err == nil {
		t.Error("bad policy parsed")
	}
	c := traversal.FromCore(core.Config{EnableUPnP: false, EnableHolePunching: true})
	if c.UseUPnP || !c.HolePunching {
		t.Errorf("FromCore %+v", c)
	}
	if _, err := traversal.New(nil, traversal.DefaultConfig()); err == nil {
		t.Error("nil node accepted")
	}
}
