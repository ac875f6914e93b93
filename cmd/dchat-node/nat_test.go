package main

import (
	"crypto/rand"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/dchat/network/core/identity"
	"github.com/dchat/network/core/traversal"
)

// TestTraversalConfig: [nat] becomes the traversal component's
// configuration: a node listed among the rendezvous serves and does not
// register with itself; TURN servers by address; the relay policy; UPnP
// only with both network.enable_upnp and nat.upnp. A bad relay policy is
// an error naming file, line and key.
func TestTraversalConfig(t *testing.T) {
	self, err := identity.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := identity.Generate(rand.Reader)
	doc := fmt.Sprintf(`[nat]
stun_servers = ["198.18.0.1:3478"]
rendezvous = ["/ip4/198.18.0.4/udp/9000/p2p/%s", "/ip4/198.18.0.6/udp/9000/p2p/%s"]
relay = "always"
upnp = true

[[nat.turn_servers]]
address = "198.18.0.3:3478"
username = "u"
password = "p"
`, self.ID(), other.ID())
	cfg, err := ParseConfig("node.toml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	n := &Node{cfg: cfg, id: self}
	c := n.traversalConfig()
	if !c.Serve || !slices.Equal(c.Rendezvous, []netip.AddrPort{netip.MustParseAddrPort("198.18.0.6:9000")}) {
		t.Errorf("serve %v rendezvous %v: want serving, registering with the other only", c.Serve, c.Rendezvous)
	}
	if !slices.Equal(c.TURNServers, []netip.AddrPort{netip.MustParseAddrPort("198.18.0.3:3478")}) || c.RelayPolicy != traversal.RelayAlways || !c.UseUPnP {
		t.Errorf("turn %v relay %v upnp %v", c.TURNServers, c.RelayPolicy, c.UseUPnP)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	cfg.Network.EnableUPnP = false
	if c := (&Node{cfg: cfg, id: other}).traversalConfig(); c.UseUPnP || !c.Serve || len(c.Rendezvous) != 1 || c.Rendezvous[0].Addr() != netip.MustParseAddr("198.18.0.4") {
		t.Errorf("other node: upnp %v serve %v rendezvous %v", c.UseUPnP, c.Serve, c.Rendezvous)
	}
	cfg, _ = ParseConfig("node.toml", []byte("[nat]\nserve_rendezvous = true\n"))
	if c := (&Node{cfg: cfg, id: self}).traversalConfig(); !c.Serve || c.RelayPolicy != traversal.RelayAuto {
		t.Errorf("serve_rendezvous: serve %v relay %v", c.Serve, c.RelayPolicy)
	}
	_, err = ParseConfig("node.toml", []byte("[nat]\n\nrelay = \"sometimes\"\n"))
	if err == nil || !strings.Contains(err.Error(), `node.toml:3: nat.relay: want "auto", "always" or "never", got "sometimes"`) {
		t.Errorf("bad relay: %v", err)
	}
}
