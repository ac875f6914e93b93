package transport

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/logging"
	"github.com/pion/turn/v5"

	"github.com/dchat/network/core"
)

// TURNServer is a relay server and the long-term credentials (RFC 8489
// §9.2) the host uses with it.
type TURNServer struct {
	Addr     netip.AddrPort
	Username string
	Password string
	// Realm may be empty: the client takes the one the server announces.
	Realm string
}

// turnLifetime is what RelayAllocation.Lifetime reports: pion/turn does
// not expose the lifetime the server granted, and refreshes the
// allocation itself; RFC 8656 §7.2's default lifetime is 10 minutes.
const turnLifetime = 10 * time.Minute

// relay is the host's TURN allocation (RFC 8656). The TURN client has its
// own UDP socket (client.Listen reads it); the relayed conn has a reader
// goroutine that forwards the peers' datagrams to the loop (natState's
// relayIn) and a writer goroutine that sends what the loop queues, so
// that pion's blocking calls (a CreatePermission transaction on the first
// write to a new IP) never block the loop.
//
// permits is loop-owned; the rest is set before the goroutines start.
type relay struct {
	server  netip.AddrPort
	client  *turn.Client
	base    net.PacketConn // the TURN client's socket
	conn    net.PacketConn // the relayed transport address
	relayed netip.AddrPort
	permits map[netip.Addr]bool
	out     chan relayWrite
	once    sync.Once
}

// relayWrite is a datagram for the writer, or (permit) a permission to
// create.
type relayWrite struct {
	to     netip.AddrPort
	b      []byte
	permit bool
}

// AllocateRelay implements core.Connectivity: a TURN allocation on server
// with the credentials configured for it (Config.TURNServers; none: an
// unauthenticated request). One allocation per host: a second call for
// the same server returns the allocation, for another server ErrBusy. It
// must be called on the loop; done runs later on the loop. Refreshing the
// allocation and its permissions is pion/turn's job; the allocation is
// released when the host stops.
func (h *Host) AllocateRelay(server netip.AddrPort, done func(core.RelayAllocation)) {
	start := time.Now()
	n := h.nat
	fail := func(err error) {
		h.after(0, func() { done(core.RelayAllocation{Took: time.Since(start), Err: err}) })
	}
	server = unmap(server)
	switch {
	case !server.IsValid() || server.Port() == 0 || server.Addr().IsUnspecified():
		fail(fmt.Errorf("%w: turn server %v", ErrBadServer, server))
		return
	case n.relay != nil && n.relay.server == server:
		r := n.relay
		h.after(0, func() { done(core.RelayAllocation{Relayed: r.relayed, Lifetime: turnLifetime}) })
		return
	case n.relay != nil || n.allocating:
		fail(fmt.Errorf("%w: relay allocation", ErrBusy))
		return
	}
	cred := TURNServer{Addr: server}
	for _, s := range h.cfg.TURNServers {
		if unmap(s.Addr) == server {
			cred = s
			break
		}
	}
	listen := netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	if ip := h.local.Addr(); !ip.IsUnspecified() {
		listen = netip.AddrPortFrom(ip, 0) // the same interface as the host
	} else if server.Addr().Is6() {
		listen = netip.AddrPortFrom(netip.IPv6Unspecified(), 0)
	}
	n.allocating = true
	timeout, logger := h.cfg.TURNTimeout, h.log
	n.goHelper(func() {
		r, err := dialRelay(n.ctx, cred, listen, timeout, logger)
		posted := n.post(func(now time.Time) {
			n.allocating = false
			if err != nil {
				h.log.Info("turn allocation failed", "server", server, "err", err)
				done(core.RelayAllocation{Took: now.Sub(start), Err: err})
				return
			}
			n.relay = r
			n.wg.Add(2)
			go h.relayReader(r)
			go h.relayWriter(r)
			h.log.Info("turn allocation", "server", server, "relayed", r.relayed)
			done(core.RelayAllocation{Relayed: r.relayed, Lifetime: turnLifetime, Took: now.Sub(start)})
		})
		if !posted && r != nil {
			r.close()
		}
	})
}

// dialRelay opens the TURN client's socket and allocates (RFC 8656 §7),
// within timeout. It runs on a helper goroutine.
func dialRelay(ctx context.Context, cred TURNServer, listen netip.AddrPort, timeout time.Duration, log *slog.Logger) (*relay, error) {
	network, family := "udp4", turn.RequestedAddressFamilyIPv4
	if cred.Addr.Addr().Is6() {
		network, family = "udp6", turn.RequestedAddressFamilyIPv6
	}
	base, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(listen))
	if err != nil {
		return nil, fmt.Errorf("transport: turn: listen: %w", err)
	}
	client, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: cred.Addr.String(),
		TURNServerAddr: cred.Addr.String(),
		Username:       cred.Username,
		Password:       cred.Password,
		Realm:          cred.Realm,
		Conn:           base,
		// The relayed address's family is the server's (RFC 6156).
		RequestedAddressFamily: family,
		LoggerFactory:          slogFactory{log.With("component", "turn")},
	})
	if err != nil {
		base.Close()
		return nil, fmt.Errorf("transport: turn: %w", err)
	}
	if err := client.Listen(); err != nil {
		client.Close()
		base.Close()
		return nil, fmt.Errorf("transport: turn: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := client.AllocateWithContext(ctx)
	if err != nil {
		client.Close()
		base.Close()
		return nil, fmt.Errorf("transport: turn: allocate on %v: %w", cred.Addr, err)
	}
	ua, ok := conn.LocalAddr().(*net.UDPAddr)
	if !ok {
		conn.Close()
		client.Close()
		base.Close()
		return nil, fmt.Errorf("transport: turn: relayed address %v is not UDP", conn.LocalAddr())
	}
	return &relay{
		server: cred.Addr, client: client, base: base, conn: conn, relayed: unmap(ua.AddrPort()),
		permits: map[netip.Addr]bool{}, out: make(chan relayWrite, 256),
	}, nil
}

// close releases the allocation (pion sends a zero-lifetime refresh) and
// the client's socket. Safe from any goroutine, once or more.
func (r *relay) close() {
	r.once.Do(func() {
		r.conn.Close()
		r.client.Close()
		r.base.Close()
	})
}

// PermitRelay implements core.Connectivity: it installs a permission for
// peer on the relay (RFC 8656 §9, per IP) and from then on routes every
// datagram to peer through the relay. Without an allocation it does
// nothing. It must be called on the loop.
func (h *Host) PermitRelay(peer netip.Addr) {
	r := h.nat.relay
	peer = peer.Unmap().WithZone("")
	if r == nil || !peer.IsValid() || r.permits[peer] {
		return
	}
	r.permits[peer] = true
	select {
	case r.out <- relayWrite{to: netip.AddrPortFrom(peer, 0), permit: true}:
	default: // the writer is backed up: the first write creates the permission
	}
}

// relayed reports whether datagrams to `to` leave through the relay.
func (h *Host) relayed(to netip.AddrPort) (*relay, bool) {
	r := h.nat.relay
	if r == nil || !r.permits[to.Addr()] {
		return nil, false
	}
	return r, true
}

// writeRelay queues a datagram for the relay writer (a copy: b is the
// loop's send buffer), dropping it when the queue is full.
func (h *Host) writeRelay(r *relay, to netip.AddrPort, b []byte) bool {
	select {
	case r.out <- relayWrite{to: to, b: clone(b)}:
		return true
	default:
		h.nat.stats.relayDropped.Add(1)
		h.stats.drops[DropWriteError].Add(1)
		return false
	}
}

// relayWriter sends the loop's datagrams through the relay and creates
// the permissions PermitRelay asked for.
func (h *Host) relayWriter(r *relay) {
	defer h.nat.wg.Done()
	for {
		select {
		case <-h.nat.ctx.Done():
			return
		case w := <-r.out:
			to := net.UDPAddrFromAddrPort(w.to)
			if w.permit {
				if err := r.client.CreatePermission(to); err != nil {
					h.log.Info("turn permission failed", "peer", w.to.Addr(), "err", err)
				}
				continue
			}
			if _, err := r.conn.WriteTo(w.b, to); err != nil {
				h.nat.stats.relayDropped.Add(1)
				h.stats.drops[DropWriteError].Add(1)
				h.log.Debug("relay write failed", "to", w.to, "err", err)
				continue
			}
			h.nat.stats.relayedOut.Add(1)
			h.stats.packetsOut.Add(1)
			h.stats.bytesOut.Add(uint64(len(w.b)))
		}
	}
}

// relayReader is the relayed conn's reader: like the socket reader, it
// only copies datagrams into pooled buffers and forwards them to the loop,
// dropping (and counting) what the inbox has no room for.
func (h *Host) relayReader(r *relay) {
	defer h.nat.wg.Done()
	big := make([]byte, h.cfg.MaxPacket+1)
	for {
		n, from, err := r.conn.ReadFrom(big)
		if err != nil {
			select {
			case <-h.nat.ctx.Done():
				return
			default:
			}
			if isClosed(err) {
				return
			}
			h.stats.drops[DropReadError].Add(1)
			time.Sleep(time.Millisecond) // a failing conn must not spin
			continue
		}
		h.stats.packetsIn.Add(1)
		h.stats.bytesIn.Add(uint64(n))
		ua, ok := from.(*net.UDPAddr)
		if n > h.cfg.MaxPacket || !ok {
			h.stats.drops[DropOversized].Add(1)
			continue
		}
		buf := h.pool.get(n)
		copy(*buf, big[:n])
		select {
		case h.nat.relayIn <- inbound{buf: buf, n: n, from: ua.AddrPort()}:
		default:
			h.pool.put(buf)
			h.stats.drops[DropInboxFull].Add(1)
		}
	}
}

// slogFactory makes pion's loggers write to the host's slog.Logger (pion's
// default logger writes to standard output).
type slogFactory struct{ log *slog.Logger }

func (f slogFactory) NewLogger(scope string) logging.LeveledLogger {
	return slogLogger{f.log.With("scope", scope)}
}

// slogLogger is pion's LeveledLogger on slog: trace and debug at debug
// level, info at debug level too (pion's info is chatty), warnings and
// errors at warn.
type slogLogger struct{ log *slog.Logger }

func (l slogLogger) Trace(msg string)                  { l.log.Debug(msg) }
func (l slogLogger) Tracef(format string, args ...any) { l.log.Debug(fmt.Sprintf(format, args...)) }
func (l slogLogger) Debug(msg string)                  { l.log.Debug(msg) }
func (l slogLogger) Debugf(format string, args ...any) { l.log.Debug(fmt.Sprintf(format, args...)) }
func (l slogLogger) Info(msg string)                   { l.log.Debug(msg) }
func (l slogLogger) Infof(format string, args ...any)  { l.log.Debug(fmt.Sprintf(format, args...)) }
func (l slogLogger) Warn(msg string)                   { l.log.Warn(msg) }
func (l slogLogger) Warnf(format string, args ...any)  { l.log.Warn(fmt.Sprintf(format, args...)) }
func (l slogLogger) Error(msg string)                  { l.log.Warn(msg) }
func (l slogLogger) Errorf(format string, args ...any) { l.log.Warn(fmt.Sprintf(format, args...)) }
