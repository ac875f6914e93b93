// Package sweep runs a scenario over a grid of parameter values and seeds
// and aggregates the runs' summaries.
//
// A Plan is built from --set flags and a --seeds list: a flag with several
// comma-separated values (commas inside brackets, braces or quotes do not
// count) is a swept parameter, a flag with one value a fixed override. The
// run list is the cartesian product of the swept parameters in flag order
// (first flag outermost) with the seeds innermost; it is the same on every
// machine, so shards (run index % n == i) of one list can be run apart and
// merged.
//
// Every run writes into OUT/runs/NAME (NAME from its parameters and seed,
// e.g. gossip_fanout=4,nodes.count=1000,seed=1): the files scenarios.Run
// writes, params.json (the run's parameter values and seed), and last a
// "done" marker. A run whose folder has the marker is skipped, so a sweep
// can be resumed.
//
// Aggregate reads the finished run folders, flattens each summary.json into
// numeric metrics by dotted path, groups the runs by their parameter values
// and writes aggregate.csv and aggregate.md (n, mean and a Student-t 95%
// confidence interval per group and metric) and cost.csv (the wall-clock
// fields, per run). The package uses scenarios and reports only, never the
// simulator's internals.
package sweep
