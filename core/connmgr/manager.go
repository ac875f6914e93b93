package connmgr

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/gossip"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/wire"
)

// Errors returned by local commands.
var (
	ErrNotRunning   = errors.New("connmgr: not running")
	ErrSelf         = errors.New("connmgr: cannot connect to self")
	ErrExists       = errors.New("connmgr: session exists")
	ErrFull         = errors.New("connmgr: at the connection limit")
	ErrDialLimit    = errors.New("connmgr: too many dials in flight")
	ErrBadAddr      = errors.New("connmgr: invalid address")
	ErrNotConnected = errors.New("connmgr: no session with peer")
)

// Protection tags used by dchat's components. Any string is a valid tag.
const (
	TagBootstrap    = "bootstrap"
	TagRelay        = "relay"
	TagGossipMesh   = "gossip-mesh"
	TagRoutingTable = "routing-table"
	// TagKeepAlive is the tag KeepAlive sets.
	TagKeepAlive = "keepalive"
)

// Drop reasons for bad input, besides core's (malformed, unsolicited).
const (
	DropUnknownSession = "unknown-session"   // frame for a session this node does not hold
	DropBadNonce       = "bad-nonce"         // frame whose nonce is not its session's
	DropBadPeer        = "bad-peer"          // all-zero peer key
	DropSelf           = "self"              // CONNECT or ACCEPT claiming this node's identity
	DropSimultaneous   = "simultaneous-open" // the peer's CONNECT lost the simultaneous-open tie-break
	DropLate           = "late"              // PONG for no outstanding probe
)

// PeerAddr is a peer to dial: its ID (zero if unknown) and address.
type PeerAddr struct {
	ID   identity.PeerID
	Addr netip.AddrPort
}

// Stats counts a Manager's work. The maps are keyed by reason.
type Stats struct {
	// Dials counts outbound dials started (redials included); Connected
	// those that were accepted; Accepted the inbound sessions accepted.
	Dials, Connected, Accepted uint64
	// Reconnects counts redials of important peers; Reconnected those
	// that led to a session.
	Reconnects, Reconnected uint64
	// Trims counts trims that closed at least one session.
	Trims uint64
	// ProbesSent and ProbesLost count health probes.
	ProbesSent, ProbesLost uint64
	// Rejects counts inbound CONNECTs refused; Closes ended sessions and
	// dials; Prunes trimmed sessions; Drops bad input; HealthChanges
	// health-state changes by new state.
	Rejects, Closes, Prunes, Drops, HealthChanges map[string]uint64
}

func (s Stats) clone() Stats {
	s.Rejects, s.Closes, s.Prunes = maps.Clone(s.Rejects), maps.Clone(s.Closes), maps.Clone(s.Prunes)
	s.Drops, s.HealthChanges = maps.Clone(s.Drops), maps.Clone(s.HealthChanges)
	return s
}

// Manager is the connection manager of one node (the plan's
// ConnectionManager): it opens, keeps and closes sessions with peers,
// monitors their health, trims them between Target and MaxConnections,
// redials important peers and keeps per-session metrics. See the package
// documentation.
//
// Concurrency: not safe for concurrent use; it runs on its node's driver.
// Callbacks run on that driver too, after the manager's state is
// consistent; they may call the manager.
type Manager struct {
	// The traffic hook's fields come first, in one cache line (see
	// traffic.go).
	pend   []trafficRec
	epoch  time.Time
	nLive4 int // live4.n, read without loading the table

	node    *core.Node
	env     core.Env
	cfg     Config
	self    identity.PeerID
	selfKey [32]byte
	running bool

	byAddr map[netip.AddrPort]*conn
	byPeer map[identity.PeerID]*conn // connecting (peer known) and connected
	live4  connTable                 // connected sessions at IPv4 addresses (traffic.go)
	list   []*conn                   // every live entry, in creation order
	nConn  int                       // connected
	nDial  int                       // connecting
	nLing  int                       // disconnecting

	peers   map[identity.PeerID]*peerInfo
	peerSeq uint64
	cands   []PeerAddr

	pruner    Pruner
	pc        []PruneCandidate
	pcConn    []*conn
	victims   []int
	vConns    []*conn
	trimming  bool
	lastTrim  time.Time
	trimmed   bool
	trimTimer core.Timer

	// conns holds the connected sessions ordered by compareConns, kept
	// in step by index and unindex; gp is GossipPeers' answer built from
	// it, rebuilt when gpDirty.
	conns   []*conn
	gp      []gossip.Peer
	gpDirty bool

	onConnected    []func(time.Time, Connection)
	onDisconnected []func(time.Time, Connection)

	stats Stats
}

// New creates the connection manager of node, registers its message kinds
// and attaches it.
func New(node *core.Node, cfg Config) (*Manager, error) {
	if node == nil {
		return nil, fmt.Errorf("%w: connmgr: nil node", core.ErrConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Manager{
		node:    node,
		env:     node.Env(),
		cfg:     cfg,
		self:    node.ID(),
		selfKey: [32]byte(node.ID().PublicKey()),
		byAddr:  make(map[netip.AddrPort]*conn),
		byPeer:  make(map[identity.PeerID]*conn),
		epoch:   node.Env().Clock.Now(),
		peers:   make(map[identity.PeerID]*peerInfo),
		pruner: Pruner{Strategy: cfg.Strategy, Weights: cfg.Weights, Grace: cfg.GracePeriod,
			IdleScale: cfg.IdleScale, LatencyScale: cfg.LatencyScale},
		gpDirty: true,
		stats: Stats{Rejects: map[string]uint64{}, Closes: map[string]uint64{}, Prunes: map[string]uint64{},
			Drops: map[string]uint64{}, HealthChanges: map[string]uint64{}},
	}
	for _, k := range []struct {
		kind wire.Kind
		h    core.Handler
	}{
		{wire.KindConnect, m.handleConnect}, {wire.KindAccept, m.handleAccept},
		{wire.KindReject, m.handleReject}, {wire.KindClose, m.handleClose},
		{wire.KindConnPing, m.handlePing}, {wire.KindConnPong, m.handlePong},
	} {
		if err := node.Register(k.kind, k.h); err != nil {
			return nil, err
		}
	}
	node.Attach(m)
	return m, nil
}

// Config returns the manager's configuration (with the limits SetLimits
// set).
func (m *Manager) Config() Config { return m.cfg }

// Stats returns a copy of the counters.
func (m *Manager) Stats() Stats { return m.stats.clone() }

// Count returns the number of connected sessions.
func (m *Manager) Count() int { return m.nConn }

// Dialing returns the number of dials in flight.
func (m *Manager) Dialing() int { return m.nDial }

// OnConnected registers f to be called when a session is established.
func (m *Manager) OnConnected(f func(now time.Time, c Connection)) {
	m.onConnected = append(m.onConnected, f)
}

// OnDisconnected registers f to be called when a session or a dial ends;
// c.State is Closed or Failed and c.Reason says why.
func (m *Manager) OnDisconnected(f func(now time.Time, c Connection)) {
	m.onDisconnected = append(m.onDisconnected, f)
}

// Start implements core.Component: important peers with a known address
// are dialled (in peer ID order), then candidates up to Target.
func (m *Manager) Start(now time.Time) {
	if m.running {
		return
	}
	m.running = true
	var important []identity.PeerID
	for id, p := range m.peers { // collected, then sorted below
		if p.important() && p.addr.IsValid() && p.conn == nil {
			important = append(important, id)
		}
	}
	slices.SortFunc(important, identity.PeerID.Compare)
	for _, id := range important {
		p := m.peers[id]
		p.stopRedial()
		if err := m.dial(now, id, p.addr); err != nil {
			m.scheduleRedial(now, id, p)
		}
	}
	m.fill(now)
}

// Stop implements core.Component: every session is closed (reason
// "shutdown", a CLOSE sent to each peer), every dial abandoned, timers
// cancelled. Reputations, tags and candidates are kept for a restart.
func (m *Manager) Stop(now time.Time) {
	if !m.running {
		return
	}
	m.running = false
	if m.trimTimer != nil {
		m.trimTimer.Stop()
		m.trimTimer = nil
	}
	for _, p := range m.peers { // order is irrelevant: timers are cancelled, nothing is emitted
		p.stopRedial()
	}
	for _, c := range slices.Clone(m.list) {
		switch c.state {
		case Connecting, Connected:
			m.end(now, c, ending{reason: ReasonShutdown, code: wire.ConnReasonShutdown, send: true, quiet: true, noLinger: true})
		case Disconnecting:
			m.remove(c)
		}
	}
}

// Connections returns a snapshot of every session (connecting, connected
// and disconnecting), ordered by peer ID bytes, then address.
func (m *Manager) Connections() []Connection {
	now := m.env.Clock.Now()
	cs := slices.Clone(m.list)
	slices.SortFunc(cs, compareConns)
	out := make([]Connection, len(cs))
	for i, c := range cs {
		out[i] = m.snapshot(now, c)
	}
	return out
}

// Connection returns the snapshot of the session with peer, if any.
func (m *Manager) Connection(peer identity.PeerID) (Connection, bool) {
	c := m.byPeer[peer]
	if c == nil {
		return Connection{}, false
	}
	return m.snapshot(m.env.Clock.Now(), c), true
}

// IsConnected reports whether a session with peer is established.
func (m *Manager) IsConnected(peer identity.PeerID) bool {
	c := m.byPeer[peer]
	return c != nil && c.state == Connected
}

// GossipPeers implements gossip.PeerSource: the connected peers, ordered
// by peer ID bytes, with their SRTT and reputation. The slice is reused
// by the next call; callers must not keep or modify it.
func (m *Manager) GossipPeers() []gossip.Peer {
	if !m.gpDirty {
		return m.gp
	}
	if n := len(m.conns); cap(m.gp) < n || cap(m.gp) > n+n/2+8 {
		// Sized to the sessions (the allocator rounds it up a little),
		// not grown by doubling nor kept at a past peak.
		m.gp = make([]gossip.Peer, 0, n)
	}
	m.gp = m.gp[:0]
	for _, c := range m.conns {
		m.gp = append(m.gp, gossip.Peer{Addr: c.addr, ID: c.peer, RTT: c.health.srtt, Score: c.reputation()})
	}
	m.gpDirty = false
	return m.gp
}

var _ gossip.PeerSource = (*Manager)(nil)

func compareConns(a, b *conn) int {
	if c := a.peer.Compare(b.peer); c != 0 {
		return c
	}
	return a.addr.Compare(b.addr)
}

func (m *Manager) snapshot(now time.Time, c *conn) Connection {
	m.flushTraffic()
	h := &c.health
	st, hr := h.stateReason()
	x := Connection{
		Peer: c.peer, Addr: c.addr, Direction: c.dir, State: c.state, Reason: closeReasons[c.reason],
		Detail: c.detail.String(), Started: m.at(c.started), Health: st, HealthReason: hr,
	}
	if c.opened != noTime {
		x.Opened = m.at(c.opened)
	}
	x.Metrics.BytesIn, x.Metrics.BytesOut, x.Metrics.MsgsIn, x.Metrics.MsgsOut = c.tr.bytesIn, c.tr.bytesOut, c.tr.msgsIn, c.tr.msgsOut
	x.Metrics.LastSeen, x.Metrics.LastActive = m.at(c.tr.lastSeen), m.at(c.tr.lastActive)
	if c.info != nil {
		x.Protected, x.Reputation = c.info.important(), c.info.reputation
	}
	x.Metrics.SRTT, x.Metrics.RTTVar, x.Metrics.MinRTT, x.Metrics.LastRTT = h.srtt, h.rttvar, h.minRTT, h.last
	x.Metrics.Loss = h.loss()
	x.Metrics.ProbesSent, x.Metrics.ProbesLost = h.sent, h.lost
	if c.opened != noTime {
		end := m.since(now)
		if c.ended != noTime {
			end = c.ended
		}
		x.Metrics.Uptime = time.Duration(end - c.opened)
	}
	return x
}

func (m *Manager) drop(reason string) error {
	m.stats.Drops[reason]++
	return core.Dropped(reason)
}

func (m *Manager) observe(now time.Time, ev core.Event) { m.node.Observe(now, ev) }
