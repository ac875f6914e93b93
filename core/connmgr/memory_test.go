package connmgr

import (
	"testing"
	"time"
	"unsafe"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/coretest"
	"github.com/dchat/network/core/identity"
)

// memCluster is n nodes with managers in a coretest.Net (this package's
// own tests reach the managers' state).
func memCluster(t *testing.T, n int) (*coretest.Net, []*core.Node, []*Manager) {
	t.Helper()
	net := coretest.New(10 * time.Millisecond)
	var nodes []*core.Node
	var ms []*Manager
	for i := range n {
		node := net.AddNode(i, core.DefaultConfig())
		m, err := New(node, DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		node.Start(net.Now())
		nodes, ms = append(nodes, node), append(ms, m)
	}
	return net, nodes, ms
}

// TestStateSizes pins the per-session and per-peer records to their size
// classes: a node holds up to MaxConnections sessions (and as many
// lingering) and a book entry for each peer it dialled.
func TestStateSizes(t *testing.T) {
	if s := unsafe.Sizeof(conn{}); s > 288 {
		t.Errorf("conn is %d bytes, want at most 288", s)
	}
	if s := unsafe.Sizeof(peerInfo{}); s > 80 {
		t.Errorf("peerInfo is %d bytes, want at most 80", s)
	}
	if s := unsafe.Sizeof(healthState{}); s > 72 {
		t.Errorf("healthState is %d bytes, want at most 72", s)
	}
}

// TestPeerExtensionLifecycle checks that the tags-and-redial extension
// exists only while it holds something: Protect creates it, Unprotect of
// the last tag frees it; redial attempts keep it (they count in
// Stats.Reconnected) until a session is established.
func TestPeerExtensionLifecycle(t *testing.T) {
	net, nodes, ms := memCluster(t, 2)
	m, peer := ms[0], nodes[1].ID()
	m.Protect(peer, TagRelay)
	m.Protect(peer, TagBootstrap)
	m.Protect(peer, TagRelay)
	p := m.lookup(peer)
	if p == nil || p.x == nil || len(p.x.tags) != 2 {
		t.Fatalf("after Protect: %+v", p)
	}
	if !m.Unprotect(peer, TagRelay) || p.x == nil {
		t.Fatal("still protected by bootstrap: extension freed")
	}
	if m.Unprotect(peer, TagBootstrap) {
		t.Fatal("no tag left, still protected")
	}
	if m.lookup(peer) != nil {
		t.Fatal("entry without tag, session or reputation kept")
	}

	// A protected peer that is down is redialled; the attempts keep the
	// extension after the tag goes, and the session resets them.
	m.KeepAlive(peer)
	nodes[1].Stop(net.Now())
	if err := m.Connect(net.Now(), peer, coretest.Addr(1)); err != nil {
		t.Fatal(err)
	}
	net.Run(net.Now().Add(10*time.Second + 500*time.Millisecond)) // the dial timed out; a redial is pending
	p = m.lookup(peer)
	if p == nil || !p.pendingRedial() || !p.redialing() {
		t.Fatalf("no redial pending after a failed dial: %+v", p)
	}
	m.AdjustReputation(peer, 0.5) // keeps the entry once the tag goes
	m.Unprotect(peer, TagKeepAlive)
	if p.pendingRedial() || p.x == nil || p.x.attempts != 1 {
		t.Fatalf("after Unprotect: extension %+v", p.x)
	}
	nodes[1].Start(net.Now())
	net.Run(net.Now().Add(time.Minute)) // past the candidate cooldown
	if err := m.Connect(net.Now(), peer, coretest.Addr(1)); err != nil {
		t.Fatal(err)
	}
	net.Run(net.Now().Add(time.Second))
	if !m.IsConnected(peer) {
		t.Fatal("not connected")
	}
	if got := m.Stats().Reconnected; got != 1 {
		t.Errorf("Reconnected %d, want 1 (the attempts were kept)", got)
	}
	if p.x != nil {
		t.Errorf("extension kept after the session reset the attempts: %+v", p.x)
	}
}

// TestCandidateQueueCompacted checks that the candidate queue keeps no
// spare room past an offer and none at all once drained.
func TestCandidateQueueCompacted(t *testing.T) {
	net, nodes, ms := memCluster(t, 2)
	m := ms[0]
	var offer []PeerAddr
	for i := 2; i < 202; i++ { // addresses nobody answers at
		id, err := identity.FromSeed(append(make([]byte, 30), byte(i), byte(i>>8)))
		if err != nil {
			t.Fatal(err)
		}
		offer = append(offer, PeerAddr{ID: id.ID(), Addr: coretest.Addr(i)})
	}
	offer = append(offer, PeerAddr{ID: nodes[1].ID(), Addr: coretest.Addr(1)})
	if got := m.AddCandidates(net.Now(), offer); got != len(offer) {
		t.Fatalf("queued %d", got)
	}
	if n := len(m.cands); n != len(offer)-16 || cap(m.cands) > n+n/4+16 {
		t.Errorf("after the offer: len %d cap %d", n, cap(m.cands))
	}
	for len(m.cands) > 0 { // dials time out, the queue drains
		net.Run(net.Now().Add(10 * time.Second))
	}
	if m.cands != nil {
		t.Errorf("drained queue keeps %d slots", cap(m.cands))
	}
	net.Run(net.Now().Add(time.Second))
	if !m.IsConnected(nodes[1].ID()) {
		t.Errorf("the answering candidate was not connected: %+v", m.Stats())
	}
}

// TestGossipPeersCapacity checks that GossipPeers' buffer follows the
// session count down rather than keeping its peak.
func TestGossipPeersCapacity(t *testing.T) {
	net, nodes, ms := memCluster(t, 41)
	m := ms[0]
	for i := 1; i < len(nodes); i++ {
		if err := m.Connect(net.Now(), nodes[i].ID(), coretest.Addr(i)); err != nil {
			net.Run(net.Now().Add(time.Second))
			if err := m.Connect(net.Now(), nodes[i].ID(), coretest.Addr(i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	net.Run(net.Now().Add(time.Second))
	if got := len(m.GossipPeers()); got != 40 {
		t.Fatalf("%d gossip peers", got)
	}
	for i := 1; i <= 35; i++ {
		if err := m.Disconnect(net.Now(), nodes[i].ID()); err != nil {
			t.Fatal(err)
		}
	}
	if got := m.GossipPeers(); len(got) != 5 || cap(got) > 16 {
		t.Errorf("len %d cap %d after the count fell to 5", len(got), cap(got))
	}
}

// TestSnapshotTimes checks the times a snapshot rebuilds from the
// session's offsets: Started, Opened, Uptime, and the end's reason and
// detail codes.
func TestSnapshotTimes(t *testing.T) {
	net, nodes, ms := memCluster(t, 2)
	m := ms[0]
	t0 := net.Now()
	var ended []Connection
	m.OnDisconnected(func(_ time.Time, c Connection) { ended = append(ended, c) })
	if err := m.Connect(t0, nodes[1].ID(), coretest.Addr(1)); err != nil {
		t.Fatal(err)
	}
	c, _ := m.Connection(nodes[1].ID())
	if !c.Started.Equal(t0) || !c.Opened.IsZero() || c.Metrics.Uptime != 0 {
		t.Fatalf("dialling: %+v", c)
	}
	net.Run(t0.Add(5 * time.Second))
	c, _ = m.Connection(nodes[1].ID())
	if !c.Started.Equal(t0) || !c.Opened.Equal(t0.Add(20*time.Millisecond)) ||
		c.Metrics.Uptime != 5*time.Second-20*time.Millisecond {
		t.Fatalf("connected: started %v opened %v uptime %v", c.Started.Sub(t0), c.Opened.Sub(t0), c.Metrics.Uptime)
	}
	if err := ms[1].Disconnect(net.Now(), nodes[0].ID()); err != nil {
		t.Fatal(err)
	}
	net.Run(net.Now().Add(time.Second))
	if len(ended) != 1 || ended[0].Reason != ReasonClosedByPeer || ended[0].Detail != "local" ||
		ended[0].State != Closed || ended[0].Metrics.Uptime != 5*time.Second-20*time.Millisecond+10*time.Millisecond {
		t.Fatalf("ended: %+v", ended)
	}
	if d := (detail{kind: detailPeer, code: 200}).String(); d != "code-200" {
		t.Errorf("unknown peer code: %q", d)
	}
	if d := (detail{kind: detailHealth, code: hrHighRTT}).String(); d != ReasonHighRTT {
		t.Errorf("health detail: %q", d)
	}
	for i, r := range closeReasons {
		if reasonCode(r) != uint8(i) {
			t.Errorf("reasonCode(%q) = %d", r, reasonCode(r))
		}
	}
}
