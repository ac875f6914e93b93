package traversal_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/coretest"
	"github.com/dchat/network/core/traversal"
	"github.com/dchat/network/core/wire"
)

var (
	open       = core.NATOpen
	fullCone   = core.NATFullCone
	restricted = core.NATRestrictedCone
	portRes    = core.NATPortRestricted
	symmetric  = core.NATSymmetric
)

// expected is the initiator's method for a pair of NAT types, or MethodNone
// for a failure, without relays and (relay true) with a relay for every
// symmetric node.
func expected(a, b core.NATType, relay bool) traversal.Method {
	switch {
	case a == open || b == open || a == fullCone || b == fullCone:
		return traversal.MethodDirect
	case (a == symmetric && (b == symmetric || b == portRes)) || (b == symmetric && a == portRes):
		if relay {
			return traversal.MethodRelay
		}
		return traversal.MethodNone
	}
	return traversal.MethodPunch
}

// TestLadderPairs runs the ladder for every pair of NAT types, node 1
// asking for node 2, with and without TURN relays.
func TestLadderPairs(t *testing.T) {
	types := []core.NATType{open, fullCone, restricted, portRes, symmetric}
	for _, relay := range []bool{false, true} {
		for _, a := range types {
			for _, b := range types {
				name := fmt.Sprintf("%v-%v-relay=%v", a, b, relay)
				t.Run(name, func(t *testing.T) {
					l := newLab(t, []spec{{typ: a, relay: relay}, {typ: b, relay: relay}}, nil)
					l.start()
					l.run(time.Second)
					if err := l.ts[1].Connect(l.net.Now(), l.id(2)); err != nil {
						t.Fatal(err)
					}
					l.run(10 * time.Second)
					want := expected(a, b, relay)
					sets := events[traversal.PathSet](l, 1)
					fails := events[traversal.Failed](l, 1)
					if want == traversal.MethodNone {
						if len(sets) != 0 || len(fails) != 1 || fails[0].Reason != traversal.FailExhausted {
							t.Fatalf("want failure, got paths %+v failures %+v\n%v", sets, fails, l.net)
						}
						f := fails[0]
						if f.LocalType != a.String() || f.RemoteType != b.String() || !f.Initiator {
							t.Fatalf("failure event %+v", f)
						}
						if _, ok := l.ts[1].Path(l.id(2)); ok {
							t.Fatal("a path after failure")
						}
						return
					}
					if len(sets) != 1 || len(fails) != 0 {
						t.Fatalf("want one path, got %+v, failures %+v\n%v", sets, fails, l.net)
					}
					s := sets[0]
					if s.Method != want || s.LocalType != a.String() || s.RemoteType != b.String() || !s.Initiator {
						t.Fatalf("path %+v, want method %v\n%v", s, want, l.net)
					}
					if s.Took <= 0 || s.Took > 5*time.Second {
						t.Fatalf("took %v", s.Took)
					}
					p, ok := l.ts[1].Path(l.id(2))
					q, ok2 := l.ts[2].Path(l.id(1))
					if !ok || !ok2 {
						t.Fatalf("paths: initiator %v target %v", ok, ok2)
					}
					if want == traversal.MethodRelay && (p.Method != traversal.MethodRelay || q.Method != traversal.MethodRelay) {
						t.Fatalf("relay pair on %v / %v", p.Method, q.Method)
					}
					// A successful attempt event for the chosen method, with both types.
					found := false
					for _, at := range events[traversal.Attempt](l, 1) {
						if at.Method == s.Method && at.OK {
							found = at.LocalType == a.String() && at.RemoteType == b.String()
						}
					}
					if !found {
						t.Fatalf("no ok attempt for %v: %+v", s.Method, events[traversal.Attempt](l, 1))
					}
					// The path survives keepalives.
					l.run(2 * time.Minute)
					if p2, ok := l.ts[1].Path(l.id(2)); !ok || p2.Addr != p.Addr {
						t.Fatalf("path changed or lost: %+v -> %+v %v", p, p2, ok)
					}
					if lost := events[traversal.Lost](l, 1); len(lost) != 0 {
						t.Fatalf("lost: %+v", lost)
					}
				})
			}
		}
	}
}

// A lost OFFER to the target leaves it silent, and its filtering NAT then
// drops every probe of the initiator: the ladder finds nothing. With
// LadderRetries the initiator asks again and gets its path; without, it
// reports the failure.
func TestLadderRetryAfterLostOffer(t *testing.T) {
	for _, retries := range []int{0, 1} {
		t.Run(fmt.Sprint("retries=", retries), func(t *testing.T) {
			l := newLab(t, []spec{{typ: open}, {typ: restricted}}, func(i int, c *traversal.Config) { c.LadderRetries = retries })
			lost := 0
			l.block = func(src, dst netip.AddrPort, pkt []byte) bool {
				// The first OFFER from the rendezvous to the target.
				if lost == 0 && src == coretest.Addr(0) && len(pkt) > 1 && pkt[1] == byte(wire.KindNATOffer) &&
					l.boxes[coretest.Addr(2)].public == dst.Addr() {
					lost++
					return true
				}
				return false
			}
			l.start()
			l.run(time.Second)
			if err := l.ts[1].Connect(l.net.Now(), l.id(2)); err != nil {
				t.Fatal(err)
			}
			l.run(20 * time.Second)
			sets, fails := events[traversal.PathSet](l, 1), events[traversal.Failed](l, 1)
			if lost != 1 {
				t.Fatalf("%d OFFERs lost, want 1", lost)
			}
			if retries == 0 {
				if len(sets) != 0 || len(fails) != 1 {
					t.Fatalf("without retries: paths %+v, failures %+v", sets, fails)
				}
				return
			}
			if len(sets) != 1 || len(fails) != 0 || sets[0].Method != traversal.MethodDirect {
				t.Fatalf("with a retry: paths %+v, failures %+v", sets, fails)
			}
			if st := l.ts[1].Stats(); st.LadderRetries != 1 {
				t.Errorf("ladder retries %d, want 1", st.LadderRetries)
			}
		})
	}
}
