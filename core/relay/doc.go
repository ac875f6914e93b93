// Package relay carries messages along explicit paths of relays and
// proves their delivery: the plan's RelayProtocol, RelayMessage,
// ProofOfDelivery (Proof) and BandwidthAccountant. It is a sans-IO
// component of a core.Node: packets, timers and the Send command come in as
// calls, everything goes out through the node's environment.
//
// # Messages
//
// A sender picks a path of 1 to MaxHops relays (max_relay_hops, default 3,
// at most 8) and a recipient, each a peer ID and an address. The message
// ID is SHA-256 over a domain separator, the sender's Ed25519 key, a nonce
// and the payload's SHA-256 (ComputeID); the sender signs the route (ID,
// send time, recipient, relays in order; RouteBytes), so the path of a
// proof is the one the sender chose. The datagram (wire.RelayData) carries
// the route, every address, the hop chain so far and the payload.
//
// Each relay that hands the message off appends a hand-off record: its
// receive and hand-off times (Unix ns from its clock) and its Ed25519
// signature over a domain separator, the ID, its hop index, its own key,
// the next party's key (next relay, or the recipient) and both times
// (HandoffBytes). A relay clamps its times to be no earlier than the
// previous record's, so honest chains never run backwards even between
// skewed clocks (in simulation all clocks agree and nothing is clamped).
// The recipient verifies the whole chain, delivers the payload (OnDeliver)
// and signs an acknowledgement over the ID, its key, its receive time and
// the hash of the hop chain (AckBytes, ChainHash). A hop's signature proves
// only that it handed the message off; only the recipient's signed
// acknowledgement proves delivery.
//
// # Acknowledgements and receipts
//
// The recipient sends the acknowledgement (wire.RelayAck, with the hop
// chain it received) both straight to the sender and back along the
// reverse path: each relay verifies the complete proof, adds it to its own
// batch (its evidence of work), and passes the acknowledgement on; the
// first relay passes it to the sender, which so gets two copies and keeps
// the first that verifies (the other is counted in Stats.DuplicateAcks).
// The direct copy means a relay on the way back cannot suppress a delivery;
// the reverse copies give every relay the proof it helped make.
//
// Each relay, when it hands the message off, also sends its hand-off record
// straight to the sender (wire.RelayReceipt). The sender verifies and keeps
// these, so when no acknowledgement arrives it still knows how far the
// message got.
//
// # Sender tracking and detection
//
// The sender keeps every unacknowledged message (at most
// MaxPendingPerSender) with a deadline AckTimeout after sending, all on one
// timer over a queue in deadline order. On a valid acknowledgement it
// assembles the Proof (ID, payload hash, nonce, sender, send time, route
// signature, recipient, path, hop records, acknowledgement), verifies it,
// observes Acked with the end-to-end latency, batches it and calls
// OnOutcome. At the deadline it observes Undelivered, naming the first hop,
// the number of relays that confirmed their hand-off and the suspects, and
// calls OnOutcome with the partial proof and its Audit.
//
// Audit makes "a relay that drops, delays or forges is detectable"
// concrete:
//
//   - drop: receipts stop. If relay i confirmed handing off to party i+1
//     and i+1 confirmed nothing, either i lied or i+1 dropped (or the link
//     lost it): both are suspects. With no receipt at all the first relay
//     is the only suspect. Tally over several messages whose paths share
//     only the culprit singles it out;
//   - delay: every stretch between signed times is a Segment (link into a
//     relay, hold inside it, ..., link to the recipient). A relay that
//     holds a message and signs true times shows a slow hold; one that
//     backdates its hand-off or postdates its receipt cannot make times run
//     backwards (Verify rejects that), so the delay shows on a link it is an
//     end of;
//   - forgery: altering the payload, path, times or a record, or signing for
//     another, fails verification at the next honest hop (dropped as
//     "forged", so to the sender it looks like a drop next to the forger),
//     at the sender, and in Verify for anyone later.
//
// # Receiving
//
// A RelayData datagram goes through these steps, in this order; the first
// that fails refuses it with the reason in brackets (observed as Refused
// and core.Drop, counted in Stats.Refused):
//
//  1. decode, every length bounded first [malformed];
//  2. more records than relays [bad-path]; this node neither the relay at
//     the record count's index nor, with a full chain, the recipient
//     [misrouted];
//  3. a message to relay at a node without Enabled [not-relay];
//  4. no relay, or more than MaxHops [hops]; an address missing [bad-path];
//  5. sent more than AckTimeout ago [expired] or more than MaxClockSkew
//     ahead [future];
//  6. an ID seen already [duplicate]; a payload over MaxPayload [oversized];
//  7. ID recomputed from the payload, route signature and every record
//     verified through the Verifier [forged; a repeated peer: bad-path];
//
// and, only to relay:
//
//  8. the sender already has MaxPendingPerSender messages in flight here
//     [pending-cap];
//  9. the bandwidth accountant: the sending peer's share, then the global
//     limit, charged the size of the datagram sent on [bandwidth-peer,
//     bandwidth-global].
//
// Signatures are checked before bandwidth is charged, so garbage costs no
// tokens; it costs one signature check (the route's is checked first).
// Acknowledgements and receipts for nothing this node sent or relayed are
// dropped [unsolicited]; ones that do not verify [forged].
//
// # Bandwidth and anti-spam
//
// BandwidthAccountant counts relayed bytes per neighbouring peer (in and
// out) and in all, and limits what is forwarded: a global token bucket at
// relay_bandwidth_limit_mbps and a per-peer bucket at PeerShare of it, both
// golang.org/x/time/rate used only through AllowN(now, n). Per-peer state is
// an LRU of MaxTrackedPeers, relay state an LRU of MaxPending, the dedup
// cache an LRU of MaxSeen, and each sender may have at most
// MaxPendingPerSender messages in flight through a relay: nothing a peer
// sends grows memory without bound.
//
// # Proofs on chain
//
// Proofs batch into Merkle roots (RFC 6962 §2.1: 0x00 leaf and 0x01 node
// prefixes) every BatchSize proofs (100) or BatchInterval (1 hour) after a
// batch's first proof, whichever comes first; a batch is signed by the node
// that made it (the sender, or a relay). InclusionProof and VerifyInclusion
// (RFC 9162 §2.1.3.2) prove a proof's place in a batch with nothing but the
// root, the leaf, its index and the tree size. SerializeForChain gives the
// stable, versioned byte formats of a proof, a batch and an inclusion
// proof; docs/relay-proofs.md has their byte-level tables.
//
// # Determinism
//
// No map iteration decides anything: pending messages and relay state
// expire from queues in time order, randomness is not used, and time comes
// only from the now passed in or the node's clock inside timer callbacks.
//
// Concurrency: nothing here is safe for concurrent use; a Relay runs on its
// node's driver. Verify, Audit, the Merkle functions and the chain
// encodings are pure functions.
package relay
