package health

import (
	"net/netip"
	"time"
)

// PingSent is observed when a PING leaves.
type PingSent struct {
	To    netip.AddrPort `json:"to"`
	Nonce uint64         `json:"nonce"`
}

// Kind implements core.Event.
func (PingSent) Kind() string { return "ping.sent" }

// PingRTT is observed when a PONG answers an outstanding PING.
type PingRTT struct {
	From     netip.AddrPort `json:"from"`
	Nonce    uint64         `json:"nonce"`
	RTT      time.Duration  `json:"rtt_ns"`
	Observed netip.AddrPort `json:"observed"`
}

// Kind implements core.Event.
func (PingRTT) Kind() string { return "ping.rtt" }

// PingTimeout is observed when a PING got no PONG within the timeout.
type PingTimeout struct {
	To    netip.AddrPort `json:"to"`
	Nonce uint64         `json:"nonce"`
	After time.Duration  `json:"after_ns"`
}

// Kind implements core.Event.
func (PingTimeout) Kind() string { return "ping.timeout" }
