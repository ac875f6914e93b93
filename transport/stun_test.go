package transport

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/stun/v4"

	"github.com/dchat/network/core"
)

// TestIsSTUN: a STUN response is told apart from every frame type, and
// near misses are not STUN.
func TestIsSTUN(t *testing.T) {
	resp, err := stun.Build(stun.TransactionID, stun.BindingSuccess,
		&stun.XORMappedAddress{IP: net.IPv4(198, 18, 0, 2), Port: 4000}, stun.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	if !isSTUN(resp.Raw) {
		t.Fatalf("binding response % x not recognised", resp.Raw[:4])
	}
	req, _ := stun.Build(stun.TransactionID, stun.BindingRequest)
	if !isSTUN(req.Raw) {
		t.Fatal("binding request not recognised")
	}
	var cookie [cookieSize]byte
	// Frames whose index bytes happen to hold the magic cookie are still
	// frames: the reserved bytes make the STUN length 0.
	magicIdx := uint32(stunMagicCookie)
	frames := map[string][]byte{
		"init":   appendInit(nil, magicIdx, &cookie, make([]byte, msg1Len)),
		"resp":   appendResp(nil, magicIdx, 7, make([]byte, msg2Len)),
		"finish": appendFinish(nil, magicIdx, make([]byte, msg3Len)),
		"data":   append(appendDataHeader(nil, magicIdx, 1), make([]byte, tagLen+4)...),
		"cookie": appendCookie(nil, magicIdx, &cookie),
	}
	for name, f := range frames {
		if isSTUN(f) {
			t.Errorf("%s frame taken for STUN", name)
		}
		if _, err := parseFrame(f); err != nil {
			t.Errorf("%s frame: %v", name, err)
		}
	}
	if _, err := parseFrame(resp.Raw); err == nil {
		t.Error("a STUN response parses as a frame")
	}
	bad := func(name string, mut func([]byte) []byte) {
		b := mut(clone(resp.Raw))
		if isSTUN(b) {
			t.Errorf("%s: taken for STUN", name)
		}
	}
	bad("top bits", func(b []byte) []byte { b[0] |= 0x40; return b })
	bad("cookie", func(b []byte) []byte { b[5] ^= 1; return b })
	bad("length", func(b []byte) []byte { return b[:len(b)-4] })
	bad("odd length", func(b []byte) []byte { binary.BigEndian.PutUint16(b[2:4], 5); return append(b[:20], 1, 2, 3, 4, 5) })
	bad("short", func(b []byte) []byte { return b[:19] })
}

// fakeSTUN is an RFC 5780 server of our own on two loopback addresses and
// two ports (127.0.0.1 and 127.0.0.2, ports P and P'), answering from the
// socket a CHANGE-REQUEST names. It emulates a NAT in front of the client
// by what it reports and what it refuses to answer.
type fakeSTUN struct {
	t     *testing.T
	socks [2][2]*net.UDPConn // [ip][port]
	// mapped, if set, replaces the reported mapped address; it gets the
	// index of the answering socket (0 primary, 1 other port, 2 other IP,
	// 3 both).
	mapped func(from netip.AddrPort, ip, port int) netip.AddrPort
	// answerChange reports whether a change request with these flags is
	// answered (a NAT's filter would drop it otherwise).
	answerChange func(flags byte) bool
	noOther      bool
	silent       atomic.Bool
	requests     atomic.Int64
	wg           sync.WaitGroup
}

// newFakeSTUN starts the server, configured by set (may be nil) before it
// serves.
func newFakeSTUN(t *testing.T, set func(*fakeSTUN)) *fakeSTUN {
	t.Helper()
	f := &fakeSTUN{t: t}
	if set != nil {
		set(f)
	}
	ips := [2]netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")}
	for try := 0; ; try++ {
		ok := true
		var ports [2]uint16
		for pi := range 2 {
			for ii := range 2 {
				c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ips[ii], ports[pi])))
				if err != nil {
					ok = false
					break
				}
				f.socks[ii][pi] = c
				ports[pi] = c.LocalAddr().(*net.UDPAddr).AddrPort().Port()
			}
			if !ok {
				break
			}
		}
		if ok {
			break
		}
		f.closeAll()
		f.socks = [2][2]*net.UDPConn{}
		if try == 20 {
			t.Fatal("no pair of free ports on 127.0.0.1 and 127.0.0.2")
		}
	}
	for ii := range 2 {
		for pi := range 2 {
			f.wg.Add(1)
			go f.serve(ii, pi)
		}
	}
	t.Cleanup(func() { f.closeAll(); f.wg.Wait() })
	return f
}

func (f *fakeSTUN) closeAll() {
	for _, row := range f.socks {
		for _, c := range row {
			if c != nil {
				c.Close()
			}
		}
	}
}

func (f *fakeSTUN) addr(ip, port int) netip.AddrPort {
	return f.socks[ip][port].LocalAddr().(*net.UDPAddr).AddrPort()
}

func (f *fakeSTUN) serve(ip, port int) {
	defer f.wg.Done()
	c := f.socks[ip][port]
	buf := make([]byte, 1500)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		f.requests.Add(1)
		if f.silent.Load() {
			continue
		}
		m := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
		if m.Decode() != nil || m.Type != stun.BindingRequest {
			continue
		}
		var flags byte
		if v, err := m.Get(stun.AttrChangeRequest); err == nil && len(v) == 4 {
			flags = v[3]
		}
		ri, rp := ip, port
		if flags&changeIP != 0 {
			ri = 1 - ri
		}
		if flags&changePort != 0 {
			rp = 1 - rp
		}
		if flags != 0 && (f.answerChange == nil || !f.answerChange(flags)) {
			continue
		}
		mapped := from
		if f.mapped != nil {
			mapped = f.mapped(from, ri, rp)
		}
		setters := []stun.Setter{stun.NewTransactionIDSetter(m.TransactionID), stun.BindingSuccess,
			&stun.XORMappedAddress{IP: mapped.Addr().AsSlice(), Port: int(mapped.Port())}}
		if !f.noOther {
			o := f.addr(1, 1)
			setters = append(setters, &stun.OtherAddress{IP: o.Addr().AsSlice(), Port: int(o.Port())})
		}
		resp := stun.MustBuild(append(setters, stun.Fingerprint)...)
		f.socks[ri][rp].WriteToUDPAddrPort(resp.Raw, from)
	}
}

// query runs QueryMapping on th's loop and waits for the result.
func query(t *testing.T, th *testHost, server netip.AddrPort, discover bool) core.MappingResult {
	t.Helper()
	ch := make(chan core.MappingResult, 1)
	th.do(func(time.Time) {
		th.Env().Connectivity.QueryMapping(server, discover, func(r core.MappingResult) { ch <- r })
	})
	select {
	case r := <-ch:
		return r
	case <-time.After(wait):
		t.Fatal("no mapping result")
		return core.MappingResult{}
	}
}

func stunConfig(listen netip.AddrPort) Config {
	c := fastConfig(listen)
	c.STUNRTO = 50 * time.Millisecond
	c.STUNTimeout = 400 * time.Millisecond
	c.STUNFilterTimeout = 200 * time.Millisecond
	return c
}

// TestDiscovery classifies each emulated NAT behaviour against the fake
// RFC 5780 server on loopback.
func TestDiscovery(t *testing.T) {
	fixed := netip.MustParseAddrPort("192.0.2.7:4000") // reported only, never sent to
	cone := func(netip.AddrPort, int, int) netip.AddrPort { return fixed }
	cases := []struct {
		name      string
		mapped    func(netip.AddrPort, int, int) netip.AddrPort
		answer    func(byte) bool
		mapping   core.Behavior
		filtering core.Behavior
		want      core.NATType
	}{
		{"open", nil, func(byte) bool { return true }, core.BehaviorEndpointIndependent, core.BehaviorEndpointIndependent, core.NATOpen},
		{"full-cone", cone, func(byte) bool { return true }, core.BehaviorEndpointIndependent, core.BehaviorEndpointIndependent, core.NATFullCone},
		{"restricted-cone", cone, func(f byte) bool { return f == changePort }, core.BehaviorEndpointIndependent, core.BehaviorAddressDependent, core.NATRestrictedCone},
		{"port-restricted", cone, nil, core.BehaviorEndpointIndependent, core.BehaviorAddressPortDependent, core.NATPortRestricted},
		{"address-dependent-mapping", func(_ netip.AddrPort, ip, _ int) netip.AddrPort {
			return netip.AddrPortFrom(fixed.Addr(), fixed.Port()+uint16(ip))
		}, nil, core.BehaviorAddressDependent, core.BehaviorAddressPortDependent, core.NATSymmetric},
		{"symmetric", func(_ netip.AddrPort, ip, port int) netip.AddrPort {
			return netip.AddrPortFrom(fixed.Addr(), fixed.Port()+uint16(2*ip+port))
		}, nil, core.BehaviorAddressPortDependent, core.BehaviorAddressPortDependent, core.NATSymmetric},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSTUN(t, func(f *fakeSTUN) { f.mapped, f.answerChange = tc.mapped, tc.answer })
			th := startHost(t, stunConfig(loopback(3)), 1)
			r := query(t, th, f.addr(0, 0), true)
			if r.Err != nil {
				t.Fatalf("err %v", r.Err)
			}
			if r.Mapping != tc.mapping || r.Filtering != tc.filtering || r.Type != tc.want {
				t.Errorf("got mapping %v filtering %v type %v, want %v %v %v", r.Mapping, r.Filtering, r.Type, tc.mapping, tc.filtering, tc.want)
			}
			wantPublic := th.LocalAddr()
			if tc.mapped != nil {
				wantPublic = tc.mapped(th.LocalAddr(), 0, 0)
			}
			if r.Public != wantPublic {
				t.Errorf("public %v, want %v", r.Public, wantPublic)
			}
			if r.Took <= 0 || r.Took > time.Second {
				t.Errorf("took %v", r.Took)
			}
			t.Logf("%s: %v in %v", tc.name, r.Type, r.Took)
		})
	}
}

// TestQueryMappingPlain: without discover, one round trip and the public
// address only.
func TestQueryMappingPlain(t *testing.T) {
	f := newFakeSTUN(t, func(f *fakeSTUN) { f.noOther = true })
	th := startHost(t, stunConfig(loopback(3)), 1)
	r := query(t, th, f.addr(0, 0), false)
	if r.Err != nil || r.Public != th.LocalAddr() || r.Type != core.NATUnknown {
		t.Fatalf("got %+v", r)
	}
	// Discovery against a server without OTHER-ADDRESS: the public
	// address, and ErrNoOtherAddress.
	r = query(t, th, f.addr(0, 0), true)
	if !errors.Is(r.Err, ErrNoOtherAddress) || r.Public != th.LocalAddr() {
		t.Fatalf("got %+v", r)
	}
	if s := th.NATStats(); s.STUNSent != 2 || s.STUNAnswered != 2 {
		t.Errorf("stats %+v", s)
	}
}

// TestQueryMappingTimeout: a silent server is retried per RFC 8489 and the
// query fails at STUNTimeout; a bad server address fails later, not in
// the call.
func TestQueryMappingTimeout(t *testing.T) {
	f := newFakeSTUN(t, func(f *fakeSTUN) { f.silent.Store(true) })
	th := startHost(t, stunConfig(loopback(3)), 1)
	r := query(t, th, f.addr(0, 0), true)
	if !errors.Is(r.Err, ErrSTUNTimeout) {
		t.Fatalf("got %+v", r)
	}
	if r.Took < 400*time.Millisecond || r.Took > 700*time.Millisecond {
		t.Errorf("took %v, want about 400ms", r.Took)
	}
	// Sent at 0, 50 ms, 150 ms, 350 ms (the next, 750 ms, is past 400 ms).
	if got := f.requests.Load(); got != 4 {
		t.Errorf("server saw %d requests, want 4", got)
	}
	if s := th.NATStats(); s.STUNRetransmits != 3 || s.STUNTimeouts != 1 {
		t.Errorf("stats %+v", s)
	}
	called := false
	ch := make(chan core.MappingResult, 1)
	th.do(func(time.Time) {
		th.QueryMapping(netip.AddrPort{}, true, func(r core.MappingResult) { called = true; ch <- r })
		if called {
			t.Error("done ran inside the call")
		}
	})
	if r := <-ch; !errors.Is(r.Err, ErrBadServer) {
		t.Errorf("bad server: %+v", r)
	}
}

// TestSTUNDrops: STUN-looking garbage and responses to unknown
// transactions are dropped and counted; a response with the right
// transaction ID completes the query even after a wrong one.
func TestSTUNDrops(t *testing.T) {
	th := startHost(t, stunConfig(loopback(3)), 1)
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(loopback(4)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	to := net.UDPAddrFromAddrPort(th.LocalAddr())
	server := c.LocalAddr().(*net.UDPAddr).AddrPort()

	// An unknown transaction.
	unknown := stun.MustBuild(stun.TransactionID, stun.BindingSuccess, &stun.XORMappedAddress{IP: net.IPv4(1, 2, 3, 4), Port: 5})
	c.WriteToUDP(unknown.Raw, to)
	// Garbage: a header whose length holds an attribute that overruns.
	garbage := make([]byte, 24)
	binary.BigEndian.PutUint16(garbage[0:2], 0x0101)
	binary.BigEndian.PutUint16(garbage[2:4], 4)
	binary.BigEndian.PutUint32(garbage[4:8], stunMagicCookie)
	binary.BigEndian.PutUint16(garbage[20:22], 0x0020)
	binary.BigEndian.PutUint16(garbage[22:24], 200)
	c.WriteToUDP(garbage, to)
	waitDrops(t, th, DropSTUNUnknown, 1)
	waitDrops(t, th, DropSTUNMalformed, 1)

	// A query to our socket: answer first with a wrong ID, then right.
	ch := make(chan core.MappingResult, 1)
	th.do(func(time.Time) {
		th.QueryMapping(server, false, func(r core.MappingResult) { ch <- r })
	})
	buf := make([]byte, 1500)
	c.SetReadDeadline(time.Now().Add(wait))
	n, from, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatal(err)
	}
	req := &stun.Message{Raw: buf[:n]}
	if err := req.Decode(); err != nil || req.Type != stun.BindingRequest {
		t.Fatalf("request: %v %v", err, req.Type)
	}
	wrong := req.TransactionID
	wrong[0] ^= 0xff
	pub := &stun.XORMappedAddress{IP: net.IPv4(192, 0, 2, 9), Port: 999}
	c.WriteToUDPAddrPort(stun.MustBuild(stun.NewTransactionIDSetter(wrong), stun.BindingSuccess, pub).Raw, from)
	waitDrops(t, th, DropSTUNUnknown, 2)
	c.WriteToUDPAddrPort(stun.MustBuild(stun.NewTransactionIDSetter(req.TransactionID), stun.BindingSuccess, pub).Raw, from)
	select {
	case r := <-ch:
		if r.Err != nil || r.Public != netip.MustParseAddrPort("192.0.2.9:999") {
			t.Fatalf("got %+v", r)
		}
	case <-time.After(wait):
		t.Fatal("no result")
	}
	// The same answer again: the transaction is over.
	c.WriteToUDPAddrPort(stun.MustBuild(stun.NewTransactionIDSetter(req.TransactionID), stun.BindingSuccess, pub).Raw, from)
	waitDrops(t, th, DropSTUNUnknown, 3)
	if th.Dropped(DropMalformed) != 0 {
		t.Errorf("STUN counted as malformed frames: %d", th.Dropped(DropMalformed))
	}
}

func waitDrops(t *testing.T, th *testHost, r DropReason, want uint64) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for th.Dropped(r) < want {
		if time.Now().After(deadline) {
			t.Fatalf("%v drops: %d, want %d", r, th.Dropped(r), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
