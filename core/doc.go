// Package core holds the dchat protocol logic's contract with the world it runs
// in: the environment interfaces (clock, transport, randomness, observer,
// connectivity), the node that routes decoded messages to protocol components,
// and the events components report.
//
// Everything under core/ is a sans-IO state machine in the style of etcd's raft:
// inputs arrive as calls (a packet, a timer firing, a local command), effects
// leave through the injected Env. Nothing here reads the wall clock, sleeps,
// starts a goroutine, takes a lock, or uses a global random source, so the same
// code runs under the simulator's virtual time (sim/) and on real sockets
// (transport/), and a simulated run is reproducible from its seed.
//
// Concurrency: nothing in core is safe for concurrent use. A driver owns each
// node and makes every call from one goroutine at a time.
package core
