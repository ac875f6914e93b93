// Package natagree is the agreement between the NAT lab and the
// simulator: the lab's traversal cases (two nodes behind their own NATs, a
// public rendezvous, coturn for STUN and TURN), each with the method the
// path must take, and Simulate, which builds the same situation in a
// sim.World with its NAT model and runs the same core/traversal code.
//
// cmd/dchat-node's TestNATLab runs each case for real (dchat-node
// processes in network namespaces) and checks that the real method, the
// simulated one and Case.Want are all equal; this package's tests check
// the simulated side alone, so a change in sim/ or core/ that breaks the
// agreement fails here even where the lab cannot run.
//
// Concurrency: Simulate is safe for concurrent use (each call has its own
// world).
package natagree

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/traversal"
	"github.com/dchat/network/sim"
)

// Case is one lab situation: node A behind a NAT of type A, node B behind
// one of type B, A asks for a path to B.
type Case struct {
	Name string
	A, B core.NATType
	// UPnPB puts a UPnP IGD on B's NAT, and B asks it for a mapping.
	UPnPB bool
	// Want is the method of A's first path to B.
	Want traversal.Method
}

// Cases are the lab's cases.
var Cases = []Case{
	// Two port-restricted cones: the rendezvous introduces them and both
	// punch (RFC 5128 §3.3).
	{Name: "punch", A: core.NATPortRestricted, B: core.NATPortRestricted, Want: traversal.MethodPunch},
	// Two symmetric NATs: punching cannot work, TURN relays (RFC 8656).
	{Name: "relay", A: core.NATSymmetric, B: core.NATSymmetric, Want: traversal.MethodRelay},
	// B's gateway maps its port (UPnP IGD): A reaches it there at once.
	{Name: "upnp", A: core.NATPortRestricted, B: core.NATPortRestricted, UPnPB: true, Want: traversal.MethodUPnP},
}

// Lookup returns the case named name.
func Lookup(name string) (Case, bool) {
	for _, c := range Cases {
		if c.Name == name {
			return c, true
		}
	}
	return Case{}, false
}

// Result is the outcome of a case at A.
type Result struct {
	// Method and Addr are A's first path to B; Took runs from Connect.
	Method traversal.Method
	Addr   netip.AddrPort
	Took   time.Duration
	// BMethod is B's first path to A (MethodNone if it found none).
	BMethod traversal.Method
	// Failed is A's failure reason, if the attempt failed.
	Failed string
}

// Simulated world layout.
const (
	nodeRendezvous = iota // public, serves
	nodeServer            // public: the STUN (RFC 5780) and TURN server, like coturn
	nodeA
	nodeB
	nodes
)

// Settle is how long the simulated nodes run before A connects: self
// discovery, relay allocation and registration, as the lab test waits for
// them.
const Settle = 5 * time.Second

// ErrNoPath: A found no path within the run.
var ErrNoPath = errors.New("natagree: no path")

// Simulate runs c in the simulator with the given seed: 1 ms links, the
// NAT presets of c's types, traversal configured as dchat-node configures
// it from the lab's [nat] tables. A connects to B after Settle; the run
// ends at A's first path or failure, or 30 s after Connect.
func Simulate(c Case, seed uint64) (Result, error) {
	cfg := sim.NetConfig{
		Latency:     sim.NewConstantLatency(time.Millisecond),
		NAT:         make([]sim.NATConfig, nodes),
		STUNServers: []int{nodeServer},
		TURNServers: []int{nodeServer},
	}
	cfg.NAT[nodeA] = sim.NATPreset(c.A)
	cfg.NAT[nodeB] = sim.NATPreset(c.B)
	cfg.NAT[nodeB].UPnP = c.UPnPB
	var res Result
	var failedA bool
	w, err := sim.NewWorld(seed, nodes, cfg, func(_ time.Time, node int, ev core.Event) {
		if f, ok := ev.(traversal.Failed); ok && node == nodeA {
			res.Failed, failedA = f.Reason, true
		}
	})
	if err != nil {
		return res, err
	}
	ids := make([]*identity.Identity, nodes)
	trav := make([]*traversal.Traversal, nodes)
	var connected time.Time
	for i := range nodes {
		id, err := identity.Generate(w.Entropy(i, "identity"))
		if err != nil {
			return res, err
		}
		ids[i] = id
		node, err := core.NewNode(id, w.Env(i), core.DefaultConfig())
		if err != nil {
			return res, err
		}
		w.SetNode(i, node)
		if i == nodeServer {
			continue
		}
		tc := traversal.FromCore(core.DefaultConfig())
		tc.UseUPnP = i == nodeB && c.UPnPB // dchat-node: enable_upnp && [nat] upnp
		if i == nodeRendezvous {
			tc.Serve = true
		} else {
			tc.STUNServers = []netip.AddrPort{sim.STUNAddr(nodeServer)}
			tc.TURNServers = []netip.AddrPort{sim.STUNAddr(nodeServer)}
			tc.Rendezvous = []netip.AddrPort{sim.Addr(nodeRendezvous)}
		}
		t, err := traversal.New(node, tc)
		if err != nil {
			return res, fmt.Errorf("natagree: node %d: %w", i, err)
		}
		trav[i] = t
		i := i
		t.OnPath(func(now time.Time, _ identity.PeerID, addr netip.AddrPort, m traversal.Method) {
			switch {
			case i == nodeA && res.Method == traversal.MethodNone && m != traversal.MethodNone:
				res.Method, res.Addr, res.Took = m, addr, now.Sub(connected)
			case i == nodeB && res.BMethod == traversal.MethodNone:
				res.BMethod = m
			}
		})
	}
	for i := range nodes {
		w.Node(i).Start(w.Now())
	}
	w.Run(Settle)
	connected = w.Now()
	if err := trav[nodeA].Connect(connected, ids[nodeB].ID()); err != nil {
		return res, fmt.Errorf("natagree: connect: %w", err)
	}
	for end := Settle + 30*time.Second; w.Engine().Now() < end && res.Method == traversal.MethodNone && !failedA; {
		w.Run(w.Engine().Now() + 100*time.Millisecond)
	}
	// Let B's side settle too (its ladder runs from the OFFER).
	w.Run(w.Engine().Now() + 2*time.Second)
	if res.Method == traversal.MethodNone {
		return res, fmt.Errorf("%w (failed: %q)", ErrNoPath, res.Failed)
	}
	return res, nil
}
