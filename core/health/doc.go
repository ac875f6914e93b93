// Package health implements liveness checks: PING/PONG with round-trip time
// measurement. It is the first piece of the connection manager's health
// monitor; the connection manager drives it with periodic pings and reads
// RTT and loss from its events.
//
// A Pinger answers every valid PING with a PONG that echoes the nonce and
// tells the pinger the address its ping came from. It sends PINGs on command,
// matches PONGs by nonce, and reports the RTT measured on the node's own
// clock, or a timeout. A PONG that matches no outstanding PING (unknown
// nonce, wrong responder, late after its timeout) is dropped as unsolicited.
//
// Concurrency: not safe for concurrent use; it runs on its node's driver.
package health
