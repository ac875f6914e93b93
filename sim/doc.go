// Package sim is a deterministic discrete-event simulator for the dchat
// network: thousands of nodes running the unmodified core/ protocol code in
// virtual time, in one process.
//
// It has three parts:
//
//   - the engine (Engine): a priority queue of events ordered by virtual time
//     and insertion sequence, with cancellable timers, that dispatches events
//     one at a time and allocates nothing in the steady state;
//   - the network model: per-pair latency from a matrix or a geographic model,
//     jitter, loss, bandwidth queues, MTU, partitions and the inbound
//     filters of private nodes (Filter: the filtering half of an RFC 4787
//     NAT box, without address translation), each a network element that
//     passes, changes, delays or drops a packet;
//   - the world: the nodes, each given a core.Env whose clock, transport and
//     random streams are backed by the engine and the network model;
//   - the NAT model, on when NetConfig lists NAT boxes or STUN/TURN
//     servers: RFC 4787 NAT boxes per node (NAT: mapping, filtering,
//     binding timeouts, port assignment, UPnP; presets for the plan's five
//     types), simulated STUN servers with RFC 5780 behaviour discovery, an
//     UPnP gateway on the box and TURN (RFC 8656) relays, all reached by
//     real simulated packets, and a core.Connectivity per node backed by
//     them. The address plan (private 10/8, NAT public addresses in
//     100.64.0.0/10, STUN alternate addresses in 198.18.0.0/15, relayed
//     ports from 49152) is described in nat_path.go. Without it, packets
//     take the plain path at no extra cost.
//
// Determinism: a run is a pure function of the scenario and its seed. Virtual
// time starts at Epoch and advances only as events are dispatched; nothing
// reads the wall clock. Events due at the same instant run in the order they
// were scheduled. Randomness comes from seeded math/rand/v2 streams derived
// from (seed, node, purpose), never from a global source, and no decision
// depends on map iteration order.
//
// Concurrency: nothing in package sim is safe for concurrent use. One
// goroutine drives the engine, and every handler, node and network element
// runs on that goroutine, inside Engine.Run or Engine.Step. The package
// starts no goroutines and takes no locks.
package sim
