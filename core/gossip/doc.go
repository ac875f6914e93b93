// Package gossip spreads signed messages to every node: eager push to a
// few peers, lazy announcements (IHAVE) to others and pull repair (IWANT),
// anti-entropy repair by digest exchange for what is older (a healed
// partition), with exact deduplication, replay protection and flood
// control. It is a
// sans-IO component of a core.Node: packets, timers and the Publish command
// come in as calls, everything goes out through the node's environment.
//
// # Messages
//
// A message is published by its sender with a per-sender sequence number
// and a timestamp, and carried in one datagram (wire.Gossip):
//
//	id (32) | ttl (1) | hops (1) | sender key (32) | seq (8) | time (8, Unix ns) |
//	signature (64) | payload length (uvarint) | payload
//
// The ID is SHA-256 over a domain separator, the sender's Ed25519 public
// key, the sequence number, the timestamp and the payload: everything but
// TTL, hop count and signature, which change or follow. The signature is
// Ed25519 (RFC 8032) over a second domain separator and the ID. The ID
// travels in the datagram so a receiver can deduplicate before hashing; on
// first receipt it is recomputed. TTL starts at MaxTTL (at most 32) and
// drops by one per hop; a copy arriving with TTL 1 is delivered and goes no
// further. Hops counts the hops travelled (1 from the sender) and is used
// only for the fanout below and for the Delivered event.
//
// IHAVE (wire.IHave) lists IDs a node holds; IWANT (wire.IWant) asks for
// IDs, and the holder answers with one Gossip datagram per message, as in
// GossipSub v1.1 (libp2p specs, pubsub/gossipsub/gossipsub-v1.1.md).
//
// # Receiving
//
// A Gossip datagram goes through these steps, in this order; the first
// that fails drops it with the reason in brackets (observed as core.Drop):
//
//  1. decode, every length bounded first [malformed];
//  2. dedup by the carried ID: a known ID is a duplicate (a Duplicate event,
//     not a drop) and costs no token and no hashing;
//  3. flood control, for new IDs only: the sending peer's token bucket
//     (PeerRate, PeerBurst), then the global one (GlobalRate) [rate-limited];
//  4. TTL 0, TTL above MaxTTL or hop count 0 [ttl]; payload over MaxPayload
//     [oversized];
//  5. timestamp older than CacheTTL [expired] or more than MaxClockSkew
//     ahead [future];
//  6. ID recomputed and compared, signature verified through the Verifier
//     [forged];
//  7. the sender's sequence window: a new ID whose (sender, seq) was already
//     accepted, or below the 64-number window, is a replay or an
//     equivocation [replayed].
//
// So dedup by ID comes first and replay checks apply to new IDs only: an
// exact copy is a duplicate, the same sequence number under another ID a
// replay. Only a message that passes every step is marked seen: forged
// copies carrying a genuine ID cannot poison the cache. IHAVE and IWANT
// lists over MaxIHaveLength or MaxIWantLength are dropped [oversized]; an
// IWANT for nothing held [unsolicited], or over the requester's serving rate
// [rate-limited]. Nothing a peer sends can make the component panic or hold
// unbounded state: every table is an LRU or bounded by count, bytes or age.
//
// # Forwarding
//
// Pure push to Fanout random peers on first receipt delivers in about
// log(N) hops but sends Fanout copies per node, so each node receives about
// Fanout-1 duplicates (5 for fanout 6). Copies per node equal pushes per
// node; what matters is where the pushes are spent. Early in an epidemic
// almost every push reaches a node that lacks the message; once most nodes
// have it, almost none does. The forwarding rule follows that:
//
//   - A node whose copy travelled fewer than EagerHops hops (the publisher
//     counts as 0) pushes the full message to Fanout peers; further out it
//     pushes to LateFanout peers. EagerHopsFor(n, fanout) suggests
//     round(log n / log fanout): 4 at 1,000 nodes and fanout 6, the default.
//   - Up to LazyFanout further peers get an immediate IHAVE, the lazy half
//     of Plumtree's eager/lazy split (Leitão, Pereira, Rodrigues, "Epidemic
//     Broadcast Trees", SRDS 2007) without its spanning tree, which would
//     route every sender's messages through one tree and stretch paths. A
//     node that gets an IHAVE for a missing ID waits IWantDelay for a pushed
//     copy, then asks the announcer with an IWANT; one outstanding IWANT per
//     ID, retried after IWantTimeout when the ID is announced again.
//   - An IHAVE or a copy from a peer also marks it as holding the message:
//     nothing is pushed or announced to it, nor sent back to the peer the
//     message came from or to its original sender (Peer.ID).
//   - Of each push, the share PreferShare of peers are the best by
//     preference (non-negative score, then lowest RTT, then highest score);
//     the rest, and the lazy peers, are drawn at random from the node's
//     seeded stream, for coverage.
//
// Every HeartbeatInterval (default 1 s, first at a random offset) a node
// also sends one IHAVE to HeartbeatPeers random peers, listing the newest
// IDs of its HistoryWindow it does not know them to hold (GossipSub's
// gossip emission). This repairs what loss and crashes cost in the last
// few seconds; anything older is left to anti-entropy repair (below).
//
// Measured with the defaults on 1,000 nodes with 8 random peers each, 100
// messages (the scenarios gossip-1000 and gossip-1000-uniform): on the
// region latency model, delivery 1.0, 1.78 duplicates per node per message,
// first delivery p50 151 ms and p95 315 ms; with 100 ms one-way everywhere,
// delivery 1.0, 2.46 duplicates, p95 550 ms. Pure push to 6 peers (three by
// preference) gives 5.0 duplicates in both, p95 232 ms and 500 ms. At 100
// nodes (EagerHops 3) 2.6 duplicates; at 10,000 nodes on the region model
// 1.5 duplicates, p95 400 ms.
//
// # Anti-entropy repair
//
// IHAVE only reaches back GossipWindow (3 s): a message published on one
// side of a partition that lasts a minute never crosses once it heals. So
// nodes also reconcile what they hold, by digest exchange: epidemic
// anti-entropy (Demers et al., "Epidemic Algorithms for Replicated Database
// Maintenance", PODC 1987, §1.3) with a compact summary in place of the
// whole set, as in range-based set reconciliation (Meyer, "Range-Based Set
// Reconciliation", 2023) reduced to one level of fixed ranges. GossipSub's
// IHAVE windows and Plumtree's lazy push announce what is new; this
// compares what is held.
//
//   - A digest (wire.Digest) covers the message timestamps of the last
//     Repair.Window (the cache TTL, 5 minutes; at most MaxBuckets buckets)
//     but the newest Settle (3 s, still spreading by push), in buckets of
//     Repair.Bucket (1 s) aligned to absolute time so that every node bins
//     alike. Each non-empty bucket carries its count and the XOR of its IDs'
//     first 8 bytes. Buckets go by the publish timestamp, which every copy
//     carries, not by arrival. Empty buckets cost nothing; a full one about
//     10 bytes.
//   - The receiver bins what it holds over the same range (the part inside
//     its own window) and answers (wire.DigestReply) with its IDs in the
//     buckets that differ, oldest first (so one sender's messages arrive in
//     sequence order, inside the replay window), and how many more did not
//     fit. A reply is never larger than its digest: a requester that wants
//     more pads its next digest (as QUIC pads its first Initial, RFC 9000
//     §8.1), so no one can make a node send more than it was sent. If the
//     digest has buckets where the requester may hold something the
//     receiver lacks, the receiver sends its own digest back, flagged as a
//     counter so that it is not countered in turn.
//   - The requester treats the listed IDs like an IHAVE's (an IWANT after
//     IWantDelay, one outstanding per ID, served within the per-peer serving
//     rate); the answers are delivered "via repair". While a reply listed
//     something missing or had more, another digest to that peer follows
//     after FollowUp (1 s; at once, padded, if the reply had no room for any
//     ID), up to MaxRounds per exchange.
//   - When: every Check (1 s) a node compares its peer list with the last
//     one (without sorting when it did not change) and sends a digest to
//     every new peer (a session opened: a healed partition, a restart, a
//     new node); a node that accepted a message older than Settle since the
//     last check (a gap that push and IHAVE did not fill, so probably not
//     the only one) sends one to a random peer; and every Interval (10 s)
//     one goes to a random peer regardless.
//
// Bounds: digests are taken only from current gossip peers, at PeerRate
// (2/s, burst 4) per peer [unsolicited, rate-limited]; a span over
// MaxBuckets is dropped [oversized], a bucket under 1 ms or a range past the
// end of time [malformed]; a reply only from a peer sent a digest within
// ReplyTimeout [unsolicited], with at most MaxReplyIDs (32) IDs [oversized].
// Follow-ups wait in a list of at most 256, per-peer state is an LRU of
// MaxTrackedPeers. The history keeps messages for the repair window, to
// serve them, within HistoryBytes and CacheSize entries; past HistoryWindow
// an entry turns cold and drops its holder list. Building or comparing a
// digest walks the history once and sorts the entries in range. An 8-byte
// XOR fingerprint can collide: by chance with probability 2^-64 per
// differing bucket; a peer that crafts colliding messages only hides them in
// its own exchanges, other peers' digests still differ.
//
// Measured on the partition-heal scenario (1,000 nodes over DHT-discovered
// sessions, halves split for 60 s while each side publishes one message a
// second): every one of the 119 messages published during the split reaches
// every live node after the heal, p50 1.8 s and at most 3.4 s after it (the
// target is 10 s); without repair only the 5 published in the last 3 s
// before the heal cross (heartbeat IHAVE). Without partitions, repair adds
// 0.2% (gossip-1000) to 0.7% (gossip-1000-dht) to the bytes each node sends
// and 3-4% to the simulator's events; delivery and latencies are unchanged.
//
// # Deduplication
//
// Seen IDs live in an exact cache (keyLRU: golang-lru simplelru's
// behaviour, checked against it by a test, in compact pointer-free
// storage; read with Peek so that it evicts in insertion order) of
// CacheSize entries, each with a virtual expiry CacheTTL after acceptance:
// nothing runs in the background. (A bloom pre-check in front of it was
// measured slower than the map lookup it was meant to save, so there is
// none.) Replay protection keeps, per sender (a keyLRU of
// MaxTrackedSenders), the highest sequence number and a 64-bit bitmap of
// the numbers below it, as IPsec's anti-replay window (RFC 4303 §3.4.3).
// Sequence numbers start at the publisher's clock in nanoseconds (as libp2p
// pubsub does), so a node that restarts without state does not reuse them.
//
// # Memory
//
// A node keeps, per message it holds, a 32-byte entry (arrival time, TTL
// and hop count to send on, holders while the message is hot) pointing to
// the message's immutable record (ID, sender, sequence number, timestamp,
// signature, payload). Nodes that share a Bodies store share one record per
// message: the simulator's 100,000 nodes keep each message once. Dedup,
// replay and pending-IWANT state sit in keyLRUs (about 50 bytes an ID or a
// sender, against 130 to 160 in simplelru), the history's index in an
// entryIndex (8 to 16 bytes an entry). Times kept per message are Unix
// nanoseconds (int64), not time.Time (24 bytes with a pointer the garbage
// collector follows).
//
// At 10,000 simulated nodes nearly every event touches another node's
// state than the last, so the cost of a lookup is the cache lines it
// reads, one per pointer followed. So: a holder set is allocated with its
// keys (one object, moved to a larger one as it grows, in the memory the
// set and its keys took apart); the index checks the node's newest
// entries first and compares a tag kept in each entry before reading its
// record; a keyLRU's index slot carries a tag beside the entry number, so
// a lookup of an absent key rarely leaves the index; and the dedup cache,
// replay guard, pending table, history and repair state sit inside the
// Gossip value rather than behind pointers of their own.
//
// # Verification
//
// Signatures go through a Verifier. NewVerifyCache wraps one with a
// content-addressed cache of results (key SHA-256 over key, message and
// signature): it changes no outcome, and the simulator shares one across
// all nodes so that a message reaching 1,000 nodes is verified once.
//
// # Determinism
//
// No map iteration decides anything: peers come from the PeerSource in its
// order, history and the IWANT queue are ordered slices, randomness comes
// only from the node's seeded stream, and time only from the now passed in
// or the node's clock inside timer callbacks. The same inputs give the same
// events.
//
// Concurrency: nothing here is safe for concurrent use; a Gossip runs on
// its node's driver, and a shared VerifyCache on the simulator's goroutine.
package gossip
