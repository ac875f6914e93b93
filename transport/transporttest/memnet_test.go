package transporttest_test

import (
	"net/netip"
	"testing"

	"github.com/dchat/network/transport"
	"github.com/dchat/network/transport/transporttest"
)

// Conn must satisfy the transport's packet interface.
var _ transport.PacketConn = (*transporttest.Conn)(nil)

func TestDeliverAndTruncate(t *testing.T) {
	n := transporttest.NewNet()
	a, err := n.Listen(netip.MustParseAddrPort("10.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := n.Listen(netip.MustParseAddrPort("10.0.0.2:7"))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.WriteTo([]byte("hello"), b.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 3)
	k, from, err := b.ReadFrom(buf)
	if err != nil || k != 3 || string(buf) != "hel" || from != a.LocalAddr() {
		t.Fatalf("got %d %q from %v, %v", k, buf[:k], from, err)
	}
	b.Close()
	if _, _, err := b.ReadFrom(buf); err == nil {
		t.Fatal("read after close succeeded")
	}
}
