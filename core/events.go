package core

import "net/netip"

// Drop is observed whenever a node discards input: a malformed, unknown,
// unsolicited, forged, replayed, rate-limited or expired message.
type Drop struct {
	From   netip.AddrPort `json:"from"`
	Msg    string         `json:"msg"`
	Reason string         `json:"reason"`
}

// Kind implements Event.
func (Drop) Kind() string { return "drop" }
