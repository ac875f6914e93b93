package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/pion/stun/v4"

	"github.com/dchat/network/core"
)

// STUN (RFC 8489) runs on the host's own UDP socket, the one that carries
// the Noise frames, so the mapping it learns is the one peers see. Requests
// are encoded with pion/stun; their transactions live on the loop.

// Errors of STUN queries.
var (
	// ErrSTUNTimeout: no response before the query's deadline.
	ErrSTUNTimeout = errors.New("transport: stun: no response")
	// ErrSTUNResponse: the server answered with an error response, or a
	// success response without a mapped address.
	ErrSTUNResponse = errors.New("transport: stun: bad response")
	// ErrNoOtherAddress: the server does not support RFC 5780 (its
	// response had no OTHER-ADDRESS, or it did not answer from it), so
	// the NAT's behaviour cannot be measured; the public address is valid.
	ErrNoOtherAddress = errors.New("transport: stun: server does not support RFC 5780 behaviour discovery")
)

const (
	stunHeaderLen   = 20
	stunMagicCookie = 0x2112A442

	// CHANGE-REQUEST flags (RFC 5780 §7.2).
	changeIP   = 0x04
	changePort = 0x02
)

// isSTUN reports whether a datagram is a STUN message (RFC 7983 §7, RFC
// 8489 §5): the two top bits zero, the magic cookie at bytes 4-8, and a
// length field (a multiple of 4) that matches the datagram. A transport
// frame never passes: its bytes 2-3 are reserved zeros, which as a STUN
// length mean a 20-byte datagram, and no frame is 20 bytes long.
func isSTUN(b []byte) bool {
	if len(b) < stunHeaderLen || b[0]&0xC0 != 0 || binary.BigEndian.Uint32(b[4:8]) != stunMagicCookie {
		return false
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	return n%4 == 0 && n == len(b)-stunHeaderLen
}

// stunAnswer is the outcome of one binding transaction.
type stunAnswer struct {
	// Mapped is the XOR-MAPPED-ADDRESS (or MAPPED-ADDRESS) of the response.
	Mapped netip.AddrPort
	// Other is the server's OTHER-ADDRESS (RFC 5780 §7.4), if it sent one.
	Other netip.AddrPort
	// Origin is the address the response came from.
	Origin netip.AddrPort
	Err    error
}

// stunTxn is an outstanding binding request. Loop-owned.
type stunTxn struct {
	id       [stun.TransactionIDSize]byte
	to       netip.AddrPort
	raw      []byte
	interval time.Duration // the next retransmission's wait
	deadline time.Time
	timer    core.Timer
	done     func(now time.Time, a stunAnswer)
}

// stunRequest sends a binding request to `to` (with a CHANGE-REQUEST of
// the given flags, when non-zero) and calls done on the loop with the
// answer, or with ErrSTUNTimeout after timeout. It must run on the loop;
// done never runs before it returns. It returns the transaction (nil if
// the request could not be built), for cancelSTUN.
//
// Retransmission follows RFC 8489 §6.2.1 with RTO = Config.STUNRTO: the
// request is sent at 0, RTO, 3·RTO, 7·RTO... (each wait doubles) while the
// next send falls before the deadline. With the defaults (250 ms, 1.5 s)
// that is 0, 0.25 and 0.75 s, and the query fails at 1.5 s.
func (h *Host) stunRequest(now time.Time, to netip.AddrPort, change byte, timeout time.Duration, done func(time.Time, stunAnswer)) *stunTxn {
	setters := []stun.Setter{stun.TransactionID, stun.BindingRequest}
	if change != 0 {
		setters = append(setters, stun.RawAttribute{Type: stun.AttrChangeRequest, Value: []byte{0, 0, 0, change}})
	}
	setters = append(setters, stun.Fingerprint)
	m, err := stun.Build(setters...)
	if err != nil { // cannot happen with these attributes
		h.after(0, func() { done(time.Now(), stunAnswer{Err: fmt.Errorf("transport: stun: %w", err)}) })
		return nil
	}
	t := &stunTxn{id: m.TransactionID, to: unmap(to), raw: clone(m.Raw), interval: h.cfg.STUNRTO,
		deadline: now.Add(timeout), done: done}
	h.nat.stun[t.id] = t
	h.nat.stats.stunSent.Add(1)
	h.write(t.to, t.raw)
	h.armSTUN(now, t)
	return t
}

// armSTUN sets t's timer: its next retransmission, or its deadline.
func (h *Host) armSTUN(now time.Time, t *stunTxn) {
	wait := t.interval
	if now.Add(wait).After(t.deadline) || wait <= 0 {
		t.timer = h.after(t.deadline.Sub(now), func() { h.onSTUNTimeout(t) })
		return
	}
	t.timer = h.after(wait, func() { h.onSTUNRetransmit(t) })
}

// onSTUNRetransmit resends an unanswered request (RFC 8489 §6.2.1).
func (h *Host) onSTUNRetransmit(t *stunTxn) {
	if h.nat.stun[t.id] != t {
		return
	}
	now := time.Now()
	h.nat.stats.stunRetransmits.Add(1)
	h.write(t.to, t.raw)
	t.interval *= 2
	h.armSTUN(now, t)
}

// onSTUNTimeout ends an unanswered request.
func (h *Host) onSTUNTimeout(t *stunTxn) {
	if h.nat.stun[t.id] != t {
		return
	}
	delete(h.nat.stun, t.id)
	h.nat.stats.stunTimeouts.Add(1)
	t.done(time.Now(), stunAnswer{Err: fmt.Errorf("%w from %v", ErrSTUNTimeout, t.to)})
}

// cancelSTUN forgets a request whose answer is no longer wanted.
func (h *Host) cancelSTUN(t *stunTxn) {
	if t == nil || h.nat.stun[t.id] != t {
		return
	}
	delete(h.nat.stun, t.id)
	t.timer.Stop()
}

// onSTUN handles a STUN datagram on the loop: a response to one of our
// transactions completes it; anything else (an unknown transaction, a
// request or indication) is dropped as DropSTUNUnknown, and a message that
// does not decode as DropSTUNMalformed.
func (h *Host) onSTUN(now time.Time, from netip.AddrPort, b []byte) {
	m := stun.Message{Raw: b}
	if err := m.Decode(); err != nil {
		h.dropSTUN(now, from, DropSTUNMalformed)
		return
	}
	t := h.nat.stun[m.TransactionID]
	if t == nil || m.Type.Method != stun.MethodBinding ||
		(m.Type.Class != stun.ClassSuccessResponse && m.Type.Class != stun.ClassErrorResponse) {
		h.dropSTUN(now, from, DropSTUNUnknown)
		return
	}
	a := stunAnswer{Origin: from}
	if m.Type.Class == stun.ClassErrorResponse {
		var code stun.ErrorCodeAttribute
		if code.GetFrom(&m) == nil {
			a.Err = fmt.Errorf("%w: %v from %v", ErrSTUNResponse, code, from)
		} else {
			a.Err = fmt.Errorf("%w: error response from %v", ErrSTUNResponse, from)
		}
	} else {
		var xor stun.XORMappedAddress
		var plain stun.MappedAddress
		switch {
		case xor.GetFrom(&m) == nil:
			a.Mapped = addrPort(xor.IP, xor.Port)
		case plain.GetFrom(&m) == nil:
			a.Mapped = addrPort(plain.IP, plain.Port)
		}
		if !a.Mapped.IsValid() {
			h.dropSTUN(now, from, DropSTUNMalformed)
			return // a later retransmission's answer may be good
		}
		var other stun.OtherAddress
		if other.GetFrom(&m) == nil {
			a.Other = addrPort(other.IP, other.Port)
		}
	}
	delete(h.nat.stun, t.id)
	t.timer.Stop()
	h.nat.stats.stunAnswered.Add(1)
	t.done(now, a)
}

// dropSTUN counts and observes a dropped STUN datagram.
func (h *Host) dropSTUN(now time.Time, from netip.AddrPort, r DropReason) {
	h.stats.drops[r].Add(1)
	h.obs.Observe(now, core.Drop{From: from, Msg: "transport.stun", Reason: r.String()})
}

// addrPort converts a STUN attribute's address.
func addrPort(ip net.IP, port int) netip.AddrPort {
	a, ok := netip.AddrFromSlice(ip)
	if !ok || port <= 0 || port > 0xffff {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(port))
}
