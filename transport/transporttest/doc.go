// Package transporttest has helpers for testing the transport without
// sockets: an in-memory datagram network whose connections implement
// transport.PacketConn.
//
// Concurrency: Net and Conn are safe for concurrent use.
package transporttest
