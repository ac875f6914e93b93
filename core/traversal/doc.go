// Package traversal is NAT traversal for dchat: it finds out how a node is
// reachable, registers it with rendezvous nodes, and connects it to peers
// behind NATs by a ladder of methods, keeping the best path that works.
// It is a sans-IO component of a core.Node; the STUN, UPnP and TURN
// primitives come from the environment (core.Connectivity), implemented by
// transport/ with real servers and by sim/ against its NAT model.
//
// # Self discovery
//
// At Start the node asks the first STUN server for its public endpoint
// with RFC 5780 behaviour discovery (RFC 8489 §14.2 XOR-MAPPED-ADDRESS;
// RFC 5780 §4.3 mapping and §4.4 filtering tests), which core.Classify
// turns into the plan's five NAT types (RFC 4787 §4.1 mapping, §5
// filtering). With UseUPnP it asks the gateway to forward its port; under
// RelayPolicy it allocates a TURN relay (RFC 8656 §7): always, never, or
// (auto) when the NAT is symmetric or unknown, where hole punching fails
// with many peers. Results arrive later as inputs. A node without
// Connectivity assumes it is public and says so (Discovered.Assumed). The
// node is reachable (Self.Reachable) when peers can reach it unasked: no
// NAT, a full-cone NAT, or a mapped port. The first decision waits for
// every startup answer; afterwards the state changes only after
// ReachabilityAfter periodic observations (Rediscover) agree, so it does
// not flap.
//
// # Rendezvous
//
// A node REGISTERs with every rendezvous at start, whenever its own
// information changes, and every KeepAlive, which also keeps its NAT's
// binding towards the rendezvous open (RFC 4787 §4.3: bindings may expire
// after two minutes, often sooner). REGISTERED echoes the nonce (the node
// measures its RTT, which it reports back in the next REGISTER) and tells
// the node the endpoint the rendezvous sees, which is the endpoint peers
// will punch towards. A rendezvous (Serve) keeps a bounded table: entries
// expire 3×KeepAlive after the last REGISTER; a full table evicts the entry
// seen longest ago. CONNECTs are rate-limited per source IP
// (golang.org/x/time/rate, AllowN with the node's clock).
//
//	A                          rendezvous                          B
//	REGISTER ----------------->  (observed A)  <----------------- REGISTER
//	CONNECT(txn, B, info A) -->
//	                 <-- OFFER(B's info, B observed, delay A, initiator)
//	                             OFFER(A's info, A observed, delay B) -->
//	PUNCH / PUNCH-ACK  <================================>  PUNCH / PUNCH-ACK
//	PATH-PING / PATH-PONG  <============================>  (every PathKeepAlive)
//
// The rendezvous sends both OFFERs at once; each carries a start delay so
// that both sides begin punching at about t0 + max(rtt)/2, when the later
// OFFER has arrived: hole punching needs both NATs to have sent outwards
// before the other's probes arrive.
//
// # The ladder
//
// Both sides run the same ladder (an OFFER a node did not ask for starts
// it towards the initiator: this is what makes punching symmetric, as in
// libp2p's DCUtR). All rungs run in parallel; the path used is the best one
// that works, ranked direct > upnp > punch > relay:
//
//  1. direct: a peer with no NAT or a full-cone NAT is probed at its
//     public (observed and STUN) endpoint at once;
//  2. upnp: a peer with a mapped port is probed there at once;
//  3. punch: after the start delay, both sides PUNCH each other's observed
//     endpoint PunchAttempts times, PunchInterval apart (RFC 4787 §4,
//     RFC 5128 §3.3). A PUNCH from an endpoint nobody announced (a
//     symmetric NAT's new mapping) becomes a peer-reflexive candidate and
//     is checked at once (ICE, RFC 8445 §7.3.1.3-4); the path is wherever
//     the peer's answers actually come from. Later rounds change strategy:
//     the STUN-reported endpoint too, and for a symmetric peer the ports
//     next to the observed one (sequential allocators);
//  4. relay: a peer's TURN relayed endpoint is probed from the OFFER on;
//     the relay's owner installs a permission for the other side's IP
//     (RFC 8656 §9) so the probes get through.
//
// The relay permission has a cost the brief for this package did not
// foresee: by the core.Connectivity contract every packet the owner sends
// to a permitted IP then leaves through the relay, so the owner could no
// longer punch to (or upgrade with) that peer. So the owner permits at
// once only when punching cannot work (one side symmetric and the other
// symmetric or port-restricted, or punching disabled) and otherwise after
// the first punching round failed. The side without the relay probes it
// from the start, so when the relay is needed it is usually the first
// path.
//
// The first answer sets the path at once (time to first path). A better
// method replaces it only after it answered UpgradeAfter probes; a path is
// given up only after FallbackAfter consecutive PATH-PINGs went
// unanswered, for the best other candidate that answered, if any. When
// every rung of every round has had its chance without an answer, the
// attempt fails (Failed, "exhausted").
//
// # Events
//
// nat.discovered, nat.mapped, nat.relay, nat.reachable, nat.registered,
// nat.introduced (rendezvous), nat.attempt (per method of a ladder: ok or
// not, how long, both NAT types), nat.path (first path of an attempt, with
// the time from Connect or the OFFER), nat.upgrade, nat.failed, nat.lost.
// Both sides' NAT types are in every attempt event: the initiator learns
// the target's from the OFFER. Hole-punching success is meant to be
// reported per pair of NAT types.
//
// # Prior art
//
// ICE (RFC 8445) gathers and checks candidates pairwise and nominates the
// best; this package keeps ICE's peer-reflexive candidates and triggered
// checks but not its pairing and priorities: one socket per node, a
// rendezvous instead of an offer/answer signalling channel. libp2p's DCUtR
// synchronises punching from a measured RTT over a relayed connection;
// here the rendezvous does the timing from the RTTs its registrants
// report. No code was taken from either.
package traversal
