package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dchat/network/core"
	"github.com/dchat/network/core/traversal"
	"github.com/dchat/network/internal/natagree"
	"github.com/dchat/network/transport/natlab"
)

// labNode is a dchat-node process in a lab namespace.
type labNode struct {
	name, ns, dir, id string
	listen            netip.AddrPort
	cmd               *exec.Cmd
	log               string
}

// labAdmin is every lab node's admin address, in its own namespace.
const labAdmin = "127.0.0.1:9100"

// natCluster runs dchat-node processes in a lab.
type natCluster struct {
	t   *testing.T
	lab *natlab.Lab
	bin string
	dir string
}

// cli runs a dchat-node client command in ns (the admin endpoint is on
// that namespace's loopback) and returns its standard output.
func (c *natCluster) cli(ns string, timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, c.bin}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("dchat-node %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// newNode creates a node's identity and configuration.
func (c *natCluster) newNode(name, ns string, listen netip.AddrPort) *labNode {
	c.t.Helper()
	n := &labNode{name: name, ns: ns, dir: filepath.Join(c.dir, name), listen: listen, log: filepath.Join(c.dir, name+".log")}
	out, err := exec.Command(c.bin, "keygen", "--data-dir", n.dir).Output()
	if err != nil {
		c.t.Fatalf("keygen %s: %v", name, err)
	}
	n.id = strings.TrimSpace(string(out))
	return n
}

func multiaddrOf(n *labNode) string {
	return fmt.Sprintf("/ip4/%s/udp/%d/p2p/%s", n.listen.Addr(), n.listen.Port(), n.id)
}

// start writes n's configuration ([node] plus nat, a TOML fragment) and
// runs it in its namespace; cleanup kills it by PID.
func (c *natCluster) start(n *labNode, nat string) {
	c.t.Helper()
	conf := fmt.Sprintf(`[node]
listen = %q
data_dir = %q
admin = %q
log_format = "json"
log_level = "debug"

[nat]
%s
`, n.listen, n.dir, labAdmin, nat)
	file := filepath.Join(c.dir, n.name+".toml")
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		c.t.Fatal(err)
	}
	log, err := os.Create(n.log)
	if err != nil {
		c.t.Fatal(err)
	}
	defer log.Close()
	n.cmd = exec.Command("ip", "netns", "exec", n.ns, c.bin, "run", "--config", file)
	n.cmd.Stdout, n.cmd.Stderr = log, log
	if err := n.cmd.Start(); err != nil {
		c.t.Fatalf("start %s: %v", n.name, err)
	}
	c.t.Cleanup(func() {
		n.cmd.Process.Kill()
		n.cmd.Wait()
		if c.t.Failed() {
			b, _ := os.ReadFile(n.log)
			c.t.Logf("--- %s log (last 6000 bytes):\n%s", n.name, b[max(0, len(b)-6000):])
		}
	})
}

func (c *natCluster) status(n *labNode) (Status, error) {
	var st Status
	out, err := c.cli(n.ns, 5*time.Second, "status", "--admin", labAdmin)
	if err == nil {
		err = json.Unmarshal([]byte(out), &st)
	}
	return st, err
}

// labWait polls cond every 100 ms until it holds or d passed.
func labWait(t *testing.T, what string, d time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v (%s)", what, d, state)
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}
}

// TestNATLab runs each natagree case for real: a rendezvous dchat-node in
// the lab's public namespace and two dchat-nodes, A and B, each behind its
// own NAT (two sites). A asks for a path to B with `dchat-node connect`;
// the path's method must be the case's, and the one the simulator finds
// for the same situation (natagree.Simulate); then a message published on
// A arrives at B and one published on B arrives at A. A and B have no
// bootstrap peers, so the traversal path is their only connection: gossip
// can flow over nothing else.
//
//   - punch: both NATs port-restricted (masquerade): hole punching;
//   - relay: both symmetric (masquerade random,fully-random): punching
//     fails, TURN through coturn (long-term credentials);
//   - upnp: both port-restricted, B's NAT runs miniupnpd and B maps its
//     port: A reaches B at the mapped port.
func TestNATLab(t *testing.T) {
	natlab.Require(t)
	if testing.Short() {
		t.Skip("builds the binary and runs a NAT lab")
	}
	bin := filepath.Join(t.TempDir(), "dchat-node")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	kinds := map[core.NATType]natlab.NAT{core.NATPortRestricted: natlab.PortRestricted, core.NATSymmetric: natlab.Symmetric}
	for _, tc := range natagree.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			simRes, err := natagree.Simulate(tc, 1)
			if err != nil {
				t.Fatalf("simulator: %v", err)
			}
			lab := natlab.New(t, natlab.Options{TURN: true, Sites: []natlab.SiteOptions{
				{NAT: kinds[tc.A]}, {NAT: kinds[tc.B], UPnP: tc.UPnPB}}})
			c := &natCluster{t: t, lab: lab, bin: bin, dir: t.TempDir()}
			r := c.newNode("rendezvous", lab.Pub, netip.AddrPortFrom(natlab.PeerIP, 9000))
			a := c.newNode("a", lab.Sites[0].Priv, netip.AddrPortFrom(lab.Sites[0].Host, 9000))
			b := c.newNode("b", lab.Sites[1].Priv, netip.AddrPortFrom(lab.Sites[1].Host, 9000))
			servers := fmt.Sprintf(`stun_servers = [%q]
rendezvous = [%q]
`, lab.STUN, multiaddrOf(r))
			turn := fmt.Sprintf(`
[[nat.turn_servers]]
address = %q
username = %q
password = %q
realm = %q
`, lab.STUN, natlab.User, natlab.Password, natlab.Realm)
			c.start(r, servers) // listed among the rendezvous: it serves
			c.start(a, servers+turn)
			bnat := servers
			if tc.UPnPB {
				bnat += fmt.Sprintf("upnp = true\nupnp_url = %q\n", lab.Sites[1].UPnPURL)
			}
			c.start(b, bnat+turn)
			t.Cleanup(func() { // before the nodes stop: their counters, on failure
				if !t.Failed() {
					return
				}
				for _, st := range lab.Sites {
					out, _ := lab.Run(st.NAT, "cat", "/proc/net/nf_conntrack")
					t.Logf("--- conntrack in %s:\n%s", st.NAT, out)
				}
				for _, n := range []*labNode{a, b} {
					out, _ := c.cli(n.ns, 5*time.Second, "peers", "--admin", labAdmin)
					t.Logf("--- %s peers:\n%s", n.name, out)
					m, _ := exec.Command("ip", "netns", "exec", n.ns, "curl", "-s", "http://"+labAdmin+"/metrics").Output()
					for _, l := range strings.Split(string(m), "\n") {
						if strings.HasPrefix(l, "dchat_transport_") || strings.HasPrefix(l, "dchat_nat_") || strings.HasPrefix(l, "dchat_core_drops") {
							t.Logf("%s: %s", n.name, l)
						}
					}
				}
			})

			// Ready: discovered, registered, and (symmetric) relayed,
			// as the simulator's nodes are after natagree.Settle.
			ready := func(n *labNode, want core.NATType) func() (bool, string) {
				return func() (bool, string) {
					st, err := c.status(n)
					if err != nil {
						return false, err.Error()
					}
					s := st.NAT
					typeOK := s.Type == want.String()
					if tc.UPnPB && n == b {
						// The mapping keeps the port: if it lands before the
						// RFC 5780 filtering tests, they pass and B is full-cone.
						typeOK = typeOK || s.Type == core.NATFullCone.String()
					}
					ok := s.Discovered && typeOK && len(s.Registered) == 1 &&
						(want != core.NATSymmetric || s.Relayed.IsValid()) && (!tc.UPnPB || n != b || s.Mapped.IsValid())
					return ok, fmt.Sprintf("%s: %+v", n.name, s)
				}
			}
			labWait(t, "rendezvous up", 10*time.Second, func() (bool, string) {
				st, err := c.status(r)
				return err == nil && st.NAT.Serving, fmt.Sprint(err)
			})
			labWait(t, "A ready", 15*time.Second, ready(a, tc.A))
			labWait(t, "B ready", 15*time.Second, ready(b, tc.B))
			stB, _ := c.status(b)
			t.Logf("B: type %s public %v mapped %v relayed %v reachable %v", stB.NAT.Type, stB.NAT.Public, stB.NAT.Mapped, stB.NAT.Relayed, stB.NAT.Reachable)
			want := []traversal.Method{tc.Want}
			if tc.UPnPB && stB.NAT.Type == core.NATFullCone.String() {
				// Simulate what B found, and accept direct: B's public
				// endpoint and its mapping are the same.
				tc.B = core.NATFullCone
				if simRes, err = natagree.Simulate(tc, 1); err != nil {
					t.Fatalf("simulator, B full-cone: %v", err)
				}
				want = append(want, traversal.MethodDirect)
			}

			start := time.Now()
			out, err := c.cli(a.ns, 45*time.Second, "connect", "--admin", labAdmin, "--wait", "30s", b.id)
			wall := time.Since(start)
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			var rep ConnectReply
			if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Path == nil {
				t.Fatalf("connect reply %q: %v", out, err)
			}
			t.Logf("real: A's first path to B: %s at %v, %v after the request (%v for the CLI)", rep.Path.Method, rep.Path.Addr, rep.Took, wall)
			t.Logf("simulated: A's first path to B: %v at %v, %v after Connect; B's path %v", simRes.Method, simRes.Addr, simRes.Took, simRes.BMethod)
			if !slices.ContainsFunc(want, func(m traversal.Method) bool { return m.String() == rep.Path.Method }) {
				t.Errorf("real method %s, want %v", rep.Path.Method, want)
			}
			if simRes.Method.String() != rep.Path.Method {
				t.Errorf("simulator and lab disagree: simulated %v, real %s", simRes.Method, rep.Path.Method)
			}
			switch tc.Want {
			case traversal.MethodPunch, traversal.MethodUPnP, traversal.MethodDirect:
				if rep.Path.Addr.Addr() != lab.Sites[1].WAN {
					t.Errorf("path %v, want on B's NAT %v", rep.Path.Addr, lab.Sites[1].WAN)
				}
			case traversal.MethodRelay:
				// B's relayed address, or B's endpoint reached through
				// A's own relay (A's allocation permits B's IP).
				stA, err := c.status(a)
				if err != nil {
					t.Fatal(err)
				}
				if ad := rep.Path.Addr.Addr(); ad != natlab.PubIP && ad != natlab.PubIP2 && !(ad == lab.Sites[1].WAN && stA.NAT.Relayed.IsValid()) {
					t.Errorf("path %v: neither on coturn nor B's NAT through A's relay (%v)", rep.Path.Addr, stA.NAT.Relayed)
				}
			}

			// The connection manager opens a session over the path.
			connected := func(n *labNode, peer string) func() (bool, string) {
				return func() (bool, string) {
					out, err := c.cli(n.ns, 5*time.Second, "peers", "--admin", labAdmin)
					if err != nil {
						return false, err.Error()
					}
					var pr struct {
						Paths []PeerPath `json:"nat_paths"`
					}
					if err := json.Unmarshal([]byte(out), &pr); err != nil {
						return false, err.Error()
					}
					for _, p := range pr.Paths {
						if p.Peer.String() == peer && p.Connected {
							return true, ""
						}
					}
					return false, out
				}
			}
			labWait(t, "A's session with B", 15*time.Second, connected(a, b.id))
			labWait(t, "B's session with A", 15*time.Second, connected(b, a.id))
			gossip := func(from, to *labNode, text string) {
				t.Helper()
				sent := time.Now()
				if _, err := c.cli(from.ns, 10*time.Second, "publish", "--admin", labAdmin, text); err != nil {
					t.Fatal(err)
				}
				labWait(t, from.name+" to "+to.name, 15*time.Second, func() (bool, string) {
					out, err := c.cli(to.ns, 5*time.Second, "messages", "--admin", labAdmin)
					return err == nil && strings.Contains(out, `"text":"`+text+`"`), out
				})
				t.Logf("%s -> %s: delivered within %v", from.name, to.name, time.Since(sent).Round(time.Millisecond))
			}
			gossip(a, b, "hello B from A over "+tc.Name)
			gossip(b, a, "hello A from B over "+tc.Name)
		})
	}
}
