package adversary

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
)

type sent struct {
	to netip.AddrPort
	b  []byte
}

type recorder struct{ out []sent }

func (r *recorder) Send(to netip.AddrPort, b []byte) { r.out = append(r.out, sent{to, b}) }
func (r *recorder) LocalAddr() netip.AddrPort        { return netip.MustParseAddrPort("10.0.0.1:4001") }

// A persona rewrites the sender key of DHT datagrams only, on a copy: the
// caller's buffer (which may be shared by several sends) stays intact.
func TestPersonaTransport(t *testing.T) {
	rec := &recorder{}
	pt := NewPersonaTransport(rec)
	r := rand.New(rand.NewPCG(1, 2))
	own, other, third := randomID(r), randomID(r), randomID(r)
	peer := netip.MustParseAddrPort("10.0.0.2:4001")
	ping := wire.DHTPing{DHTHeader: wire.DHTHeader{ReqID: 7}}
	copy(ping.Sender[:], own.PublicKey())
	pkt := ping.AppendPacket(nil)
	orig := bytes.Clone(pkt)
	sender := func(b []byte) identity.PeerID {
		m, err := wire.DecodeDHTPing(b[wire.HeaderLen:])
		if err != nil {
			t.Fatal(err)
		}
		return identity.PeerIDFromPublicKey(m.Sender[:])
	}

	pt.Send(peer, pkt) // no persona: unchanged
	pt.Once(peer, other)
	pt.Send(peer, pkt) // once
	pt.Send(peer, pkt) // back to the own identity
	pt.Stick(peer, third)
	pt.Send(peer, pkt)
	pt.Send(peer, pkt)
	gossip := append([]byte{wire.Version, byte(wire.KindGossip)}, make([]byte, 200)...)
	pt.Send(peer, gossip) // not DHT: never touched

	want := []identity.PeerID{own, other, own, third, third}
	for i, w := range want {
		if got := sender(rec.out[i].b); got != w {
			t.Errorf("datagram %d: sender %v, want %v", i, got, w)
		}
	}
	if !bytes.Equal(pkt, orig) {
		t.Error("the caller's buffer was modified")
	}
	if !bytes.Equal(rec.out[5].b, gossip) {
		t.Error("a gossip datagram was rewritten")
	}
}

// Grinding finds identities whose keys share the asked leading bits.
func TestGrind(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	key := randomID(r).Key()
	for _, bits := range []int{1, 5, 10} {
		id := grind(r, key, bits)
		if n := identity.Xor(key, id.Key()).CommonPrefixLen(); n < bits {
			t.Errorf("asked %d bits, got %d", bits, n)
		}
	}
}

// Roles name their layer, and parameters are checked per role.
func TestRolesAndParams(t *testing.T) {
	for _, role := range Roles {
		if Layer(role) == "" {
			t.Errorf("role %s has no layer", role)
		}
		if err := DefaultParams(role).Fill(role).Validate(role); err != nil {
			t.Errorf("role %s: defaults invalid: %v", role, err)
		}
	}
	if Layer("teleport") != "" {
		t.Error("an unknown role has a layer")
	}
	bad := DefaultParams(Spam)
	bad.Rate = -1
	if err := bad.Validate(Spam); err == nil {
		t.Error("a negative spam rate passed")
	}
}
