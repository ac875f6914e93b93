package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"github.com/spf13/cobra"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dchat/network/core/identity"
)

// runMain runs the command line in process.
func runMain(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	// A bounded context: a configuration wrongly accepted by run fails
	// the test instead of running a node forever.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code = Main(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const validID = "12D3KooWE7hToQmXLkhXuevby42PFkuWjzAhKn8We166FrR9dg1k"

// TestConfigErrors: every bad configuration exits with 2, names the key
// (and the line) and leaves the data directory uncreated.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		flags     []string
		want      []string
	}{
		{"unknown key", "[node]\nlisten = \"127.0.0.1:0\"\nlisen = 3\n", nil, []string{":3:", `"node.lisen"`}},
		{"unknown table", "[nodes]\nx = 1\n", nil, []string{":1:", "nodes"}},
		{"unknown network key", "[network]\n\nfanout = 3\n", nil, []string{":3:", `"network.fanout"`}},
		{"bad duration", "[network]\nping_interval = \"30 seconds\"\n", nil, []string{":2:", "network.ping_interval", "bad duration"}},
		{"duration as integer", "[network]\nping_timeout = 5\n", nil, []string{":2:", "network.ping_timeout"}},
		{"bad type", "[network]\nk_bucket_size = \"twenty\"\n", nil, []string{":2:", "network.k_bucket_size"}},
		{"out of range", "[network]\n# k\nk_bucket_size = 0\n", nil, []string{":3:", "network.k_bucket_size", "positive"}},
		{"cross-key", "[network]\nping_interval = \"1s\"\nping_timeout = \"2s\"\n", nil, []string{":3:", "network.ping_timeout"}},
		{"bad multiaddr transport", "[node]\nbootstrap = [\"/ip4/127.0.0.1/tcp/9000/p2p/" + validID + "\"]\n", nil, []string{":2:", "node.bootstrap", "multiaddr"}},
		{"bad multiaddr peer", "[node]\nbootstrap = [\"/ip4/127.0.0.1/udp/9000/p2p/12D3KooWnope\"]\n", nil, []string{":2:", "node.bootstrap"}},
		{"bad multiaddr ip", "[node]\nbootstrap = [\"/ip4/::1/udp/9000/p2p/" + validID + "\"]\n", nil, []string{":2:", "node.bootstrap"}},
		{"bad listen", "[node]\nlisten = \"localhost\"\n", nil, []string{":2:", "node.listen"}},
		{"non-loopback admin", "[node]\nadmin = \"0.0.0.0:9100\"\n", nil, []string{":2:", "node.admin", "loopback"}},
		{"bad log format", "[node]\nlog_format = \"xml\"\n", nil, []string{":2:", "node.log_format"}},
		{"syntax", "[node\n", nil, []string{":1:"}},
		{"flag non-loopback admin", "", []string{"--admin", "192.0.2.1:9100"}, []string{"node.admin", "loopback"}},
		{"flag bad bootstrap", "", []string{"--bootstrap", "/ip4/127.0.0.1/udp/0/p2p/" + validID}, []string{"--bootstrap", "port"}},
		{"unknown flag", "", []string{"--listn", "x"}, []string{"listn"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			args := append([]string{"run", "--data-dir", dir, "--config", writeFile(t, "node.toml", tc.doc)}, tc.flags...)
			code, _, stderr := runMain(t, args...)
			if code != 2 {
				t.Fatalf("exit code %d, want 2 (stderr %q)", code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not contain %q", stderr, w)
				}
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("data directory touched: %v", err)
			}
		})
	}
}

// TestConfigExample: the example decodes back to the defaults, and changed
// values take.
func TestConfigExample(t *testing.T) {
	code, out, stderr := runMain(t, "config", "example")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	cfg, err := ParseConfig("example", []byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, DefaultConfig()) {
		t.Errorf("example decodes to\n%+v\nwant\n%+v", cfg, DefaultConfig())
	}
	for _, key := range []string{"[node]", "[network]", "k_bucket_size = 20", `ping_interval = "30s"`, "gossip_peer_rate = 10.0"} {
		if !strings.Contains(out, key) {
			t.Errorf("example lacks %q", key)
		}
	}
	doc := strings.Replace(out, `ping_interval = "30s"`, `ping_interval = "45s"`, 1)
	doc = strings.Replace(doc, "bootstrap = []", `bootstrap = ["/ip6/::1/udp/9000/p2p/`+validID+`"]`, 1)
	cfg, err = ParseConfig("changed", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Network.PingInterval != 45*time.Second || len(cfg.Node.Bootstrap) != 1 ||
		cfg.Node.Bootstrap[0].String() != "/ip6/::1/udp/9000/p2p/"+validID {
		t.Errorf("changed values not decoded: %v %v", cfg.Network.PingInterval, cfg.Node.Bootstrap)
	}
}

func TestKeygenID(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	code, _, stderr := runMain(t, "id", "--data-dir", dir)
	if code != 1 {
		t.Fatalf("id without a key: exit %d (%s)", code, stderr)
	}
	code, out, stderr := runMain(t, "keygen", "--data-dir", dir)
	if code != 0 {
		t.Fatalf("keygen: exit %d: %s", code, stderr)
	}
	id, err := identity.ParsePeerID(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("keygen printed %q: %v", out, err)
	}
	st, err := os.Stat(filepath.Join(dir, keyFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v, want 0600", st.Mode().Perm())
	}
	if code, out, _ = runMain(t, "id", "--data-dir", dir); code != 0 || strings.TrimSpace(out) != id.String() {
		t.Errorf("id: exit %d, %q, want %v", code, out, id)
	}
	if code, _, stderr = runMain(t, "keygen", "--data-dir", dir); code != 1 || !strings.Contains(stderr, "exists") {
		t.Errorf("second keygen: exit %d, %q", code, stderr)
	}
	if code, out, _ = runMain(t, "id", "--data-dir", dir); code != 0 || strings.TrimSpace(out) != id.String() {
		t.Errorf("key replaced: exit %d, %q", code, out)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data dir holds %d entries, want the key only", len(entries))
	}
}

func TestParseMultiaddr(t *testing.T) {
	for _, s := range []string{"/ip4/127.0.0.1/udp/9000/p2p/" + validID, "/ip6/::1/udp/1/p2p/" + validID} {
		m, err := ParseMultiaddr(s)
		if err != nil || m.String() != s {
			t.Errorf("%s: %v, %v", s, m, err)
		}
	}
	for _, s := range []string{
		"", "/ip4/127.0.0.1/udp/9000", "/ip4/127.0.0.1/udp/9000/p2p/" + validID + "/x",
		"ip4/127.0.0.1/udp/9000/p2p/" + validID, "/ip6/127.0.0.1/udp/9000/p2p/" + validID,
		"/ip4/127.0.0.1/udp/65536/p2p/" + validID, "/ip4/127.0.0.1/udp/09000/p2p/" + validID,
		"/ip4/127.0.0.1/udp/0/p2p/" + validID, "/dns/example.com/udp/1/p2p/" + validID,
		"/ip6/fe80::1%eth0/udp/1/p2p/" + validID, "/ip4/127.0.0.1/udp/9000/p2p/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N",
	} {
		if _, err := ParseMultiaddr(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

// testNode is a node started in process by Run.
type testNode struct {
	n      *Node
	cancel context.CancelFunc
	done   chan error
}

func testConfig(t *testing.T, dir string, listen string, boot ...Multiaddr) Config {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Node.DataDir = dir
	cfg.Node.Listen = mustAddrPort(t, listen)
	cfg.Node.Admin = mustAddrPort(t, "127.0.0.1:0")
	cfg.Node.Bootstrap = boot
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func startTestNode(t *testing.T, cfg Config, name string) *testNode {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tn := &testNode{cancel: cancel, done: make(chan error, 1)}
	ready := make(chan *Node, 1)
	logger := slog.New(slog.NewTextHandler(tlogWriter{t, name}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	go func() { tn.done <- Run(ctx, cfg, logger, func(n *Node) { ready <- n }) }()
	select {
	case tn.n = <-ready:
	case err := <-tn.done:
		t.Fatalf("%s: Run: %v", name, err)
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: not started", name)
	}
	t.Cleanup(func() { tn.stop(t) })
	return tn
}

// stop cancels the node (as SIGTERM does) and waits for Run.
func (tn *testNode) stop(t *testing.T) {
	t.Helper()
	if tn.cancel == nil {
		return
	}
	tn.cancel()
	tn.cancel = nil
	select {
	case err := <-tn.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("node did not stop")
	}
}

type tlogWriter struct {
	t    *testing.T
	name string
}

func (w tlogWriter) Write(b []byte) (int, error) {
	w.t.Logf("%s: %s", w.name, bytes.TrimRight(b, "\n"))
	return len(b), nil
}

func adminGet(t *testing.T, admin, path string, v any) string {
	t.Helper()
	var b bytes.Buffer
	if err := adminCall(admin, "GET", path, nil, &b); err != nil {
		t.Fatal(err)
	}
	if v != nil {
		if err := json.Unmarshal(b.Bytes(), v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	return b.String()
}

// messageTexts reads /messages.
func messageTexts(t *testing.T, admin string) []string {
	t.Helper()
	var texts []string
	sc := bufio.NewScanner(strings.NewReader(adminGet(t, admin, "/messages", nil)))
	for sc.Scan() {
		var m deliveredMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("/messages line %q: %v", sc.Text(), err)
		}
		texts = append(texts, m.Text)
	}
	return texts
}

// waitFor polls cond every 20 ms until it holds, failing after timeout.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%s: not within %v", what, timeout)
		}
	}
	return time.Since(start)
}

func contains(texts []string, s string) bool {
	for _, x := range texts {
		if x == s {
			return true
		}
	}
	return false
}

// TestThreeNodes starts three nodes in process with Run, as the run
// command does: two bootstrap from the first; a message published through
// one admin endpoint reaches all three; a node stopped (the SIGTERM path)
// saves its peer store and, restarted without bootstrap peers, rejoins from
// it; stopping all saves every peer store.
func TestThreeNodes(t *testing.T) {
	root := t.TempDir()
	dirs := []string{filepath.Join(root, "n1"), filepath.Join(root, "n2"), filepath.Join(root, "n3")}
	n1 := startTestNode(t, testConfig(t, dirs[0], "127.0.0.1:0"), "n1")
	boot := n1.n.Multiaddr()
	nodes := []*testNode{n1,
		startTestNode(t, testConfig(t, dirs[1], "127.0.0.2:0", boot), "n2"),
		startTestNode(t, testConfig(t, dirs[2], "127.0.0.3:0", boot), "n3")}
	admin := func(i int) string { return nodes[i].n.AdminAddr().String() }

	joined := waitFor(t, "join", 10*time.Second, func() bool {
		for i := range nodes {
			var st Status
			adminGet(t, admin(i), "/status", &st)
			if st.RoutingSize < 2 || st.Connections < 1 {
				return false
			}
		}
		return true
	})
	var out bytes.Buffer
	if err := adminCall(admin(1), "POST", "/publish", []byte("hello from n2"), &out); err != nil {
		t.Fatal(err)
	}
	delivered := waitFor(t, "delivery", 10*time.Second, func() bool {
		for i := range nodes {
			if !contains(messageTexts(t, admin(i)), "hello from n2") {
				return false
			}
		}
		return true
	})
	metrics := adminGet(t, admin(1), "/metrics", nil)
	for _, m := range []string{"dchat_gossip_deliveries_total 1", "dchat_transport_packets_in_total", "dchat_gossip_published_total 1",
		`dchat_transport_drops_total{reason=`, `dchat_dht_lookups_total{`,
		`dchat_messages_total{dir="out",kind="gossip"}`} {
		if !strings.Contains(metrics, m) {
			t.Errorf("/metrics lacks %q", m)
		}
	}
	// Health probes: the accepting side of a session probes at once (it has
	// no RTT sample), the dialling side only after ping_interval, so which
	// of the three nodes has probed depends on who dialled whom. Some node
	// accepted a session, so some node's /metrics counts probes soon.
	probes := []string{`dchat_messages_total{dir="out",kind="conn-ping"}`, `dchat_messages_total{dir="in",kind="conn-pong"}`}
	waitFor(t, "health probes in /metrics", 10*time.Second, func() bool {
		for i := range nodes {
			m := adminGet(t, admin(i), "/metrics", nil)
			if strings.Contains(m, probes[0]) && strings.Contains(m, probes[1]) {
				return true
			}
		}
		return false
	})

	// Node 3 stops (the SIGTERM path), saves its peers and comes back at
	// the same address with no bootstrap peers configured.
	n3addr := nodes[2].n.LocalAddr()
	nodes[2].stop(t)
	stored, err := loadPeers(dirs[2])
	if err != nil || len(stored) != 2 {
		t.Fatalf("node 3 saved %d peers (%v), want 2", len(stored), err)
	}
	nodes[2] = startTestNode(t, testConfig(t, dirs[2], n3addr.String()), "n3'")
	rejoined := waitFor(t, "rejoin", 10*time.Second, func() bool {
		var st Status
		adminGet(t, admin(2), "/status", &st)
		return st.Bootstrapped && st.RoutingSize >= 2 && st.Connections >= 1
	})
	if err := adminCall(admin(0), "POST", "/publish", []byte("after the restart"), io.Discard); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery after the restart", 10*time.Second, func() bool {
		return contains(messageTexts(t, admin(2)), "after the restart")
	})

	for _, tn := range nodes {
		tn.stop(t)
	}
	for i, d := range dirs {
		ps, err := loadPeers(d)
		if err != nil || len(ps) != 2 {
			t.Errorf("node %d: peer store %v (%v), want 2 peers", i+1, ps, err)
		}
	}
	t.Logf("joined in %v, delivered at all three %v later, restarted node rejoined in %v",
		joined.Round(time.Millisecond), delivered.Round(time.Millisecond), rejoined.Round(time.Millisecond))
}

func mustAddrPort(t *testing.T, s string) netip.AddrPort {
	t.Helper()
	a, err := netip.ParseAddrPort(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestChaosFlags: --chaos is refused without --enable-chaos (and the
// other way round), a bad chaos file is named with its line and key, and a
// good one reaches the node's configuration.
func TestChaosFlags(t *testing.T) {
	good := writeFile(t, "chaos.toml", "seed = 3\n\n[[link]]\ndrop = \"5%\"\n\n[skew]\noffset = \"2s\"\n")
	bad := writeFile(t, "bad.toml", "[[link]]\ndrop = \"150%\"\n")
	for _, tc := range []struct {
		name  string
		flags []string
		want  []string
	}{
		{"not confirmed", []string{"--chaos", good}, []string{"--enable-chaos to confirm"}},
		{"no file", []string{"--enable-chaos"}, []string{"--enable-chaos without --chaos"}},
		{"bad file", []string{"--chaos", bad, "--enable-chaos"}, []string{"bad.toml:2:", "link[1].drop"}},
		{"missing file", []string{"--chaos", filepath.Join(t.TempDir(), "none.toml"), "--enable-chaos"}, []string{"none.toml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			code, _, stderr := runMain(t, append([]string{"run", "--data-dir", dir}, tc.flags...)...)
			if code != 2 {
				t.Fatalf("exit code %d, want 2 (stderr %q)", code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not contain %q", stderr, w)
				}
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("data directory touched: %v", err)
			}
		})
	}
	var o overrides
	c := &cobra.Command{}
	o.addRunFlags(c)
	if err := c.ParseFlags([]string{"--chaos", good, "--enable-chaos"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := o.load(c)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Chaos == nil || cfg.Chaos.Seed != 3 || len(cfg.Chaos.Links) != 1 || cfg.Chaos.Skew.Offset != 2*time.Second {
		t.Fatalf("chaos config %+v", cfg.Chaos)
	}
}
