package sim

import (
	"time"

	"github.com/dchat/network/core"
)

// Simulated UPnP IGD port mapping.
//
// A NAT box with NATConfig.UPnP has a gateway on the node's LAN. MapPort
// is modelled as two LAN round trips (SSDP M-SEARCH, then the SOAP
// AddPortMapping call), upnpLAN each, without packets on the simulated
// network: the LAN is not part of the model. The mapping forwards the
// box's public address at port Port to the node with endpoint-independent
// filtering, for the lease; the client renews it every lease/2 while the
// node is up, so it expires one lease after the node crashes (the box
// keeps it until then). Without a gateway (no NAT, or a box without
// UPnP), MapPort fails after ssdpTimeout, the time a client waits for
// M-SEARCH answers (MX = 2 s, UPnP Device Architecture 1.1 §1.3.2).
const (
	upnpLAN          = 2 * time.Millisecond
	ssdpTimeout      = 2 * time.Second
	defaultUPnPLease = time.Hour
)

// mapPort implements Connectivity.MapPort for node i. A lease <= 0 means
// one hour (IGD's "infinite" 0 is not granted).
func (n *natWorld) mapPort(i int, lease time.Duration, done func(core.PortMapping)) {
	if lease <= 0 {
		lease = defaultUPnPLease
	}
	start := n.now()
	inc := n.w.nodes[i].incarnation
	box := n.boxes[i]
	c := n.client(i)
	if box == nil || !box.HasUPnP() {
		n.after(ssdpTimeout, i, inc, func() {
			n.stats.UPnPFailures++
			done(core.PortMapping{Took: n.now() - start, Err: ErrNoGateway})
		})
		return
	}
	c.upnpGen++
	gen := c.upnpGen
	n.after(2*upnpLAN, i, inc, func() {
		ext, err := box.MapPort(n.now(), lease)
		if err != nil {
			done(core.PortMapping{Took: n.now() - start, Err: err})
			return
		}
		n.stats.UPnPMappings++
		n.scheduleUPnPRenew(i, inc, gen, lease)
		done(core.PortMapping{External: ext.AddrPort(), Lease: lease, Took: n.now() - start})
	})
}

// scheduleUPnPRenew renews node i's port mapping at lease/2, and again
// after each renewal, until the node crashes or maps again.
func (n *natWorld) scheduleUPnPRenew(i int, inc, gen uint32, lease time.Duration) {
	n.after(lease/2, i, inc, func() {
		if n.client(i).upnpGen != gen {
			return
		}
		if _, err := n.boxes[i].MapPort(n.now(), lease); err == nil {
			n.stats.UPnPRenewals++
		}
		n.scheduleUPnPRenew(i, inc, gen, lease)
	})
}

// after runs f after d as a new input to node i, unless the node has
// crashed since incarnation inc.
func (n *natWorld) after(d time.Duration, i int, inc uint32, f func()) {
	n.w.nodes[i].after(d, inc, f)
}
