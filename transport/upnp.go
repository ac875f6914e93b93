package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/huin/goupnp"
	"github.com/huin/goupnp/dcps/internetgateway2"

	"github.com/dchat/network/core"
)

// ErrNoGateway: no UPnP internet gateway answered (SSDP), or the
// configured root description offers no WAN connection service.
var ErrNoGateway = errors.New("transport: upnp: no internet gateway device")

// igdClient is what the host needs of a WAN connection service; the
// goupnp clients of WANIPConnection1, WANIPConnection2 and
// WANPPPConnection1 all have it.
type igdClient interface {
	GetExternalIPAddressCtx(ctx context.Context) (string, error)
	AddPortMappingCtx(ctx context.Context, remoteHost string, externalPort uint16, protocol string,
		internalPort uint16, internalClient string, enabled bool, description string, leaseSeconds uint32) error
	DeletePortMappingCtx(ctx context.Context, remoteHost string, externalPort uint16, protocol string) error
	GetServiceClient() *goupnp.ServiceClient
}

// portMap is the host's UPnP port mapping. Loop-owned.
type portMap struct {
	client   igdClient
	gateway  string // the root description's URL
	service  string // the WAN service type
	internal netip.AddrPort
	external netip.AddrPort
	lease    time.Duration
	renew    core.Timer
	renewing bool
}

// PortMapInfo describes the host's UPnP port mapping (PortMap).
type PortMapInfo struct {
	// Gateway is the URL of the gateway's root description, Service the
	// WAN connection service type used.
	Gateway, Service string
	// Internal is the host's LAN endpoint the mapping points to, External
	// the gateway's WAN endpoint.
	Internal, External netip.AddrPort
	// Lease is the lease asked for (0: permanent, as some gateways allow
	// only that).
	Lease time.Duration
}

// PortMap returns the host's UPnP mapping, if it has one. It must be
// called on the loop.
func (h *Host) PortMap() (PortMapInfo, bool) {
	m := h.nat.upnp
	if m == nil {
		return PortMapInfo{}, false
	}
	return PortMapInfo{Gateway: m.gateway, Service: m.service, Internal: m.internal, External: m.external, Lease: m.lease}, true
}

// MapPort implements core.Connectivity with UPnP IGD (goupnp): it finds
// the gateway (Config.UPnPURL, or SSDP discovery of WANIPConnection2,
// WANIPConnection1 and WANPPPConnection1), asks its external IP address
// and adds a UDP mapping of the host's port (the same external port if
// free, else a random one) for lease. The mapping is renewed at lease/2
// and deleted when the host stops. One mapping per host: a second call
// returns the mapping. It must be called on the loop; done runs later on
// the loop.
func (h *Host) MapPort(lease time.Duration, done func(core.PortMapping)) {
	start := time.Now()
	n := h.nat
	switch {
	case n.upnp != nil:
		m := n.upnp
		h.after(0, func() { done(core.PortMapping{External: m.external, Lease: m.lease}) })
		return
	case n.mapping || lease < 0:
		err := fmt.Errorf("%w: port mapping", ErrBusy)
		if lease < 0 {
			err = fmt.Errorf("transport: upnp: negative lease %v", lease)
		}
		h.after(0, func() { done(core.PortMapping{Took: time.Since(start), Err: err}) })
		return
	}
	n.mapping = true
	// Ports to try: the host's own, then two random ones (drawn here, on
	// the loop that owns the random source).
	ports := []uint16{h.local.Port(), uint16(1024 + h.env.Rand.IntN(65535-1024)), uint16(1024 + h.env.Rand.IntN(65535-1024))}
	gw, timeout, local, desc := h.cfg.UPnPURL, h.cfg.UPnPTimeout, h.local, "dchat "+h.keys.id.Short()
	n.goHelper(func() {
		ctx, cancel := context.WithTimeout(n.ctx, timeout)
		defer cancel()
		m, err := mapPort(ctx, gw, local, ports, lease, desc)
		posted := n.post(func(now time.Time) {
			n.mapping = false
			if err != nil {
				h.log.Info("upnp mapping failed", "err", err)
				done(core.PortMapping{Took: now.Sub(start), Err: err})
				return
			}
			n.upnp = m
			h.armRenew(m)
			h.log.Info("upnp mapping", "gateway", m.gateway, "external", m.external, "lease", m.lease)
			done(core.PortMapping{External: m.external, Lease: m.lease, Took: now.Sub(start)})
		})
		if !posted && m != nil {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			m.client.DeletePortMappingCtx(ctx, "", m.external.Port(), "UDP")
		}
	})
}

// armRenew sets the renewal of m at half its lease (none for a
// permanent one).
func (h *Host) armRenew(m *portMap) {
	if m.lease <= 0 {
		return
	}
	m.renew = h.after(m.lease/2, func() { h.onRenewPort(m) })
}

// onRenewPort adds m's mapping again, on a helper, and re-arms.
func (h *Host) onRenewPort(m *portMap) {
	n := h.nat
	if n.upnp != m || m.renewing {
		return
	}
	m.renewing = true
	timeout := h.cfg.UPnPTimeout
	client, internal, external, lease, desc := m.client, m.internal, m.external, m.lease, "dchat "+h.keys.id.Short()
	n.goHelper(func() {
		ctx, cancel := context.WithTimeout(n.ctx, timeout)
		defer cancel()
		err := client.AddPortMappingCtx(ctx, "", external.Port(), "UDP", internal.Port(), internal.Addr().String(),
			true, desc, uint32(lease/time.Second))
		n.post(func(time.Time) {
			m.renewing = false
			if n.upnp != m {
				return
			}
			if err != nil {
				h.log.Warn("upnp renewal failed", "external", external, "err", err)
			}
			h.armRenew(m)
		})
	})
}

// unmapPort deletes m on the gateway (at shutdown, on the loop, bounded
// by UPnPTimeout).
func (h *Host) unmapPort(m *portMap) {
	if m.renew != nil {
		m.renew.Stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.UPnPTimeout)
	defer cancel()
	if err := m.client.DeletePortMappingCtx(ctx, "", m.external.Port(), "UDP"); err != nil {
		h.log.Warn("upnp delete failed", "external", m.external, "err", err)
		return
	}
	h.log.Info("upnp mapping deleted", "external", m.external)
}

// mapPort finds the gateway and adds the mapping. It runs on a helper.
func mapPort(ctx context.Context, gateway string, local netip.AddrPort, ports []uint16, lease time.Duration, desc string) (*portMap, error) {
	client, service, err := findGateway(ctx, gateway)
	if err != nil {
		return nil, err
	}
	sc := client.GetServiceClient()
	loc := sc.Location.String()
	ext, err := client.GetExternalIPAddressCtx(ctx)
	if err != nil {
		return nil, fmt.Errorf("transport: upnp: GetExternalIPAddress: %w", err)
	}
	extIP, err := netip.ParseAddr(strings.TrimSpace(ext))
	if err != nil || extIP.IsUnspecified() {
		return nil, fmt.Errorf("transport: upnp: gateway has no external address (%q)", ext)
	}
	internal, err := internalAddr(local, sc)
	if err != nil {
		return nil, err
	}
	var last error
	for _, port := range ports {
		if port == 0 {
			continue
		}
		secs := uint32(lease / time.Second)
		err := client.AddPortMappingCtx(ctx, "", port, "UDP", internal.Port(), internal.Addr().String(), true, desc, secs)
		if err != nil && secs != 0 && strings.Contains(err.Error(), "725") {
			// OnlyPermanentLeasesSupported (UPnP IGD v1 gateways).
			lease, secs = 0, 0
			err = client.AddPortMappingCtx(ctx, "", port, "UDP", internal.Port(), internal.Addr().String(), true, desc, 0)
		}
		if err == nil {
			return &portMap{client: client, gateway: loc, service: service, internal: internal,
				external: netip.AddrPortFrom(extIP.Unmap(), port), lease: time.Duration(secs) * time.Second}, nil
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("transport: upnp: AddPortMapping: %w", last)
}

// findGateway returns the preferred WAN connection service of the
// gateway at rootURL, or of the first found by SSDP (the three searches
// run at once).
func findGateway(ctx context.Context, rootURL string) (igdClient, string, error) {
	type found struct {
		clients []igdClient
		err     error
	}
	services := []string{internetgateway2.URN_WANIPConnection_2, internetgateway2.URN_WANIPConnection_1, internetgateway2.URN_WANPPPConnection_1}
	results := make([]found, len(services))
	if rootURL != "" {
		u, err := url.Parse(rootURL)
		if err != nil {
			return nil, "", fmt.Errorf("transport: upnp: gateway URL: %w", err)
		}
		root, err := goupnp.DeviceByURLCtx(ctx, u)
		if err != nil {
			return nil, "", fmt.Errorf("transport: upnp: %w", err)
		}
		a, err1 := internetgateway2.NewWANIPConnection2ClientsFromRootDevice(root, u)
		b, err2 := internetgateway2.NewWANIPConnection1ClientsFromRootDevice(root, u)
		c, err3 := internetgateway2.NewWANPPPConnection1ClientsFromRootDevice(root, u)
		results[0], results[1], results[2] = found{asIGD(a), err1}, found{asIGD(b), err2}, found{asIGD(c), err3}
	} else {
		done := make(chan struct{}, len(services))
		go func() {
			a, _, err := internetgateway2.NewWANIPConnection2ClientsCtx(ctx)
			results[0] = found{asIGD(a), err}
			done <- struct{}{}
		}()
		go func() {
			b, _, err := internetgateway2.NewWANIPConnection1ClientsCtx(ctx)
			results[1] = found{asIGD(b), err}
			done <- struct{}{}
		}()
		go func() {
			c, _, err := internetgateway2.NewWANPPPConnection1ClientsCtx(ctx)
			results[2] = found{asIGD(c), err}
			done <- struct{}{}
		}()
		for range services {
			<-done // each search ends within its SSDP window or ctx
		}
	}
	var errs []error
	for i, r := range results {
		if len(r.clients) > 0 {
			return r.clients[0], services[i], nil
		}
		if r.err != nil {
			errs = append(errs, r.err)
		}
	}
	if len(errs) > 0 {
		return nil, "", fmt.Errorf("%w: %w", ErrNoGateway, errors.Join(errs...))
	}
	return nil, "", ErrNoGateway
}

// asIGD converts a goupnp client slice.
func asIGD[C igdClient](cs []C) []igdClient {
	out := make([]igdClient, len(cs))
	for i, c := range cs {
		out[i] = c
	}
	return out
}

// internalAddr is the host's LAN endpoint for the mapping: its bound
// address if specific, else the address SSDP found the gateway from, else
// the one the kernel routes to the gateway from (a UDP connect sends
// nothing).
func internalAddr(local netip.AddrPort, sc *goupnp.ServiceClient) (netip.AddrPort, error) {
	if ip := local.Addr(); !ip.IsUnspecified() {
		return local, nil
	}
	if ip, ok := netip.AddrFromSlice(sc.LocalAddr()); ok && ip.Unmap().Is4() && !ip.IsUnspecified() {
		return netip.AddrPortFrom(ip.Unmap(), local.Port()), nil
	}
	host := sc.Location.Hostname()
	port := sc.Location.Port()
	if port == "" {
		port = "80"
	}
	c, err := net.Dial("udp4", net.JoinHostPort(host, port))
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("transport: upnp: no route to the gateway: %w", err)
	}
	defer c.Close()
	ua, _ := c.LocalAddr().(*net.UDPAddr)
	if ua == nil {
		return netip.AddrPort{}, fmt.Errorf("transport: upnp: no local address towards the gateway")
	}
	return netip.AddrPortFrom(ua.AddrPort().Addr().Unmap(), local.Port()), nil
}
