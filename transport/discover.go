package transport

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/dchat/network/core"
)

// QueryMapping implements core.Connectivity: a binding request to server
// on the host's socket (RFC 8489), and with discover the NAT behaviour
// tests of RFC 5780 §4.3 and §4.4 (see discovery). It must be called on
// the loop; done runs later on the loop, with Took measured from the call.
func (h *Host) QueryMapping(server netip.AddrPort, discover bool, done func(core.MappingResult)) {
	now := time.Now()
	d := &discovery{h: h, server: unmap(server), start: now, done: done, discover: discover}
	if !d.server.IsValid() || d.server.Port() == 0 || d.server.Addr().IsUnspecified() {
		h.after(0, func() { d.finish(time.Now(), fmt.Errorf("%w: stun server %v", ErrBadServer, server)) })
		return
	}
	h.stunRequest(now, d.server, 0, h.cfg.STUNTimeout, d.onBinding)
}

// discovery is one QueryMapping in progress: RFC 5780 behaviour discovery
// as a small state machine on the loop.
//
//  1. Test I (§4.3): a plain binding request to the server gives the
//     public endpoint and the server's OTHER-ADDRESS.
//  2. Filtering (§4.4), both at once: test II asks the server to answer
//     from its other IP and port (CHANGE-REQUEST change-IP and
//     change-port), test III from its other port only. An answer to II
//     means endpoint-independent filtering, else an answer to III
//     address-dependent, else address-and-port-dependent. They wait at
//     most Config.STUNFilterTimeout, as a NAT that filters is expected to
//     drop the answers; a lost answer errs towards a stricter type.
//  3. Mapping (§4.3), both at once and only after the filtering tests
//     (requests to the other address would open the filter for the
//     answers the filtering tests look for): test II to the other IP and
//     the primary port, test III to the other IP and port. The mapped
//     address of II equal to I's means endpoint-independent mapping, else
//     III's equal to II's address-dependent, else
//     address-and-port-dependent.
//
// core.Classify turns the behaviours into the NAT type.
//
// Loop-owned.
type discovery struct {
	h        *Host
	server   netip.AddrPort
	other    netip.AddrPort
	start    time.Time
	done     func(core.MappingResult)
	discover bool
	finished bool

	local, public netip.AddrPort
	mapping       core.Behavior
	filtering     core.Behavior

	// Filtering phase: answers of tests II (change IP and port) and III
	// (change port); pending counts the open ones.
	filterII, filterIII *stunTxn
	gotII, gotIII       bool
	pending             int

	// Mapping phase: the mapped addresses of tests II and III.
	mapII, mapIII netip.AddrPort
}

// onBinding is test I's answer.
func (d *discovery) onBinding(now time.Time, a stunAnswer) {
	if a.Err != nil {
		d.finish(now, a.Err)
		return
	}
	d.public = a.Mapped
	d.local = d.h.localFor(a.Mapped)
	if !d.discover {
		d.finish(now, nil)
		return
	}
	o := a.Other
	if !o.IsValid() || o.Addr() == d.server.Addr() || o.Port() == d.server.Port() || o.Addr().IsUnspecified() {
		d.finish(now, fmt.Errorf("%w (%v)", ErrNoOtherAddress, d.server))
		return
	}
	d.other = o
	d.pending = 2
	d.filterII = d.h.stunRequest(now, d.server, changeIP|changePort, d.h.cfg.STUNFilterTimeout, d.onFilterII)
	d.filterIII = d.h.stunRequest(now, d.server, changePort, d.h.cfg.STUNFilterTimeout, d.onFilterIII)
}

// onFilterII is filtering test II's answer: it counts only if it came
// from the other IP address and port, as asked.
func (d *discovery) onFilterII(now time.Time, a stunAnswer) {
	d.pending--
	if a.Err == nil && a.Origin.Addr() != d.server.Addr() && a.Origin.Port() != d.server.Port() {
		d.gotII = true
		if d.filterIII != nil {
			if d.h.nat.stun[d.filterIII.id] == d.filterIII {
				d.h.cancelSTUN(d.filterIII) // endpoint-independent: III cannot add anything
				d.pending--
			}
		}
	}
	d.afterFilter(now)
}

// onFilterIII is filtering test III's answer: it counts only if it came
// from the primary IP address and the other port.
func (d *discovery) onFilterIII(now time.Time, a stunAnswer) {
	d.pending--
	if a.Err == nil && a.Origin.Addr() == d.server.Addr() && a.Origin.Port() != d.server.Port() {
		d.gotIII = true
	}
	d.afterFilter(now)
}

// afterFilter classifies the filtering once both tests ended and starts
// the mapping tests.
func (d *discovery) afterFilter(now time.Time) {
	if d.pending > 0 || d.finished {
		return
	}
	switch {
	case d.gotII:
		d.filtering = core.BehaviorEndpointIndependent
	case d.gotIII:
		d.filtering = core.BehaviorAddressDependent
	default:
		d.filtering = core.BehaviorAddressPortDependent
	}
	if d.local.IsValid() && d.local == d.public {
		d.mapping = core.BehaviorEndpointIndependent // no NAT: nothing to map
		d.finish(now, nil)
		return
	}
	d.pending = 2
	d.h.stunRequest(now, netip.AddrPortFrom(d.other.Addr(), d.server.Port()), 0, d.h.cfg.STUNTimeout, d.onMapII)
	d.h.stunRequest(now, d.other, 0, d.h.cfg.STUNTimeout, d.onMapIII)
}

func (d *discovery) onMapII(now time.Time, a stunAnswer) {
	d.pending--
	if a.Err == nil {
		d.mapII = a.Mapped
	}
	d.afterMapping(now)
}

func (d *discovery) onMapIII(now time.Time, a stunAnswer) {
	d.pending--
	if a.Err == nil {
		d.mapIII = a.Mapped
	}
	d.afterMapping(now)
}

// afterMapping classifies the mapping once both tests ended.
func (d *discovery) afterMapping(now time.Time) {
	if d.pending > 0 || d.finished {
		return
	}
	switch {
	case !d.mapII.IsValid():
		d.finish(now, fmt.Errorf("%w: other address %v did not answer", ErrNoOtherAddress, netip.AddrPortFrom(d.other.Addr(), d.server.Port())))
		return
	case d.mapII == d.public:
		d.mapping = core.BehaviorEndpointIndependent
	case d.mapIII.IsValid() && d.mapIII == d.mapII:
		d.mapping = core.BehaviorAddressDependent
	default:
		d.mapping = core.BehaviorAddressPortDependent
	}
	d.finish(now, nil)
}

// finish delivers the result once.
func (d *discovery) finish(now time.Time, err error) {
	if d.finished {
		return
	}
	d.finished = true
	r := core.MappingResult{Public: d.public, Took: now.Sub(d.start), Err: err}
	if err == nil && d.discover {
		r.Mapping, r.Filtering = d.mapping, d.filtering
		r.Type = core.Classify(d.local, d.public, d.mapping, d.filtering)
	}
	d.h.log.Debug("stun query", "server", d.server, "public", r.Public, "mapping", r.Mapping,
		"filtering", r.Filtering, "type", r.Type, "took", r.Took, "err", err)
	d.done(r)
}

// localFor returns the host's local endpoint to compare with a mapped
// one: the bound address, or, for a socket bound to the unspecified
// address, mapped itself when its IP is one of this machine's (no NAT).
func (h *Host) localFor(mapped netip.AddrPort) netip.AddrPort {
	if !h.local.Addr().IsUnspecified() {
		return h.local
	}
	if mapped.Port() != h.local.Port() {
		return h.local
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return h.local
	}
	for _, a := range addrs {
		if p, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(p.IP); ok && ip.Unmap() == mapped.Addr() {
				return mapped
			}
		}
	}
	return h.local
}
