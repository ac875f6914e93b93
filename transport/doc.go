// Package transport runs a core.Node on a real UDP socket: the same
// protocol handlers the simulator drives, here driven by the wall clock and
// carried over authenticated, encrypted sessions.
//
// # One loop per node
//
// A Host owns one node. Its Run method is the node's only driver: one
// goroutine that selects over received datagrams, fired timers, commands
// (Do) and the end of its context, and handles each in turn, so nothing in
// core needs a lock. The socket reader goroutine only reads datagrams into
// pooled buffers and forwards them through a bounded channel, dropping and
// counting what does not fit; all parsing, decryption and decoding happen
// on the loop. Timers are runtime timers whose callbacks only post to the
// loop; a timer stopped on the loop never runs, even if it had already
// fired and been posted. The node's Env gets the wall clock, a ChaCha8
// source seeded from crypto/rand, and crypto/rand as entropy.
//
// # Sessions
//
// Every datagram core sends goes over a Noise session
// (Noise_XX_25519_ChaChaPoly_SHA256) with the peer at the destination
// address. Each side's handshake payload carries its Ed25519 identity key
// and that key's signature of its Noise static key; the receiver checks it
// and derives the peer ID, so the node only ever sees payloads of a
// session whose peer proved its identity (PeerID reports it). Data frames
// carry the receiver's session index and an explicit 64-bit counter used
// as the AEAD nonce, checked against a sliding replay window (RFC 6479).
//
// Send on an address without a session queues the datagram (QueueLen,
// QueueBytes) and starts a handshake; message 1 is retransmitted at
// doubling intervals and the queue is dropped, counted, if no session
// comes within HandshakeTimeout. Two nodes dialling each other at once
// settle on the handshake whose initiator has the lower static key.
// Sessions are kept alive (passive keepalives), re-handshaken when data
// goes unanswered (StaleAfter), rekeyed by age or message count, and closed
// when idle. Handshakes are bounded in all and per source IP; beyond a
// threshold, or above a rate, a new handshake must echo a cookie (a
// stateless proof that the initiator receives at its address).
//
// docs/transport.md describes the frame format byte by byte.
//
// # NAT traversal
//
// The Host is the node's core.Connectivity: QueryMapping sends STUN
// binding requests (RFC 8489, pion/stun) on the host's own socket and runs
// RFC 5780 behaviour discovery; the loop tells STUN from frames by the
// magic cookie and length (RFC 7983). MapPort maps the host's port on a
// UPnP IGD (goupnp), renews it at half the lease and deletes it at
// shutdown. AllocateRelay allocates on a TURN server (RFC 8656,
// pion/turn) from a separate socket; PermitRelay then routes every
// datagram to that peer's IP through the relay, whose reader feeds the
// loop like the socket reader. Blocking calls run on helper goroutines
// whose results are posted to the loop. Package natlab builds real NATs in
// network namespaces for tests.
//
// # Counting
//
// Every datagram the transport discards is counted by DropReason (Stats,
// Dropped) and, when it happens on the loop, observed as a core.Drop.
package transport
