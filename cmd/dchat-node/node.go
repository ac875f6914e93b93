package main

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/dchat/network/chaos"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/connmgr"
	"github.com/dchat/network/core/dht"
	"github.com/dchat/network/core/gossip"
	"github.com/dchat/network/core/health"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/traversal"
	"github.com/dchat/network/core/wire"
	"github.com/dchat/network/transport"
)

// ringSize bounds the delivered messages /messages keeps.
const ringSize = 1024

// maxPublish bounds a /publish body.
const maxPublish = 16 << 10

// Node is a running dchat node: the transport host with health, the
// connection manager, the DHT and gossip, its admin endpoint and metrics.
type Node struct {
	cfg    Config
	log    *slog.Logger
	id     *identity.Identity
	h      *transport.Host
	node   *core.Node
	dht    *dht.DHT
	mgr    *connmgr.Manager
	gossip *gossip.Gossip
	nat    *traversal.Traversal
	boot   []dht.BootstrapPeer
	// paths and natFailed are loop-owned: the latest traversal path to
	// each peer, and why its latest attempt failed.
	paths      map[identity.PeerID]traversal.Path
	natFailed  map[identity.PeerID]string
	registered map[netip.AddrPort]netip.AddrPort

	admin    net.Listener
	srv      *http.Server
	reg      *prometheus.Registry
	m        metrics
	started  time.Time
	mu       sync.Mutex
	messages []deliveredMessage // ring, oldest first once full
	next     int
}

type metrics struct {
	coreDrops   *prometheus.CounterVec
	deliveries  prometheus.Counter
	latency     prometheus.Histogram
	lookups     *prometheus.CounterVec
	published   prometheus.Counter
	messages    *prometheus.CounterVec
	natAttempts *prometheus.CounterVec
	natPaths    *prometheus.CounterVec
	natFailures *prometheus.CounterVec
}

// deliveredMessage is one line of /messages.
type deliveredMessage struct {
	ID       string          `json:"id"`
	Sender   identity.PeerID `json:"sender"`
	Seq      uint64          `json:"seq"`
	Sent     time.Time       `json:"sent"`
	Received time.Time       `json:"received"`
	Text     string          `json:"text"`
}

// StartNode checks the data directory, creates the identity key on first
// run, binds the UDP socket and the admin listener and assembles the node.
// cfg must have been validated. Serve runs it.
func StartNode(cfg Config, logger *slog.Logger) (*Node, error) {
	dir := cfg.Node.DataDir
	if err := ensureDataDir(dir); err != nil {
		return nil, err
	}
	id, created, err := loadOrCreateIdentity(dir)
	if err != nil {
		return nil, err
	}
	if created {
		logger.Info("created identity key", "dir", dir, "peer", id.ID())
	}
	stored, err := loadPeers(dir)
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: logger, id: id, reg: prometheus.NewRegistry()}
	n.boot = bootstrapPeers(cfg.Node.Bootstrap, stored, id.ID())
	n.initMetrics()

	tcfg := transport.DefaultConfig()
	tcfg.Listen = cfg.Node.Listen
	tcfg.UPnPURL = cfg.NAT.UPnPURL
	for _, s := range cfg.NAT.TURNServers {
		tcfg.TURNServers = append(tcfg.TURNServers,
			transport.TURNServer{Addr: s.Address, Username: s.Username, Password: s.Password, Realm: s.Realm})
	}
	h, err := transport.New(tcfg, id, core.ObserverFunc(n.observe), logger)
	if err != nil {
		return nil, err
	}
	if err := n.assemble(h); err != nil {
		h.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Node.Admin.String())
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("admin endpoint: %w", err)
	}
	n.admin = ln
	n.srv = &http.Server{Handler: n.handler(), ReadHeaderTimeout: 5 * time.Second}
	n.registerTransport()
	return n, nil
}

// assemble builds the protocol stack as transport/cluster_test.go does.
func (n *Node) assemble(h *transport.Host) error {
	cfg := n.cfg.Network
	env := h.Env()
	if c := n.cfg.Chaos; c != nil {
		t, err := chaos.NewTransport(env.Transport, env.Clock, c.Rand(), c.Links)
		if err != nil {
			return err
		}
		env.Transport, env.Clock = t, chaos.SkewClock(env.Clock, c.Skew)
		n.log.Warn("chaos enabled: faults are injected into this node's traffic", "rules", len(c.Links), "skew_offset", c.Skew.Offset)
	}
	node, err := core.NewNode(n.id, env, cfg)
	if err != nil {
		return err
	}
	hc := health.DefaultConfig()
	hc.Timeout = cfg.PingTimeout
	if _, err := health.New(node, hc); err != nil {
		return err
	}
	m, err := connmgr.New(node, connmgr.FromCore(cfg))
	if err != nil {
		return err
	}
	node.SetTrafficHook(func(now time.Time, peer netip.AddrPort, kind wire.Kind, size int, out bool) {
		m.Traffic(now, peer, kind, size, out)
		dir := "in"
		if out {
			dir = "out"
		}
		n.m.messages.WithLabelValues(kind.String(), dir).Inc()
	})
	dc := dht.FromCore(cfg)
	// Loopback nodes all share 127.0.0.0/24: the per-prefix limits would
	// keep them out of each other's tables.
	dc.DiversityLimits = !h.LocalAddr().Addr().IsLoopback()
	d, err := dht.New(node, dc)
	if err != nil {
		return err
	}
	g, err := gossip.New(node, gossip.FromCore(cfg), m, gossip.Ed25519Verifier{})
	if err != nil {
		return err
	}
	g.OnDeliver(n.deliver)
	if _, err := connmgr.NewFeed(m, connmgr.DHTCandidates{DHT: d, Rand: h.Env().Rand}, connmgr.DefaultFeedConfig()); err != nil {
		return err
	}
	t, err := traversal.New(node, n.traversalConfig())
	if err != nil {
		return err
	}
	h.SetNode(node)
	n.h, n.node, n.dht, n.mgr, n.gossip, n.nat = h, node, d, m, g, t
	n.paths, n.natFailed = map[identity.PeerID]traversal.Path{}, map[identity.PeerID]string{}
	n.registered = map[netip.AddrPort]netip.AddrPort{}
	t.OnPath(n.onPath)
	return nil
}

// bootstrapPeers is the configured peers, then the stored ones not already
// listed (never the node itself).
func bootstrapPeers(conf []Multiaddr, stored []storedPeer, self identity.PeerID) []dht.BootstrapPeer {
	var out []dht.BootstrapPeer
	seen := map[identity.PeerID]bool{self: true}
	for _, m := range conf {
		if !seen[m.ID] {
			seen[m.ID] = true
			out = append(out, dht.BootstrapPeer{Addr: m.Addr, ID: m.ID})
		}
	}
	for _, p := range stored {
		if !seen[p.ID] && p.Addr.IsValid() {
			seen[p.ID] = true
			out = append(out, dht.BootstrapPeer{Addr: p.Addr, ID: p.ID})
		}
	}
	return out
}

// ID is the node's peer ID.
func (n *Node) ID() identity.PeerID { return n.id.ID() }

// LocalAddr is the node's UDP address.
func (n *Node) LocalAddr() netip.AddrPort { return n.h.LocalAddr() }

// AdminAddr is the admin endpoint's address.
func (n *Node) AdminAddr() netip.AddrPort {
	return n.admin.Addr().(*net.TCPAddr).AddrPort()
}

// Multiaddr is the node's address as a bootstrap entry.
func (n *Node) Multiaddr() Multiaddr { return Multiaddr{Addr: n.LocalAddr(), ID: n.ID()} }

// Serve runs the node until ctx ends: it bootstraps, serves the admin
// endpoint and saves the peer store periodically; on the end of ctx it
// saves the peer store, stops the admin endpoint and the host.
func (n *Node) Serve(ctx context.Context) error {
	n.started = time.Now()
	hctx, stopHost := context.WithCancel(context.Background())
	defer stopHost()
	hostDone := make(chan error, 1)
	go func() { hostDone <- n.h.Run(hctx) }()
	srvDone := make(chan error, 1)
	go func() { srvDone <- n.srv.Serve(n.admin) }()
	n.log.Info("node running", "peer", n.ID(), "listen", n.LocalAddr(), "admin", n.AdminAddr(),
		"multiaddr", n.Multiaddr().String(), "bootstrap", len(n.boot))

	if len(n.boot) > 0 {
		err := n.h.Do(ctx, func(now time.Time) {
			if err := n.dht.Bootstrap(now, n.boot); err != nil {
				n.log.Error("bootstrap", "err", err)
			}
		})
		if err != nil && ctx.Err() == nil {
			n.log.Error("bootstrap", "err", err)
		}
	}

	tick := time.NewTicker(n.cfg.Node.PeerStoreInterval.D)
	defer tick.Stop()
	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-hostDone:
			runErr = fmt.Errorf("host stopped: %v", err)
			hostDone <- err
			break loop
		case err := <-srvDone:
			runErr = fmt.Errorf("admin endpoint: %v", err)
			srvDone <- err
			break loop
		case <-tick.C:
			if err := n.savePeerStore(ctx); err != nil && ctx.Err() == nil {
				n.log.Warn("saving the peer store", "err", err)
			}
		}
	}

	n.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	saveErr := n.savePeerStore(sctx)
	if saveErr != nil {
		n.log.Error("saving the peer store", "err", saveErr)
	}
	n.srv.Shutdown(sctx)
	stopHost()
	if err := <-hostDone; err != nil && runErr == nil {
		runErr = err
	}
	if runErr == nil {
		runErr = saveErr
	}
	return runErr
}

// savePeerStore saves the routing table's peers; an empty table does not
// replace a stored list.
func (n *Node) savePeerStore(ctx context.Context) error {
	var ps []storedPeer
	if err := n.h.Do(ctx, func(time.Time) {
		for _, p := range n.dht.Table().Peers(0) {
			ps = append(ps, storedPeer{ID: p.ID, Addr: p.Addr})
		}
	}); err != nil {
		return err
	}
	if len(ps) == 0 {
		return nil
	}
	if err := savePeers(n.cfg.Node.DataDir, ps); err != nil {
		return err
	}
	n.log.Debug("saved the peer store", "peers", len(ps))
	return nil
}

// observe runs on the loop: core events into metrics and logs.
func (n *Node) observe(_ time.Time, ev core.Event) {
	switch e := ev.(type) {
	case core.Drop:
		n.m.coreDrops.WithLabelValues(e.Msg, e.Reason).Inc()
	case dht.LookupDone:
		n.m.lookups.WithLabelValues(e.Purpose, fmt.Sprint(e.OK)).Inc()
	case dht.BootstrapDone:
		if !e.OK && e.RetryIn > 0 {
			n.log.Warn("bootstrap failed: no bootstrap peer answered", "attempt", max(e.Attempt, 1), "retry_in", e.RetryIn)
			break
		}
		n.log.Info("bootstrap done", "ok", e.OK, "table", e.TableSize, "took", e.Took, "attempt", max(e.Attempt, 1))
	case dht.TableEmpty:
		n.log.Warn("routing table empty: joining again through the bootstrap peers", "in", e.RejoinIn)
	case connmgr.Open:
		n.log.Debug("connection open", "addr", e.Addr)
	case connmgr.Close:
		n.log.Debug("connection closed", "addr", e.Addr)
	default:
		n.observeNAT(ev)
	}
}

// deliver runs on the loop for every delivered gossip message.
func (n *Node) deliver(now time.Time, m gossip.Message) {
	n.m.deliveries.Inc()
	if l := now.Sub(m.Time); m.Sender != n.ID() && l >= 0 {
		n.m.latency.Observe(l.Seconds())
	}
	dm := deliveredMessage{ID: m.ID.String(), Sender: m.Sender, Seq: m.Seq, Sent: m.Time, Received: now, Text: string(m.Payload)}
	n.mu.Lock()
	if len(n.messages) < ringSize {
		n.messages = append(n.messages, dm)
	} else {
		n.messages[n.next] = dm
		n.next = (n.next + 1) % ringSize
	}
	n.mu.Unlock()
}

// Messages returns the delivered messages kept, oldest first.
func (n *Node) Messages() []deliveredMessage {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append(slices.Clone(n.messages[n.next:]), n.messages[:n.next]...)
}

func (n *Node) initMetrics() {
	n.m = metrics{
		coreDrops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dchat_core_drops_total", Help: "Messages dropped by the protocol, by message and reason.",
		}, []string{"msg", "reason"}),
		deliveries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dchat_gossip_deliveries_total", Help: "Gossip messages delivered (own publications included).",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "dchat_gossip_delivery_latency_seconds", Help: "Time from publication to delivery of received gossip messages.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dchat_dht_lookups_total", Help: "DHT lookups finished, by purpose and outcome.",
		}, []string{"purpose", "ok"}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dchat_gossip_published_total", Help: "Gossip messages published through the admin endpoint.",
		}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dchat_messages_total", Help: "Protocol messages received (decoded) and sent, by kind and direction.",
		}, []string{"kind", "dir"}),
		natAttempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dchat_nat_attempts_total", Help: "NAT traversal methods tried, by method and result (ok, failed, abandoned).",
		}, []string{"method", "result"}),
		natPaths: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dchat_nat_paths_total", Help: "First paths NAT traversal found to a peer, by method.",
		}, []string{"method"}),
		natFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dchat_nat_failures_total", Help: "NAT traversal attempts that found no path, by reason.",
		}, []string{"reason"}),
	}
	n.reg.MustRegister(n.m.coreDrops, n.m.deliveries, n.m.latency, n.m.lookups, n.m.published, n.m.messages,
		n.m.natAttempts, n.m.natPaths, n.m.natFailures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

// registerTransport exports the host's counters.
func (n *Node) registerTransport() {
	stat := func(name, help string, f func(transport.Stats) uint64) {
		n.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(f(n.h.Stats())) }))
	}
	stat("dchat_transport_packets_in_total", "Datagrams received.", func(s transport.Stats) uint64 { return s.PacketsIn })
	stat("dchat_transport_packets_out_total", "Datagrams sent.", func(s transport.Stats) uint64 { return s.PacketsOut })
	stat("dchat_transport_bytes_in_total", "Bytes received.", func(s transport.Stats) uint64 { return s.BytesIn })
	stat("dchat_transport_bytes_out_total", "Bytes sent.", func(s transport.Stats) uint64 { return s.BytesOut })
	stat("dchat_transport_handshakes_completed_total", "Noise handshakes completed.", func(s transport.Stats) uint64 { return s.HandshakesCompleted })
	n.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "dchat_transport_sessions", Help: "Established transport sessions.",
	}, func() float64 { return float64(n.h.Stats().Sessions) }))
	n.reg.MustRegister(transportDrops{n.h})
}

// transportDrops exports the host's drops by reason.
type transportDrops struct{ h *transport.Host }

var transportDropsDesc = prometheus.NewDesc("dchat_transport_drops_total",
	"Datagrams dropped by the transport, by reason.", []string{"reason"}, nil)

func (transportDrops) Describe(ch chan<- *prometheus.Desc) { ch <- transportDropsDesc }

func (t transportDrops) Collect(ch chan<- prometheus.Metric) {
	for _, r := range transport.DropReasons() {
		ch <- prometheus.MustNewConstMetric(transportDropsDesc, prometheus.CounterValue, float64(t.h.Dropped(r)), r.String())
	}
}

// Status is the answer of /status.
type Status struct {
	Peer         identity.PeerID `json:"peer"`
	Multiaddr    string          `json:"multiaddr"`
	Listen       netip.AddrPort  `json:"listen"`
	RoutingSize  int             `json:"routing_table_size"`
	Bootstrapped bool            `json:"bootstrapped"`
	Connections  int             `json:"connections"`
	Sessions     int             `json:"sessions"`
	Uptime       string          `json:"uptime"`
	UptimeSec    float64         `json:"uptime_seconds"`
	NAT          NATStatus       `json:"nat"`
}

// PeersReply is the answer of /peers.
type PeersReply struct {
	RoutingTable []storedPeer         `json:"routing_table"`
	Connections  []connmgr.Connection `json:"connections"`
	// Paths are the NAT traversal paths, by peer (sorted).
	Paths []PeerPath `json:"nat_paths"`
}

func (n *Node) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", n.handleStatus)
	mux.HandleFunc("GET /peers", n.handlePeers)
	mux.HandleFunc("POST /publish", n.handlePublish)
	mux.HandleFunc("GET /messages", n.handleMessages)
	mux.HandleFunc("POST /connect", n.handleConnect)
	mux.Handle("GET /metrics", promhttp.HandlerFor(n.reg, promhttp.HandlerOpts{}))
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func (n *Node) handleStatus(w http.ResponseWriter, r *http.Request) {
	st := Status{Peer: n.ID(), Multiaddr: n.Multiaddr().String(), Listen: n.LocalAddr()}
	if err := n.h.Do(r.Context(), func(time.Time) {
		st.RoutingSize = n.dht.Table().Len()
		st.Bootstrapped = n.dht.Bootstrapped()
		st.Connections = n.mgr.Count()
		st.NAT = n.natStatus()
	}); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	ss, err := n.h.Sessions(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	for _, s := range ss {
		if !s.Retired {
			st.Sessions++
		}
	}
	up := time.Since(n.started)
	st.Uptime, st.UptimeSec = up.Round(time.Second).String(), up.Seconds()
	writeJSON(w, st)
}

func (n *Node) handlePeers(w http.ResponseWriter, r *http.Request) {
	rep := PeersReply{RoutingTable: []storedPeer{}}
	if err := n.h.Do(r.Context(), func(time.Time) {
		for _, p := range n.dht.Table().Peers(0) {
			rep.RoutingTable = append(rep.RoutingTable, storedPeer{ID: p.ID, Addr: p.Addr})
		}
		rep.Connections = n.mgr.Connections()
		rep.Paths = n.peerPaths()
	}); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, rep)
}

func (n *Node) handlePublish(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPublish))
	if err != nil {
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	if len(body) == 0 {
		http.Error(w, "empty message", http.StatusBadRequest)
		return
	}
	var id gossip.ID
	var perr error
	if err := n.h.Do(r.Context(), func(now time.Time) { id, perr = n.gossip.Publish(now, body) }); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	if perr != nil {
		http.Error(w, perr.Error(), http.StatusBadRequest)
		return
	}
	n.m.published.Inc()
	writeJSON(w, map[string]string{"id": id.String()})
}

func (n *Node) handleMessages(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	for _, m := range n.Messages() {
		if err := enc.Encode(m); err != nil {
			return
		}
	}
}
