package transport

import (
	"cmp"
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/identity"
)

// Errors returned by a Host.
var (
	// ErrClosed: the host's loop has ended (or Close was called).
	ErrClosed = errors.New("transport: host closed")
	// ErrStarted: Run was called twice.
	ErrStarted = errors.New("transport: host already running")
)

// Host runs one node on a UDP socket: the transport's sessions and the
// node's components, all on one loop goroutine (Run), fed by one reader
// goroutine per socket.
//
// Concurrency: New, Do, Stats, Dropped, PeerID, Sessions, LocalAddr, ID and
// Close are safe for concurrent use. SetNode must be called before Run.
// Env's Clock and Transport, and the node itself, may only be used on the
// loop: from the node's own handlers and timers, or inside Do. Do and
// Sessions must not be called on the loop (they wait for it).
type Host struct {
	cfg      Config
	log      *slog.Logger
	obs      core.Observer
	keys     *localKeys
	entropy  io.Reader
	conn     PacketConn
	local    netip.AddrPort
	env      core.Env
	node     *core.Node
	maxPlain int

	inbox   chan inbound
	cmds    chan *command
	wake    chan struct{}
	done    chan struct{} // closed when the loop has ended
	started atomic.Bool
	readers sync.WaitGroup
	pool    *bufPool
	stats   counters

	tmu   sync.Mutex
	fired []*timer
	spare []*timer

	idmu sync.RWMutex
	ids  map[netip.AddrPort]identity.PeerID

	// Loop-owned.
	closed     bool
	timers     map[*timer]struct{}
	idx        *rand.Rand
	peers      map[netip.AddrPort]*peer
	sessions   map[uint32]*session
	handshakes map[uint32]*handshake
	halfOpen   map[halfKey]*handshake
	perIP      map[netip.Prefix]int // half-open handshakes by sourceNet
	nSessions  int
	nDialing   int
	limiter    *rate.Limiter
	jar        cookieJar
	sendBuf    []byte
	tick       core.Timer

	nat *natState // NAT traversal (connectivity.go)
}

// halfKey finds a responder's handshake by the initiator's address and
// index, to answer a retransmitted message 1 without new state.
type halfKey struct {
	addr   netip.AddrPort
	remote uint32
}

// New creates a host for the identity id: it binds cfg.Listen (unless
// cfg.Conn is set) and makes the host's Noise static key. obs receives the
// node's and the transport's events on the loop (nil discards them);
// logger may be nil.
func New(cfg Config, id *identity.Identity, obs core.Observer, logger *slog.Logger) (*Host, error) {
	if id == nil {
		return nil, fmt.Errorf("%w: transport: nil identity", core.ErrConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	entropy := cfg.Entropy
	if entropy == nil {
		entropy = crand.Reader
	}
	keys, err := newLocalKeys(id, entropy)
	if err != nil {
		return nil, err
	}
	return newHost(cfg, keys, entropy, obs, logger)
}

// newHost is New with the handshake credentials made (tests reuse them).
func newHost(cfg Config, keys *localKeys, entropy io.Reader, obs core.Observer, logger *slog.Logger) (*Host, error) {
	if obs == nil {
		obs = core.Discard
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var err error
	var seeds [64]byte
	if _, err := io.ReadFull(entropy, seeds[:]); err != nil {
		return nil, fmt.Errorf("transport: seeding: %w", err)
	}
	conn := cfg.Conn
	if conn == nil {
		if conn, err = Listen(cfg.Listen); err != nil {
			return nil, err
		}
	}
	h := &Host{
		cfg: cfg, log: logger.With("node", keys.id.Short()), obs: obs, keys: keys, entropy: entropy,
		conn: conn, local: unmap(conn.LocalAddr()), maxPlain: cfg.MaxPacket - Overhead,
		inbox: make(chan inbound, cfg.InboxLen), cmds: make(chan *command, cfg.Commands),
		wake: make(chan struct{}, 1), done: make(chan struct{}),
		pool: newBufPool(cfg.MaxPacket), ids: map[netip.AddrPort]identity.PeerID{},
		timers: map[*timer]struct{}{}, idx: rand.New(rand.NewChaCha8([32]byte(seeds[32:]))),
		peers: map[netip.AddrPort]*peer{}, sessions: map[uint32]*session{},
		handshakes: map[uint32]*handshake{}, halfOpen: map[halfKey]*handshake{}, perIP: map[netip.Prefix]int{},
		limiter: rate.NewLimiter(rate.Limit(cfg.HandshakeRate), cfg.HandshakeBurst),
		jar:     cookieJar{entropy: entropy}, sendBuf: make([]byte, 0, cfg.MaxPacket),
		nat: newNATState(cfg),
	}
	h.env = core.Env{
		Clock:     clock{h},
		Transport: sender{h},
		Rand:      rand.New(rand.NewChaCha8([32]byte(seeds[:32]))),
		Entropy:   entropy,
		Observer:  obs,
		Peers:     h, // Noise-authenticated peer IDs by address
		// STUN, UPnP and TURN (connectivity.go)
		Connectivity: h,
	}
	return h, nil
}

// Env returns the environment for the host's node: the wall clock with
// timers run on the loop, the encrypted transport, a ChaCha8 source seeded
// from crypto/rand (or Config.Entropy), crypto/rand as entropy, the
// observer, and the host itself as Connectivity (STUN, UPnP, TURN).
func (h *Host) Env() core.Env { return h.env }

// SetNode sets the node whose datagrams the host carries. Call it once,
// before Run; Run starts the node on the loop and stops it at the end.
func (h *Host) SetNode(n *core.Node) { h.node = n }

// ID returns the host's peer ID.
func (h *Host) ID() identity.PeerID { return h.keys.id }

// LocalAddr returns the address the host's socket is bound to.
func (h *Host) LocalAddr() netip.AddrPort { return h.local }

// Stats returns a snapshot of the host's counters.
func (h *Host) Stats() Stats { return h.stats.snapshot() }

// Dropped returns the number of datagrams dropped for reason r.
func (h *Host) Dropped(r DropReason) uint64 {
	if r >= numDropReasons {
		return 0
	}
	return h.stats.drops[r].Load()
}

// PeerID returns the verified identity of the peer whose established
// session is at addr.
func (h *Host) PeerID(addr netip.AddrPort) (identity.PeerID, bool) {
	h.idmu.RLock()
	defer h.idmu.RUnlock()
	id, ok := h.ids[unmap(addr)]
	return id, ok
}

// Sessions lists the established sessions (retired ones included), by
// address. It runs on the loop through Do.
func (h *Host) Sessions(ctx context.Context) ([]SessionInfo, error) {
	var out []SessionInfo
	err := h.Do(ctx, func(time.Time) {
		for _, p := range h.peers {
			for _, s := range []*session{p.cur, p.prev} {
				if s != nil {
					out = append(out, s.info())
				}
			}
		}
	})
	slices.SortFunc(out, func(a, b SessionInfo) int {
		if c := a.Addr.Compare(b.Addr); c != 0 {
			return c
		}
		return cmp.Compare(boolInt(a.Retired), boolInt(b.Retired))
	})
	return out, err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// command is a function to run on the loop. state: 0 waiting, 1 run (or
// running), 2 cancelled by its caller.
type command struct {
	f     func(now time.Time)
	state atomic.Uint32
	done  chan struct{}
}

// Do runs f on the host's loop and waits for it to return: the way to
// call the node's components (Publish, Lookup, Bootstrap...) from other
// goroutines. It returns nil if f ran; ctx's error or ErrClosed if it did
// not and never will. Do called before Run waits for Run to start.
func (h *Host) Do(ctx context.Context, f func(now time.Time)) error {
	c := &command{f: f, done: make(chan struct{})}
	select {
	case h.cmds <- c:
	case <-ctx.Done():
		return ctx.Err()
	case <-h.done:
		return ErrClosed
	}
	var err error
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-h.done:
		err = ErrClosed
	}
	if c.state.CompareAndSwap(0, 2) {
		return err
	}
	<-c.done // it is running: wait for it
	return nil
}

// Close releases a host whose Run was never called (its socket). A running
// host stops when Run's context ends.
func (h *Host) Close() error {
	if !h.started.CompareAndSwap(false, true) {
		return nil
	}
	h.nat.cancel()
	close(h.done)
	return h.conn.Close()
}

// Run is the host's loop: it starts the socket reader and the node, then
// handles datagrams, fired timers and commands one at a time until ctx
// ends. It then stops the node (which may still send), closes the
// sessions and the socket, waits for the reader, and returns nil. It may
// be called once.
func (h *Host) Run(ctx context.Context) error {
	if !h.started.CompareAndSwap(false, true) {
		select {
		case <-h.done:
			return ErrClosed
		default:
			return ErrStarted
		}
	}
	h.readers.Add(1)
	go h.readLoop()
	now := time.Now()
	if h.node != nil {
		h.node.Start(now)
	}
	h.armTick()
	for {
		select {
		case <-ctx.Done():
			h.shutdown()
			return nil
		case p := <-h.inbox:
			h.receive(time.Now(), p.from, (*p.buf)[:p.n])
			h.pool.put(p.buf)
		case <-h.wake:
			h.runTimers()
		case c := <-h.cmds:
			if c.state.CompareAndSwap(0, 1) {
				c.f(time.Now())
			}
			close(c.done)
		case p := <-h.nat.relayIn:
			h.receiveRelayed(time.Now(), p)
		case f := <-h.nat.posts:
			f(time.Now())
		}
	}
}

// readLoop is the socket reader: it reads datagrams into a buffer one
// larger than MaxPacket (a longer read was truncated: dropped as
// oversized), copies each into a pooled buffer of its size class and
// forwards it to the loop, dropping it when the inbox is full. It decodes
// nothing.
func (h *Host) readLoop() {
	defer h.readers.Done()
	big := make([]byte, h.cfg.MaxPacket+1)
	errs := 0
	for {
		n, from, err := h.conn.ReadFrom(big)
		if err != nil {
			if isClosed(err) {
				return
			}
			h.stats.drops[DropReadError].Add(1)
			// A socket that keeps failing must not spin a core: back off
			// a little more after each consecutive error (at most 10 ms).
			errs = min(errs+1, 10)
			time.Sleep(time.Duration(errs) * time.Millisecond)
			continue
		}
		errs = 0
		h.stats.packetsIn.Add(1)
		h.stats.bytesIn.Add(uint64(n))
		if n > h.cfg.MaxPacket {
			h.stats.drops[DropOversized].Add(1)
			continue
		}
		buf := h.pool.get(n)
		copy(*buf, big[:n])
		select {
		case h.inbox <- inbound{buf: buf, n: n, from: from}:
		default:
			h.pool.put(buf)
			h.stats.drops[DropInboxFull].Add(1)
		}
	}
}

// shutdown runs on the loop when Run's context ends.
func (h *Host) shutdown() {
	now := time.Now()
	if h.node != nil {
		h.node.Stop(now) // components may still say goodbye
	}
	addrs := h.sortedPeers()
	for _, a := range addrs {
		p := h.peers[a]
		h.dropQueue(now, p, DropClosed)
		if p.dial != nil {
			h.endHandshake(p.dial)
		}
		for _, s := range []*session{p.prev, p.cur} {
			if s != nil {
				h.closeSession(now, p, s, reasonShutdown)
			}
		}
	}
	for _, hs := range h.handshakes { // responders' half-open ones
		h.endHandshake(hs)
	}
	h.stopNAT()
	h.closed = true
	h.stopTimers()
	h.conn.Close()
	h.readers.Wait()
	for {
		select {
		case p := <-h.inbox:
			h.pool.put(p.buf)
		default:
			close(h.done)
			return
		}
	}
}

// sortedPeers returns the peers' addresses in order, for loops whose order
// reaches the wire or the observer.
func (h *Host) sortedPeers() []netip.AddrPort {
	out := make([]netip.AddrPort, 0, len(h.peers))
	for a := range h.peers {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b netip.AddrPort) int { return a.Compare(b) })
	return out
}

// sender is the host's core.Transport.
type sender struct{ h *Host }

// Send implements core.Transport: encrypt b on the session to `to`, or
// queue it and start a handshake. b is not modified; a queued b is copied.
func (s sender) Send(to netip.AddrPort, b []byte) { s.h.send(time.Now(), to, b) }

// LocalAddr implements core.Transport.
func (s sender) LocalAddr() netip.AddrPort { return s.h.local }

// observeDrop counts a drop on the loop and reports it to the observer.
func (h *Host) drop(now time.Time, from netip.AddrPort, typ byte, r DropReason) {
	h.stats.drops[r].Add(1)
	h.obs.Observe(now, core.Drop{From: from, Msg: "transport." + typeName(typ), Reason: r.String()})
}

// write sends a frame on the socket, or through the TURN relay to a
// peer PermitRelay named.
func (h *Host) write(to netip.AddrPort, b []byte) bool {
	if r, ok := h.relayed(to); ok { // PermitRelay: via the TURN allocation
		return h.writeRelay(r, to, b)
	}
	if err := h.conn.WriteTo(b, to); err != nil {
		h.stats.drops[DropWriteError].Add(1)
		h.log.Debug("write failed", "to", to, "err", err)
		return false
	}
	h.stats.packetsOut.Add(1)
	h.stats.bytesOut.Add(uint64(len(b)))
	return true
}

// after sets a transport timer (on the loop, like core's).
func (h *Host) after(d time.Duration, f func()) core.Timer { return h.env.Clock.AfterFunc(d, f) }

// newIndex returns a fresh non-zero session index.
func (h *Host) newIndex() uint32 {
	for {
		i := h.idx.Uint32()
		if i == 0 {
			continue
		}
		if _, ok := h.sessions[i]; ok {
			continue
		}
		if _, ok := h.handshakes[i]; ok {
			continue
		}
		return i
	}
}

// setPeerID publishes (or, with a zero id, withdraws) the verified
// identity at addr for PeerID.
func (h *Host) setPeerID(addr netip.AddrPort, id identity.PeerID) {
	h.idmu.Lock()
	if id.IsZero() {
		delete(h.ids, addr)
	} else {
		h.ids[addr] = id
	}
	h.idmu.Unlock()
}
