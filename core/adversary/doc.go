// Package adversary holds the Byzantine roles a simulated (or test) node
// can play: named, parameterised behaviours layered over the real
// protocol components, never a separate simplified model. An attacker
// runs the same core/gossip, core/dht and core/relay code as everyone
// else; a role hooks in where those components let a node deviate
// (gossip.Behavior, dht.Liar, relay.Cheat, a decorated transport) and,
// for the active roles, sends extra datagrams of its own through its
// node.
//
// Gossip roles: black-hole (accepts, never forwards, announces or serves
// IWANTs), selective-drop (does so only for messages published by a
// victim), spam (floods valid signed messages at Rate times the per-peer
// rate limit to every peer), forged-signatures (messages whose signature
// does not verify, claiming its own or another publisher, or whose ID is
// not their content's hash) and replay (re-sends the messages it accepted
// after Delay, by default past their cache TTL).
//
// DHT roles: routing-poisoning (FIND_NODE and FIND_VALUE answers list
// fellow attackers and nonexistent peers made to look closest to the
// target), sybil (one node presents Identities identities, all at its one
// address, in its answers and in the requests it sends) and eclipse
// (Sybil identities ground close to one victim's key, presented to the
// victim one at a time so that they enter its routing table; the runner
// also dials the victim's connection slots).
//
// Relay role: relay-cheat drops the messages it should relay, claims
// delivery of them with an acknowledgement it cannot sign for, or hands
// them off with a forged hop signature, in turn.
//
// Determinism: every draw comes from the *rand.Rand the caller gives (in
// simulation the node's (seed, node, "adversary") stream); per-address
// state lives in maps that are only indexed, never iterated.
//
// Concurrency: like the components, an attacker runs on its node's
// driver and is not safe for concurrent use.
package adversary
