package transport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// PacketConn is the packet interface a Host reads and writes: datagrams
// addressed by netip.AddrPort, nothing else (nebula's udp.Conn, not
// net.PacketConn with its net.Addr).
//
// Concurrency: ReadFrom is called from one goroutine (the host's reader)
// while WriteTo is called from another (its loop); Close may be called
// from either, and must make a blocked ReadFrom return an error wrapping
// net.ErrClosed.
type PacketConn interface {
	// ReadFrom reads one datagram into b. A datagram longer than b is
	// truncated to len(b) (the host reads into MaxPacket+1 bytes to tell).
	ReadFrom(b []byte) (n int, from netip.AddrPort, err error)
	// WriteTo sends b as one datagram. It must not retain b.
	WriteTo(b []byte, to netip.AddrPort) error
	// LocalAddr returns the bound address.
	LocalAddr() netip.AddrPort
	// Close releases the socket.
	Close() error
}

// socketBuffer is the receive and send buffer asked of the kernel (it caps
// it at net.core.rmem_max / wmem_max).
const socketBuffer = 4 << 20

// Listen binds a UDP socket: udp4 for an IPv4 address, udp6 for a specific
// IPv6 one, dual-stack for [::].
func Listen(addr netip.AddrPort) (PacketConn, error) {
	network := "udp6"
	switch {
	case addr.Addr().Is4() || addr.Addr().Is4In6():
		network = "udp4"
		addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	case addr.Addr().IsUnspecified():
		network = "udp"
	}
	c, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return nil, fmt.Errorf("transport: listen %v: %w", addr, err)
	}
	_ = c.SetReadBuffer(socketBuffer) // best effort
	_ = c.SetWriteBuffer(socketBuffer)
	local := c.LocalAddr().(*net.UDPAddr).AddrPort()
	return &udpConn{c: c, local: unmap(local)}, nil
}

type udpConn struct {
	c     *net.UDPConn
	local netip.AddrPort
}

func (u *udpConn) ReadFrom(b []byte) (int, netip.AddrPort, error) {
	n, from, err := u.c.ReadFromUDPAddrPort(b)
	return n, from, err
}

func (u *udpConn) WriteTo(b []byte, to netip.AddrPort) error {
	_, err := u.c.WriteToUDPAddrPort(b, to)
	return err
}

func (u *udpConn) LocalAddr() netip.AddrPort { return u.local }
func (u *udpConn) Close() error              { return u.c.Close() }

// unmap turns an IPv4-mapped IPv6 address (what a dual-stack socket reports
// for IPv4 peers) into plain IPv4, so a peer has one address, and drops
// zones.
func unmap(a netip.AddrPort) netip.AddrPort {
	if ip := a.Addr(); ip.Is4In6() || ip.Zone() != "" {
		return netip.AddrPortFrom(ip.Unmap().WithZone(""), a.Port())
	}
	return a
}

// isClosed reports whether a read error means the socket was closed.
func isClosed(err error) bool { return errors.Is(err, net.ErrClosed) }

// inbound is a datagram passed from the reader to the loop.
type inbound struct {
	buf  *[]byte
	n    int
	from netip.AddrPort
}

// smallBuf is the size class most datagrams fit in (pings, DHT messages,
// handshakes); larger ones take a MaxPacket buffer.
const smallBuf = 2048

// bufPool hands out receive buffers in two size classes, so a full inbox
// of small datagrams does not pin InboxLen x MaxPacket bytes.
//
// Concurrency: safe for concurrent use.
type bufPool struct {
	small, large sync.Pool
	max          int
}

func newBufPool(max int) *bufPool {
	p := &bufPool{max: max}
	p.small.New = func() any { b := make([]byte, smallBuf); return &b }
	p.large.New = func() any { b := make([]byte, max); return &b }
	return p
}

func (p *bufPool) get(n int) *[]byte {
	if n <= smallBuf {
		return p.small.Get().(*[]byte)
	}
	return p.large.Get().(*[]byte)
}

func (p *bufPool) put(b *[]byte) {
	if cap(*b) == smallBuf {
		p.small.Put(b)
	} else {
		p.large.Put(b)
	}
}
