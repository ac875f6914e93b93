package natlab_test

import (
	"bufio"
	"context"
	crand "crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/health"
	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/transport"
	"github.com/dchat/network/transport/natlab"
)

func TestMain(m *testing.M) {
	natlab.Main(map[string]func([]string) int{
		"stun": helperSTUN, "upnp": helperUPnP, "turn": helperTURN, "peer": helperPeer, "send": helperSend,
	})
	os.Exit(m.Run())
}

// wait bounds every wait on a helper.
const wait = 15 * time.Second

// --- helpers: run inside a lab namespace, in a re-executed test binary ---

// node is a running Host with a node that answers (and sends) pings.
type node struct {
	h      *transport.Host
	pinger *health.Pinger
	rtts   chan health.PingRTT
	cancel context.CancelFunc
	done   chan error
}

func startNode(listen string, tweak func(*transport.Config)) (*node, error) {
	cfg := transport.DefaultConfig()
	cfg.Listen = netip.MustParseAddrPort(listen)
	cfg.HandshakeTimeout = 3 * time.Second
	cfg.RetransmitBase = 200 * time.Millisecond
	if tweak != nil {
		tweak(&cfg)
	}
	id, err := identity.Generate(crand.Reader)
	if err != nil {
		return nil, err
	}
	n := &node{rtts: make(chan health.PingRTT, 16), done: make(chan error, 1)}
	obs := core.ObserverFunc(func(_ time.Time, ev core.Event) {
		if r, ok := ev.(health.PingRTT); ok {
			select {
			case n.rtts <- r:
			default:
			}
		}
	})
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if n.h, err = transport.New(cfg, id, obs, log); err != nil {
		return nil, err
	}
	cn, err := core.NewNode(id, n.h.Env(), core.DefaultConfig())
	if err != nil {
		return nil, err
	}
	if n.pinger, err = health.New(cn, health.DefaultConfig()); err != nil {
		return nil, err
	}
	n.h.SetNode(cn)
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go func() { n.done <- n.h.Run(ctx) }()
	return n, nil
}

func (n *node) do(f func(time.Time)) error {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	return n.h.Do(ctx, f)
}

func (n *node) stop() {
	n.cancel()
	select {
	case <-n.done:
	case <-time.After(wait):
		fmt.Fprintln(os.Stderr, "host did not stop")
	}
}

func printJSON(v any) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

type stunOut struct {
	Local, Public               netip.AddrPort
	Mapping, Filtering, NATType string
	Took                        time.Duration
	Err                         string
}

// helperSTUN: QueryMapping with discovery against args[0].
func helperSTUN(args []string) int {
	n, err := startNode("0.0.0.0:0", nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer n.stop()
	ch := make(chan core.MappingResult, 1)
	server := netip.MustParseAddrPort(args[0])
	if err := n.do(func(time.Time) {
		n.h.Env().Connectivity.QueryMapping(server, true, func(r core.MappingResult) { ch <- r })
	}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	r := <-ch
	printJSON(stunOut{Local: n.h.LocalAddr(), Public: r.Public, Mapping: r.Mapping.String(), Filtering: r.Filtering.String(),
		NATType: r.Type.String(), Took: r.Took, Err: errString(r.Err)})
	return 0
}

type upnpOut struct {
	External netip.AddrPort
	Internal netip.AddrPort
	Gateway  string
	Lease    time.Duration
	Took     time.Duration
	Err      string
}

// helperUPnP: MapPort (args[0]: the gateway URL or "ssdp"), then answer
// "packets" (datagrams received) and "close" on standard input.
func helperUPnP(args []string) int {
	n, err := startNode("0.0.0.0:0", func(c *transport.Config) {
		if args[0] != "ssdp" {
			c.UPnPURL = args[0]
		}
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ch := make(chan core.PortMapping, 1)
	n.do(func(time.Time) {
		n.h.Env().Connectivity.MapPort(10*time.Minute, func(m core.PortMapping) { ch <- m })
	})
	m := <-ch
	out := upnpOut{External: m.External, Lease: m.Lease, Took: m.Took, Err: errString(m.Err)}
	n.do(func(time.Time) {
		if info, ok := n.h.PortMap(); ok {
			out.Internal, out.Gateway = info.Internal, info.Gateway
		}
	})
	printJSON(out)
	return commands(n)
}

// commands answers the test's requests on standard input.
func commands(n *node) int {
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "packets":
			fmt.Println(n.h.Stats().PacketsIn)
		case "stats":
			printJSON(struct {
				transport.NATStats
				Delivered uint64
			}{n.h.NATStats(), n.h.Stats().Delivered})
		case "permit":
			ip := netip.MustParseAddr(f[1])
			n.do(func(time.Time) { n.h.Env().Connectivity.PermitRelay(ip) })
			fmt.Println("ok")
		case "close":
			n.stop()
			fmt.Println("closed")
			return 0
		}
	}
	n.stop()
	return 0
}

type turnOut struct {
	Relayed netip.AddrPort
	Took    time.Duration
	Err     string
}

// helperTURN: AllocateRelay on args[0] with credentials args[1], args[2]
// (a pinging node that answers pings), then commands.
func helperTURN(args []string) int {
	server := netip.MustParseAddrPort(args[0])
	n, err := startNode("0.0.0.0:0", func(c *transport.Config) {
		c.TURNServers = []transport.TURNServer{{Addr: server, Username: args[1], Password: args[2]}}
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ch := make(chan core.RelayAllocation, 1)
	n.do(func(time.Time) {
		n.h.Env().Connectivity.AllocateRelay(server, func(a core.RelayAllocation) { ch <- a })
	})
	a := <-ch
	printJSON(turnOut{Relayed: a.Relayed, Took: a.Took, Err: errString(a.Err)})
	return commands(n)
}

type peerOut struct {
	From, Observed netip.AddrPort
	RTT            time.Duration
	Err            string
}

// helperPeer: a node on args[0] pings args[1] (every 250 ms, up to 8 s)
// until a pong comes back.
func helperPeer(args []string) int {
	n, err := startNode(args[0], nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer n.stop()
	to := netip.MustParseAddrPort(args[1])
	deadline := time.After(8 * time.Second)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		n.do(func(now time.Time) { n.pinger.Ping(now, to) })
		select {
		case r := <-n.rtts:
			printJSON(peerOut{From: r.From, Observed: r.Observed, RTT: r.RTT})
			return 0
		case <-deadline:
			printJSON(peerOut{Err: "no pong"})
			return 0
		case <-tick.C:
		}
	}
}

// helperSend sends args[1] datagrams to args[0], 20 ms apart.
func helperSend(args []string) int {
	c, err := net.Dial("udp4", args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer c.Close()
	count, _ := strconv.Atoi(args[1])
	for range count {
		c.Write([]byte("unsolicited"))
		time.Sleep(20 * time.Millisecond)
	}
	return 0
}

// --- tests ---

func line[T any](t *testing.T, p *natlab.Proc) T {
	t.Helper()
	s, err := p.Line(wait)
	if err != nil {
		t.Fatal(err)
	}
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("helper line %q: %v", s, err)
	}
	return v
}

// TestSTUN: behind each lab NAT, RFC 5780 discovery against coturn finds
// the NAT's public address and its type within 1 s.
func TestSTUN(t *testing.T) {
	for _, tc := range []struct {
		nat  natlab.NAT
		want core.NATType
	}{{natlab.PortRestricted, core.NATPortRestricted}, {natlab.Symmetric, core.NATSymmetric}} {
		t.Run(tc.nat.String(), func(t *testing.T) {
			t.Parallel()
			lab := natlab.New(t, natlab.Options{NAT: tc.nat})
			p := lab.Helper(lab.Priv, "stun", lab.STUN.String())
			r := line[stunOut](t, p)
			t.Logf("%v NAT: local %v public %v mapping %s filtering %s type %s in %v",
				tc.nat, r.Local, r.Public, r.Mapping, r.Filtering, r.NATType, r.Took)
			if r.Err != "" {
				t.Fatalf("error: %s", r.Err)
			}
			if r.Public.Addr() != natlab.WANIP {
				t.Errorf("public %v, want the NAT's %v", r.Public, natlab.WANIP)
			}
			if r.NATType != tc.want.String() {
				t.Errorf("type %s, want %v", r.NATType, tc.want)
			}
			if r.Took > time.Second {
				t.Errorf("took %v, want at most 1s", r.Took)
			}
		})
	}
}

// TestUPnP: behind miniupnpd, MapPort (SSDP discovery) maps the host's
// port within 3 s on the NAT's WAN address; an unsolicited datagram from
// the public side reaches the host; the mapping is gone after the host
// stops.
func TestUPnP(t *testing.T) {
	t.Parallel()
	lab := natlab.New(t, natlab.Options{NAT: natlab.PortRestricted, UPnP: true})
	p := lab.Helper(lab.Priv, "upnp", "ssdp")
	r := line[upnpOut](t, p)
	t.Logf("upnp: external %v internal %v lease %v gateway %s in %v", r.External, r.Internal, r.Lease, r.Gateway, r.Took)
	if r.Err != "" {
		t.Fatalf("error: %s", r.Err)
	}
	if r.External.Addr() != natlab.WANIP || r.Internal.Addr() != natlab.PrivIP {
		t.Errorf("external %v internal %v, want %v and %v", r.External, r.Internal, natlab.WANIP, natlab.PrivIP)
	}
	if r.Took > 3*time.Second {
		t.Errorf("took %v, want at most 3s", r.Took)
	}
	listed := func() string {
		out, err := lab.Run(lab.Priv, "upnpc", "-u", lab.UPnPURL, "-l")
		if err != nil {
			t.Fatalf("upnpc -l: %v\n%s", err, out)
		}
		return out
	}
	entry := fmt.Sprintf("UDP %5d->%s:%-5d", r.External.Port(), r.Internal.Addr(), r.Internal.Port())
	if out := listed(); !strings.Contains(out, entry) {
		t.Errorf("upnpc -l lacks %q:\n%s", entry, out)
	}
	packets := func() int {
		if err := p.Send("packets"); err != nil {
			t.Fatal(err)
		}
		s, err := p.Line(wait)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := strconv.Atoi(s)
		return v
	}
	before := packets()
	s := lab.Helper(lab.Pub, "send", r.External.String(), "5")
	if code := s.Wait(wait); code != 0 {
		t.Fatalf("sender exit %d", code)
	}
	deadline := time.Now().Add(2 * time.Second)
	for packets() < before+5 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := packets() - before; got < 5 {
		t.Errorf("the host received %d of 5 unsolicited datagrams", got)
	}
	p.Send("close")
	if l, err := p.Line(wait); err != nil || l != "closed" {
		t.Fatalf("close: %q %v", l, err)
	}
	if out := listed(); strings.Contains(out, entry) {
		t.Errorf("mapping still listed after close:\n%s", out)
	}
}

// TestTURN: behind a symmetric NAT, a host allocates a relay on coturn
// (long-term credentials) and permits a public peer; the peer's node
// pings the relayed address over a Noise session and the pong comes back
// from the relayed address.
func TestTURN(t *testing.T) {
	t.Parallel()
	lab := natlab.New(t, natlab.Options{NAT: natlab.Symmetric, TURN: true})
	p := lab.Helper(lab.Priv, "turn", lab.STUN.String(), natlab.User, natlab.Password)
	r := line[turnOut](t, p)
	t.Logf("turn: relayed %v in %v", r.Relayed, r.Took)
	if r.Err != "" {
		t.Fatalf("error: %s", r.Err)
	}
	if a := r.Relayed.Addr(); a != natlab.PubIP && a != natlab.PubIP2 {
		t.Errorf("relayed %v, want on coturn's %v or %v", r.Relayed, natlab.PubIP, natlab.PubIP2)
	}
	p.Send("permit " + natlab.PeerIP.String())
	if l, err := p.Line(wait); err != nil || l != "ok" {
		t.Fatalf("permit: %q %v", l, err)
	}
	peer := lab.Helper(lab.Pub, "peer", netip.AddrPortFrom(natlab.PeerIP, 0).String(), r.Relayed.String())
	pr := line[peerOut](t, peer)
	t.Logf("peer: pong from %v (it saw the peer as %v) rtt %v", pr.From, pr.Observed, pr.RTT)
	if pr.Err != "" {
		t.Fatalf("peer: %s", pr.Err)
	}
	if pr.From != r.Relayed || pr.Observed.Addr() != natlab.PeerIP {
		t.Errorf("pong from %v observing %v, want from %v observing %v", pr.From, pr.Observed, r.Relayed, natlab.PeerIP)
	}
	p.Send("stats")
	st := line[struct {
		transport.NATStats
		Delivered uint64
	}](t, p)
	t.Logf("private host: %+v", st)
	if st.RelayedIn == 0 || st.RelayedOut == 0 || st.Delivered == 0 {
		t.Errorf("stats %+v", st)
	}
	p.Send("close")
	p.Line(wait)
}
