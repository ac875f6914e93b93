package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/connmgr"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/traversal"
)

// maxConnectWait bounds the wait of POST /connect.
const maxConnectWait = time.Minute

// NATStatus is the NAT part of /status: what the node knows about its own
// reachability (traversal.Self) and its rendezvous role.
type NATStatus struct {
	// Type is the NAT type self discovery found (RFC 5780), "unknown"
	// before it answered or without a STUN server.
	Type string `json:"type"`
	// Public is the endpoint the STUN server saw; Mapped the UPnP mapping;
	// Relayed the TURN relay's address (each zero if none).
	Public  netip.AddrPort `json:"public"`
	Mapped  netip.AddrPort `json:"mapped"`
	Relayed netip.AddrPort `json:"relayed"`
	// Reachable: peers can reach the node unasked (no NAT, full cone, or
	// a mapped port).
	Reachable  bool `json:"reachable"`
	Discovered bool `json:"discovered"`
	// Serving: the node is a rendezvous; Rendezvous are the ones it
	// registers with.
	Serving    bool             `json:"serving_rendezvous"`
	Rendezvous []netip.AddrPort `json:"rendezvous"`
	// Registered are the rendezvous that answered a REGISTER, with the
	// endpoint each observed (the one peers punch towards), sorted.
	Registered []Registration `json:"registered"`
	// Paths is the number of peers with a traversal path.
	Paths int `json:"paths"`
}

// Registration is a rendezvous that answered, in NATStatus.
type Registration struct {
	Rendezvous netip.AddrPort `json:"rendezvous"`
	Observed   netip.AddrPort `json:"observed"`
}

// PeerPath is a NAT traversal path to a peer (in /peers and /connect).
type PeerPath struct {
	Peer   identity.PeerID `json:"peer"`
	Addr   netip.AddrPort  `json:"addr"`
	Method string          `json:"method"`
	Since  time.Time       `json:"since"`
	// Connected: the connection manager holds a session with the peer.
	Connected bool `json:"connected"`
}

// ConnectReply is the answer of POST /connect.
type ConnectReply struct {
	Peer identity.PeerID `json:"peer"`
	// Path is set once traversal found one (within wait).
	Path *PeerPath `json:"path,omitempty"`
	// Took is the time from the request to the path being set (0 if the
	// peer had a path already).
	Took time.Duration `json:"took_ns,omitempty"`
}

// traversalConfig is the traversal component's configuration: [network]
// (enable_upnp, enable_hole_punching) and [nat]. A node listed among the
// rendezvous (by peer ID) serves, and does not register with itself.
func (n *Node) traversalConfig() traversal.Config {
	nat := n.cfg.NAT
	c := traversal.FromCore(n.cfg.Network)
	c.UseUPnP = c.UseUPnP && nat.UPnP
	c.STUNServers = slices.Clone(nat.STUNServers)
	for _, s := range nat.TURNServers {
		c.TURNServers = append(c.TURNServers, s.Address)
	}
	for _, m := range nat.Rendezvous {
		if m.ID == n.ID() {
			c.Serve = true
			continue
		}
		c.Rendezvous = append(c.Rendezvous, m.Addr)
	}
	c.Serve = c.Serve || nat.ServeRendezvous
	c.RelayPolicy, _ = traversal.ParseRelayPolicy(nat.Relay) // validated; an error leaves auto
	return c
}

// onPath runs on the loop when traversal sets, changes or loses the path
// to a peer: a new path is handed to the connection manager, which opens a
// session over it (unless one is open already).
func (n *Node) onPath(now time.Time, peer identity.PeerID, addr netip.AddrPort, m traversal.Method) {
	if m == traversal.MethodNone || !addr.IsValid() {
		delete(n.paths, peer)
		n.log.Info("nat path lost", "peer", peer)
		return
	}
	n.paths[peer] = traversal.Path{Addr: addr, Method: m, Since: now}
	delete(n.natFailed, peer)
	if c, ok := n.mgr.Connection(peer); ok {
		if c.Addr != addr {
			n.log.Debug("nat path differs from the session's address; session kept", "peer", peer, "path", addr, "session", c.Addr)
		}
		return
	}
	if err := n.mgr.Connect(now, peer, addr); err != nil && !errors.Is(err, connmgr.ErrExists) {
		n.log.Warn("dialling over the nat path", "peer", peer, "addr", addr, "method", m, "err", err)
	}
}

// observeNAT runs on the loop for the traversal events: metrics and logs.
func (n *Node) observeNAT(ev core.Event) {
	switch e := ev.(type) {
	case traversal.Attempt:
		n.m.natAttempts.WithLabelValues(e.Method.String(), e.Result).Inc()
	case traversal.PathSet:
		n.m.natPaths.WithLabelValues(e.Method.String()).Inc()
		n.log.Info("nat path", "peer", e.Peer, "addr", e.Addr, "method", e.Method, "took", e.Took,
			"local_type", e.LocalType, "remote_type", e.RemoteType, "initiator", e.Initiator)
	case traversal.Upgrade:
		n.log.Info("nat path upgraded", "peer", e.Peer, "from", e.From, "to", e.To, "addr", e.Addr)
	case traversal.Failed:
		n.m.natFailures.WithLabelValues(e.Reason).Inc()
		n.natFailed[e.Peer] = e.Reason
		n.log.Warn("nat traversal failed", "peer", e.Peer, "reason", e.Reason, "took", e.Took,
			"local_type", e.LocalType, "remote_type", e.RemoteType)
	case traversal.Discovered:
		n.log.Info("nat discovered", "type", e.Type, "public", e.Public, "took", e.Took, "err", e.Err)
	case traversal.Mapped:
		n.log.Info("nat port mapped", "external", e.External, "took", e.Took, "err", e.Err)
	case traversal.RelayAllocated:
		n.log.Info("nat relay allocated", "relayed", e.Relayed, "server", e.Server, "took", e.Took, "err", e.Err)
	case traversal.Registered:
		n.registered[e.Rendezvous] = e.Observed
		n.log.Info("nat registered", "rendezvous", e.Rendezvous, "observed", e.Observed, "rtt", e.RTT)
	case traversal.Reachability:
		n.log.Info("nat reachability", "reachable", e.Reachable, "type", e.Type, "reason", e.Reason)
	}
}

// natStatus runs on the loop.
func (n *Node) natStatus() NATStatus {
	s := n.nat.Self()
	c := n.nat.Config()
	return NATStatus{Type: s.Type.String(), Public: s.Public, Mapped: s.Mapped, Relayed: s.Relayed,
		Reachable: s.Reachable, Discovered: s.Discovered, Serving: c.Serve,
		Rendezvous: append([]netip.AddrPort{}, c.Rendezvous...), Registered: n.registrations(), Paths: len(n.paths)}
}

// registrations runs on the loop.
func (n *Node) registrations() []Registration {
	out := []Registration{}
	for r, o := range n.registered { // sorted below
		out = append(out, Registration{Rendezvous: r, Observed: o})
	}
	slices.SortFunc(out, func(a, b Registration) int { return a.Rendezvous.Compare(b.Rendezvous) })
	return out
}

// peerPaths runs on the loop: the traversal paths, sorted by peer.
func (n *Node) peerPaths() []PeerPath {
	out := []PeerPath{}
	for id, p := range n.paths { // sorted below
		out = append(out, n.peerPath(id, p))
	}
	slices.SortFunc(out, func(a, b PeerPath) int { return strings.Compare(a.Peer.String(), b.Peer.String()) })
	return out
}

func (n *Node) peerPath(id identity.PeerID, p traversal.Path) PeerPath {
	return PeerPath{Peer: id, Addr: p.Addr, Method: p.Method.String(), Since: p.Since, Connected: n.mgr.IsConnected(id)}
}

// handleConnect is POST /connect?peer=ID[&wait=DURATION]: it asks
// traversal for a path to the peer (through the rendezvous) and, with
// wait, waits for it. A path found is dialled by the connection manager.
// Errors: 400 for a bad request, 409 when traversal refuses, 502 when the
// attempt failed, 504 when wait ran out.
func (n *Node) handleConnect(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id, err := identity.ParsePeerID(q.Get("peer"))
	if err != nil {
		http.Error(w, fmt.Sprintf("peer: %v", err), http.StatusBadRequest)
		return
	}
	var wait time.Duration
	if s := q.Get("wait"); s != "" {
		if wait, err = time.ParseDuration(s); err != nil || wait < 0 || wait > maxConnectWait {
			http.Error(w, fmt.Sprintf("wait: want a duration up to %v, got %q", maxConnectWait, s), http.StatusBadRequest)
			return
		}
	}
	start := time.Now()
	var cerr error
	if err := n.h.Do(r.Context(), func(now time.Time) {
		delete(n.natFailed, id)
		cerr = n.nat.Connect(now, id)
	}); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	if cerr != nil && !errors.Is(cerr, traversal.ErrConnected) && !errors.Is(cerr, traversal.ErrInProgress) {
		http.Error(w, cerr.Error(), http.StatusConflict)
		return
	}
	rep := ConnectReply{Peer: id}
	deadline := start.Add(wait)
	for {
		var failed string
		if err := n.h.Do(r.Context(), func(time.Time) {
			if p, ok := n.nat.Path(id); ok {
				pp := n.peerPath(id, p)
				rep.Path = &pp
			}
			failed = n.natFailed[id]
		}); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		switch {
		case rep.Path != nil:
			rep.Took = max(rep.Path.Since.Sub(start), 0) // 0: the path predates the request
			writeJSON(w, rep)
			return
		case failed != "":
			http.Error(w, "no path: "+failed, http.StatusBadGateway)
			return
		case wait == 0:
			writeJSON(w, rep) // started
			return
		case time.Now().After(deadline):
			http.Error(w, fmt.Sprintf("no path within %v", wait), http.StatusGatewayTimeout)
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-time.After(10 * time.Millisecond): // polling the loop's state
		}
	}
}
