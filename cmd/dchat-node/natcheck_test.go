package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pion/stun/v4"

	"github.com/dchat/network/transport/natlab"
)

func TestMain(m *testing.M) {
	// In a NAT lab namespace the test binary runs as dchat-node itself.
	natlab.Main(map[string]func([]string) int{
		"dchat-node": func(args []string) int {
			return Main(context.Background(), args, os.Stdout, os.Stderr)
		},
	})
	os.Exit(m.Run())
}

// plainSTUN is a loopback STUN server without RFC 5780: it answers
// binding requests with the source address and nothing else.
func plainSTUN(t *testing.T) netip.AddrPort {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			m := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
			if m.Decode() != nil || m.Type != stun.BindingRequest {
				continue
			}
			resp := stun.MustBuild(stun.NewTransactionIDSetter(m.TransactionID), stun.BindingSuccess,
				&stun.XORMappedAddress{IP: from.Addr().AsSlice(), Port: int(from.Port())}, stun.Fingerprint)
			c.WriteToUDPAddrPort(resp.Raw, from)
		}
	}()
	return c.LocalAddr().(*net.UDPAddr).AddrPort()
}

// TestNATCheckLoopback: against a STUN server without RFC 5780 the public
// address is reported and the type is unknown (exit 0); a silent server
// is a failure (exit 1); nothing to check is a usage error (exit 2).
func TestNATCheckLoopback(t *testing.T) {
	server := plainSTUN(t)
	code, out, stderr := runMain(t, "nat-check", "--listen", "127.0.0.1:0", "--stun", server.String(), "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep NATReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.STUN == nil || rep.STUN.Public != rep.Local || rep.STUN.Type != "unknown" || !strings.Contains(rep.STUN.Error, "RFC 5780") {
		t.Errorf("report %+v %+v", rep, rep.STUN)
	}
	code, out, _ = runMain(t, "nat-check", "--listen", "127.0.0.1:0", "--stun", server.String())
	if code != 0 || !strings.Contains(out, "public address:  "+rep.Local.Addr().String()) || !strings.Contains(out, "nat type:        unknown") {
		t.Errorf("text report (exit %d):\n%s", code, out)
	}

	silent, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	code, out, stderr = runMain(t, "nat-check", "--listen", "127.0.0.1:0", "--stun", silent.LocalAddr().String())
	if code != 1 || !strings.Contains(stderr, "stun: transport: stun: no response") || !strings.Contains(out, "stun error:") {
		t.Errorf("silent server: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}

	for _, args := range [][]string{
		{"nat-check"},
		{"nat-check", "--stun", "nonsense"},
		{"nat-check", "--turn", "127.0.0.1:3478"},
		{"nat-check", "--stun", server.String(), "--listen", "x"},
	} {
		if code, _, stderr := runMain(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, stderr)
		}
	}
}

// TestNATConfig: the [nat] table decodes strictly, with the file, line
// and key in errors, and gives nat-check its defaults.
func TestNATConfig(t *testing.T) {
	good := `[nat]
stun_servers = ["198.18.0.1:3478"]
upnp = true
upnp_url = "http://10.99.0.1:5000/rootDesc.xml"
rendezvous = ["/ip4/198.18.0.4/udp/9000/p2p/` + validID + `"]

[[nat.turn_servers]]
address = "198.18.0.1:3478"
username = "u"
password = "p"
realm = "lab"
`
	cfg, err := ParseConfig("good.toml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	n := cfg.NAT
	if len(n.STUNServers) != 1 || n.STUNServers[0] != netip.MustParseAddrPort("198.18.0.1:3478") || !n.UPnP ||
		len(n.TURNServers) != 1 || n.TURNServers[0].Username != "u" || n.TURNServers[0].Realm != "lab" ||
		len(n.Rendezvous) != 1 || n.Rendezvous[0].Addr.Port() != 9000 {
		t.Errorf("decoded %+v", n)
	}
	for _, tc := range []struct{ doc, want string }{
		{"[nat]\nstun = []\n", `bad.toml:2:1: unknown key "nat.stun"`},
		{"[nat]\nstun_servers = [\"198.18.0.1\"]\n", "bad.toml:2"},
		{"[nat]\nstun_servers = [\"0.0.0.0:3478\"]\n", "bad.toml:2: nat.stun_servers: 0.0.0.0:3478 is not a server address"},
		{"[nat]\nupnp_url = \"ftp://x\"\n", "bad.toml:2: nat.upnp_url:"},
		{"[nat]\nrendezvous = [\"/ip4/1.2.3.4/udp/0/p2p/x\"]\n", "bad.toml:2"},
		{"[[nat.turn_servers]]\naddress = \"198.18.0.1:3478\"\nusername = \"u\"\npassword = \"p\"\n\n[[nat.turn_servers]]\naddress = \"198.18.0.1:3478\"\npassword = \"p\"\n",
			"bad.toml:6: nat.turn_servers[2].username: not set"},
		{"[[nat.turn_servers]]\naddress = \"198.18.0.1:0\"\nusername = \"u\"\npassword = \"p\"\n",
			"bad.toml:2: nat.turn_servers[1].address: 198.18.0.1:0 is not a server address"},
	} {
		_, err := ParseConfig("bad.toml", []byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.doc, err, tc.want)
		}
	}

	// nat-check takes its servers from --config.
	server := plainSTUN(t)
	file := writeFile(t, "nat.toml", fmt.Sprintf("[nat]\nstun_servers = [%q]\n", server))
	code, out, stderr := runMain(t, "nat-check", "--config", file, "--listen", "127.0.0.1:0", "--json")
	var rep NATReport
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.STUN == nil || rep.STUN.Server != server {
		t.Errorf("exit %d: %s\n%s", code, out, stderr)
	}
}

// TestNATCheckLab runs `dchat-node nat-check` behind each lab NAT: behind
// the port-restricted one with UPnP, behind the symmetric one with TURN.
func TestNATCheckLab(t *testing.T) {
	for _, tc := range []struct {
		nat  natlab.NAT
		opt  natlab.Options
		want string
	}{
		{natlab.PortRestricted, natlab.Options{NAT: natlab.PortRestricted, UPnP: true}, "port-restricted"},
		{natlab.Symmetric, natlab.Options{NAT: natlab.Symmetric, TURN: true}, "symmetric"},
	} {
		t.Run(tc.nat.String(), func(t *testing.T) {
			t.Parallel()
			lab := natlab.New(t, tc.opt)
			args := []string{"nat-check", "--stun", lab.STUN.String(), "--timeout", "5s"}
			if tc.opt.UPnP {
				args = append(args, "--upnp-url", lab.UPnPURL)
			}
			if tc.opt.TURN {
				args = append(args, "--turn", lab.STUN.String(), "--turn-user", natlab.User, "--turn-pass", natlab.Password)
			}
			text := lab.Helper(lab.Priv, "dchat-node", args...)
			var lines []string
			for {
				l, err := text.Line(20 * time.Second)
				if err != nil {
					break
				}
				lines = append(lines, l)
			}
			if code := text.Wait(20 * time.Second); code != 0 {
				t.Fatalf("nat-check exit %d:\n%s", code, strings.Join(lines, "\n"))
			}
			out := strings.Join(lines, "\n")
			t.Logf("nat-check behind the %v NAT:\n%s", tc.nat, out)
			if !strings.Contains(out, "nat type:        "+tc.want) || !strings.Contains(out, "public address:  "+natlab.WANIP.String()+":") {
				t.Errorf("want type %s and public address on %v", tc.want, natlab.WANIP)
			}

			js := lab.Helper(lab.Priv, "dchat-node", append(args, "--json")...)
			var b strings.Builder
			for {
				l, err := js.Line(20 * time.Second)
				if err != nil {
					break
				}
				b.WriteString(l)
			}
			if code := js.Wait(20 * time.Second); code != 0 {
				t.Fatalf("nat-check --json exit %d:\n%s", code, b.String())
			}
			var rep NATReport
			if err := json.Unmarshal([]byte(b.String()), &rep); err != nil {
				t.Fatalf("%v:\n%s", err, b.String())
			}
			if rep.STUN == nil || rep.STUN.Type != tc.want || rep.STUN.Took > time.Second {
				t.Errorf("stun %+v", rep.STUN)
			}
			if tc.opt.UPnP && (rep.UPnP == nil || rep.UPnP.External.Addr() != natlab.WANIP || rep.UPnP.Internal.Addr() != natlab.PrivIP) {
				t.Errorf("upnp %+v", rep.UPnP)
			}
			if tc.opt.TURN && (rep.TURN == nil || (rep.TURN.Relayed.Addr() != natlab.PubIP && rep.TURN.Relayed.Addr() != natlab.PubIP2)) {
				t.Errorf("turn %+v", rep.TURN)
			}
		})
	}
}
