// Package dht is dchat's Kademlia distributed hash table (Maymounkov and
// Mazières, "Kademlia: A Peer-to-peer Information System Based on the XOR
// Metric", IPTPS 2002), as a sans-IO component of a core.Node: packets,
// timers and local commands (Bootstrap, Lookup, FindValue, Put) come in as
// calls; everything goes out through the node's environment.
//
// # Keys and the routing table
//
// A peer's key is SHA-256 of its binary peer ID; distance is XOR (§2.1).
// The Table has 256 buckets, bucket i holding up to k (20) peers whose key
// shares exactly i leading bits with the own key, least recently seen
// first (§2.2). Only peers that answered a request of ours, at the address
// the request went to, enter it: a peer that sends us a valid request is
// pinged and enters when it answers; peers merely named in a NODES list
// never do. (Without an authenticated transport that proves the address,
// not the identity; Noise sessions in the real node bind the two.)
//
// A full bucket pings its least recently seen entry before taking a
// newcomer (§2.2, §4.1): if the entry answers, it moves to the tail and the
// newcomer waits in the bucket's replacement cache (Replacements entries,
// most recent last); if not, it is evicted and the most recent replacement
// promoted. Entries that leave MaxFailures consecutive requests unanswered
// are evicted the same way. Diversity limits (S/Kademlia, Baumgart and Mies
// 2007; IPFS go-libp2p-kbucket's peerdiversity) cap the peers from one IPv4
// /24 (IPv6 /48) at MaxPerPrefixBucket (2) per bucket and MaxPerPrefixTable
// (10) in the table, against eclipse and routing-table poisoning; the
// DiversityLimits knob turns them off for loopback clusters.
//
// # Messages
//
// PING/PONG (liveness), FIND_NODE -> NODES (up to k entries: public key,
// capability flags, address; the responder's closest known peers to the
// target, closest first), FIND_VALUE -> VALUE or NODES, STORE ->
// STORE_ACK (wire kinds 0x10-0x17, core/wire/dht.go). Every message starts
// with a request ID (drawn from the node's seeded stream), the sender's
// public key and its capabilities; responses echo the ID. A response is
// accepted only if its ID is outstanding, it comes from the address the
// request went to, and its kind answers the request; otherwise it is dropped
// as "unsolicited". Other drops: "malformed" (does not decode), "oversized"
// (NODES longer than k), "invalid-peer" (a zero ID, our own ID, a duplicated
// ID or an unusable address in NODES; a responder that is not the peer
// asked; a request with a zero or our own ID), "wrong-distance" (a NODES
// answer to a lookup not ordered closest-first to its target), "bad-record" (bad signature,
// expired, expiry beyond the TTL, wrong key). A lying response fails the
// request as a timeout would. Timeouts are not drops: Stats counts them.
//
// # Lookups
//
// Iterative lookups follow §2.3: start from the k closest peers of the
// table, keep alpha (3) requests in flight to the closest candidates not
// yet asked, and merge every answer's peers into the candidate list, which
// is ordered by XOR distance to the target (ties by address). The stop
// rule: the lookup ends when the k closest candidates not known to have
// failed have all answered (Converge sets a smaller window), or, for
// FIND_VALUE, as soon as a valid record arrives. It returns the k closest
// peers that answered. A request times out after clamp(3 x RTT, 100 ms,
// RequestTimeout) for a peer whose RTT the table knows, else after
// FirstContactTimeout (1 s); a lookup never outlives LookupTimeout (10 s),
// which ends it failed. Hops count the longest chain of answers that led to
// the result (a table peer's answer is hop 1); Messages the requests sent.
// Callbacks always run from a later event, never within the call.
//
// # Bootstrap and refresh
//
// Bootstrap pings the given peers, looks up the own key, then refreshes
// the buckets farther than the closest neighbour that are not full (at
// most BootstrapRefresh) with lookups of random keys in their ranges, and
// observes BootstrapDone. When no bootstrap peer answers, the bootstrap
// is tried again after BootstrapRetry (2 s), doubling up to
// BootstrapRetryMax (1 min), each wait jittered by ±50%; a node whose
// table later loses its last peer (TableEmpty) joins again the same way.
// Every MaintenanceInterval, buckets (up to the
// closest non-empty one) that no lookup entered for RefreshInterval (1 h)
// are refreshed the same way (§2.4), at most MaxRefreshPerTick per tick.
//
// # Records
//
// Put signs a Record (key, publisher, expiry, value; Ed25519 over a domain
// separator and those fields) valid for RecordTTL (24 h), keeps it, looks
// up the key and STOREs it on the k closest peers; the publisher republishes
// when less than half the TTL is left. Holders verify before storing and
// serve only unexpired records. One record per key: the first publisher
// keeps a key until its record expires (a key should be derived from its
// publisher where squatting matters).
//
// # Peers for gossip
//
// GossipPeers implements gossip.PeerSource from the table: round-robin over
// buckets from the closest down, with the table's RTT (an EWMA) and
// reputation as the peer's score.
//
// # Determinism
//
// No map iteration decides anything: candidates and table entries are
// ordered slices, lookups are finished in start order on Stop, randomness
// comes only from the node's seeded stream and time only from the now
// passed in or the node's clock inside timer callbacks. The same inputs give
// the same events.
//
// Concurrency: nothing here is safe for concurrent use; a DHT runs on its
// node's driver.
package dht
