// Package connmgr is the connection manager (the plan's ConnectionManager):
// it opens, keeps and closes sessions with peers, monitors their health,
// keeps their number between Target and MaxConnections by pruning, redials
// important peers with backoff, and keeps metrics per session. It is a
// sans-IO component of a core.Node: packets, timers and local commands come
// in as calls, everything goes out through the node's environment.
//
// # Sessions
//
// UDP has no connections, so a connection here is a session both ends hold
// explicitly (docs/connmgr.md has the diagrams):
//
//	dialer                                   acceptor
//	CONNECT(nonce, dialer key, target key) ->
//	                                      <- ACCEPT(nonce, acceptor key)
//	                                         or REJECT(nonce, reason)
//	CONN-PING(nonce, seq) <-> CONN-PONG(nonce, seq)   (both ways)
//	CLOSE(nonce, reason)  ->  (either side)
//
// The nonce is the dialer's random, non-zero name for the session; every
// frame after CONNECT carries it, so a frame of an older session with the
// same peer cannot touch a newer one. The acceptor decides at once (it keeps
// no state for a peer it refuses, so a flood of CONNECTs costs it nothing)
// and is connected when it sends ACCEPT; the dialer is when ACCEPT arrives.
// CONNECT is retransmitted after DialRetransmit, doubling, until
// DialTimeout; the acceptor answers a repeated CONNECT of a session it holds
// with ACCEPT again. A dialer that gives up sends CLOSE, so a half-open
// session does not linger on the other side.
//
// Sessions are symmetric: if A holds one with B, B holds one with A, once
// frames in flight have landed. Every way a session ends sends CLOSE (a
// trim, the idle timeout, an unhealthy verdict, Disconnect, Stop); the peer
// then drops its half. A CLOSE can be lost, so a probe of a session the
// receiver does not hold is answered with CLOSE "unknown-session", and the
// prober drops its half too (reason "reset"): any disagreement ends within
// one probe interval. One session per address and one per peer: a CONNECT
// from a peer already connected (it restarted, or moved) replaces the old
// session on both sides. When two peers dial each other at once, the dial
// of the peer with the lower key wins on both sides.
//
// Identities are the Ed25519 keys the frames claim; nothing here proves
// them. The Noise session that will sit beneath (DESIGN.md, "The real
// node") authenticates them; this package's logic does not depend on it.
//
// States: Connecting (our dial, waiting), Connected, Disconnecting (we sent
// CLOSE and absorb the peer's late frames for Linger), and the terminal
// Closed and Failed reported to OnDisconnected with a reason (timeout,
// rejected, unhealthy, idle, pruned, closed-by-peer, reset, local,
// shutdown, replaced, wrong-peer, duplicate).
//
// # Limits
//
// MaxConnections is both the high water mark and a hard cap on sessions,
// connected and being dialled together (a dial reserves its slot). An
// inbound CONNECT at the cap makes the node trim down to Target (the
// newcomer counted), provided the trim pause (TrimPause) has passed and
// some session may go; otherwise it is refused with REJECT "full". So
// peers can never push the count above MaxConnections, not even for a
// moment. With RejectWhenFull set, a CONNECT at the cap is always refused.
// Local dials at the cap (Connect, redials) may make room the same way.
// Sessions younger than GracePeriod and protected peers are never pruned,
// so a trim may stop above Target. SetLimits below the current count trims
// at once (or at the end of the pause); only if it sets the cap below the
// sessions that may not be pruned does the count stay above it, and the
// trim is retried every TrimPause until it is not.
//
// # Pruning
//
// A Pruner ranks sessions by its Strategy: LeastRecentlyUsed (longest
// without application traffic), LowestReputation, HighestLatency (SRTT,
// unknown counting as highest) or Combined (a weighted sum of the four
// normalised terms, see Weights). Equal scores prune inbound sessions
// before outbound ones, then by peer ID bytes. Protected peers
// (Protect(peer, tag): "bootstrap", "relay", "gossip-mesh",
// "routing-table", or KeepAlive) and young sessions are skipped. A decision
// at 50 sessions takes a few microseconds and does not allocate.
//
// # Health
//
// Each side probes each session every PingInterval with CONN-PING and waits
// PingTimeout for the CONN-PONG. Answers feed an RFC 6298 estimator (SRTT,
// RTTVAR, min, last; the handshake's round trip counts when its CONNECT was
// not retransmitted, per Karn) and a loss window over the last LossWindow
// probes. After a miss the next probe goes at once, and so does the first
// probe of a session without an RTT sample (every inbound one) when
// Health.EarlyProbe is set (the default), so both ends know a session's
// RTT within a round trip of its handshake. A HealthMonitor
// classifies the session: Unhealthy after MaxMissed misses in a row, or
// loss at UnhealthyLoss, or SRTT at UnhealthyRTT; Degraded after one miss,
// loss at DegradedLoss or SRTT at DegradedRTT; Healthy otherwise. An
// unhealthy session is closed (reason "unhealthy"). With the defaults a
// silent peer is closed about PingInterval + 3 x PingTimeout after its last
// answer. The probes are this package's own frames, not core/health's
// PING/PONG, because health.Pinger reports results only as events.
//
// Application traffic is reported by the node through Touch (received) and
// Sent, or the Traffic hook (core.Node.SetTrafficHook): it counts in the
// session's bytes and messages and sets LastActive. Traffic, called for
// every datagram, batches what it records for IPv4 peers and applies the
// batch before anything reads or changes it (traffic.go), so that it
// costs a small append per datagram. A session without application traffic either way
// for IdleTimeout is closed ("idle"), unless the peer is protected. The
// manager's own frames count in the metrics and LastSeen, not in
// LastActive: probes keep a session alive, not busy.
//
// # Reconnection and candidates
//
// A protected peer whose session ends for a reason other than a local
// decision (Disconnect, Stop, replacement) or whose dial fails is redialled
// after Reconnect.Delay(k): Base x 2^k capped at Max, with jitter drawn from
// the node's random source; k resets when a session is established. On
// Start, protected peers with a known address are dialled at once.
// AddCandidates queues peers (e.g. from the DHT) that are dialled while the
// node holds fewer than Target sessions, at most MaxDialing at a time; a
// peer whose dial failed cools down for CandidateCooldown. A Feed keeps
// the queue supplied from a CandidateSource (StaticCandidates, a
// configured list; DHTCandidates, the routing table) whenever the node is
// below Target with an empty queue.
//
// # Bad input
//
// Malformed frames, frames for sessions the node does not hold, wrong
// nonces, ACCEPT or REJECT without a dial, CONNECTs claiming the node's own
// key, and PONGs for no outstanding probe are dropped with a reason
// (observed as core.Drop and counted in Stats.Drops), never a panic. State
// is bounded: no entry exists for a peer before it is accepted, dials are
// capped by MaxDialing, lingering sessions by MaxConnections, the
// candidate queue by MaxCandidates and the peer book (reputations, tags,
// backoff) by MaxPeers.
//
// # Memory
//
// A node holds up to MaxConnections sessions and a book entry per peer
// it dialled, so both records are packed: a session is 288 bytes (times
// as ns offsets from the manager's epoch, the end's reason and detail as
// codes, the health estimator without a copy of the configuration), a
// book entry 80 bytes (its key is the peer ID; tags and redial state sit
// in an extension that exists only while one of them is set). The
// candidate queue is sized to each offer and released when drained, and
// GossipPeers' buffer follows the session count rather than its peak.
//
// # Determinism
//
// Decisions never depend on map iteration: sessions are kept in a slice
// in creation order, the connected ones also in a slice ordered by peer
// ID (GossipPeers), and sorted by peer ID where else order is visible
// (Connections, Start's redials); randomness (nonces, jitter)
// comes from the node's random source and time from its clock only.
//
// Concurrency: not safe for concurrent use; a Manager runs on its node's
// driver.
package connmgr
