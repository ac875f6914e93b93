package transporttest

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// Net is an in-memory datagram network: Conns bound to addresses, each with
// a bounded receive queue. Delivery is immediate, in order, and lossless
// unless a queue is full or Filter says otherwise.
type Net struct {
	mu    sync.Mutex
	conns map[netip.AddrPort]*Conn
	next  uint16
	// Filter, if set, sees every datagram (a copy) before delivery and may
	// drop it by returning false. Set it before use.
	Filter func(from, to netip.AddrPort, b []byte) bool
	// QueueLen bounds each Conn's receive queue (default 1024).
	QueueLen int
}

// NewNet returns an empty network.
func NewNet() *Net { return &Net{conns: map[netip.AddrPort]*Conn{}, next: 40000} }

type datagram struct {
	b    []byte
	from netip.AddrPort
}

// Conn is one bound address on a Net.
type Conn struct {
	net    *Net
	addr   netip.AddrPort
	ch     chan datagram
	closed chan struct{}
	once   sync.Once
}

// Listen binds addr; port 0 picks a free one.
func (n *Net) Listen(addr netip.AddrPort) (*Conn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if addr.Port() == 0 {
		for {
			n.next++
			a := netip.AddrPortFrom(addr.Addr(), n.next)
			if n.conns[a] == nil {
				addr = a
				break
			}
		}
	}
	if n.conns[addr] != nil {
		return nil, fmt.Errorf("transporttest: %v in use", addr)
	}
	q := n.QueueLen
	if q <= 0 {
		q = 1024
	}
	c := &Conn{net: n, addr: addr, ch: make(chan datagram, q), closed: make(chan struct{})}
	n.conns[addr] = c
	return c, nil
}

// ReadFrom blocks for the next datagram; a longer one is truncated to b.
// After Close it returns net.ErrClosed.
func (c *Conn) ReadFrom(b []byte) (int, netip.AddrPort, error) {
	select {
	case d := <-c.ch:
		return copy(b, d.b), d.from, nil
	case <-c.closed:
		return 0, netip.AddrPort{}, net.ErrClosed
	}
}

// TryRead returns the next queued datagram without blocking, if any.
func (c *Conn) TryRead() ([]byte, netip.AddrPort, bool) {
	select {
	case d := <-c.ch:
		return d.b, d.from, true
	default:
		return nil, netip.AddrPort{}, false
	}
}

// WriteTo delivers a copy of b to the Conn bound at to, if any and if its
// queue has room; otherwise the datagram is silently lost, as on UDP.
func (c *Conn) WriteTo(b []byte, to netip.AddrPort) error {
	select {
	case <-c.closed:
		return net.ErrClosed
	default:
	}
	cp := append([]byte(nil), b...)
	if f := c.net.Filter; f != nil && !f(c.addr, to, cp) {
		return nil
	}
	c.net.mu.Lock()
	dst := c.net.conns[to]
	c.net.mu.Unlock()
	if dst == nil {
		return nil
	}
	select {
	case dst.ch <- datagram{b: cp, from: c.addr}:
	default:
	}
	return nil
}

// LocalAddr returns the bound address.
func (c *Conn) LocalAddr() netip.AddrPort { return c.addr }

// Close unbinds the address and makes ReadFrom return net.ErrClosed.
func (c *Conn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.net.mu.Lock()
		if c.net.conns[c.addr] == c {
			delete(c.net.conns, c.addr)
		}
		c.net.mu.Unlock()
	})
	return nil
}
