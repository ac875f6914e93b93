// Package chaos is the fault library of both worlds: descriptions of
// injected failures and the per-packet decisions they make, independent of
// who moves the packets.
//
// It holds:
//
//   - link faults (Link): per-packet probabilities of drop, duplicate,
//     corrupt (bits or bytes flipped in a copy: Corrupt never touches the
//     buffer it is given, which Transport.Send callers may share) and
//     reorder (the packet is held back by ReorderDelay so that later ones
//     overtake it), plus extra delay (fixed Delay and a random Jitter);
//   - distributions (Dist) for churn session times and downtimes and for
//     jitter: exponential, Weibull (shape k, scale λ), Pareto (shape α,
//     scale xm), uniform and half-normal, with sampling by inversion and
//     analytic means;
//   - clock skew (Skew): a constant offset and a rate error (drift) of a
//     node's clock;
//   - Transport, a decorator of a core.Transport that applies link faults
//     to a real node's outbound packets, with its TOML configuration
//     (Load, Parse).
//
// Determinism: nothing here reads the wall clock or the global random
// source. Every decision takes the time (where it matters) and a
// *rand.Rand (math/rand/v2) as arguments, and draws from it in a fixed,
// documented order, so the simulator (sim/) gets reproducible runs by
// handing in seeded per-sender streams. Only Transport, which drives a real
// node, uses the clock it is given (core.Clock), never time.Now.
package chaos
