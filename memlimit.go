package main

import (
	"os"
	"runtime/debug"
)

// defaultMemoryLimit is the provider's soft memory limit when GOMEMLIMIT
// does not set one (GOMEMLIMIT=off removes it). A plan or apply of tens of
// thousands of deletions makes much short-lived garbage (the plan's values
// encoded, decoded and copied between Terraform, the framework and the
// provider): with the runtime's default the heap grows to twice what is
// live before it is collected. Near this limit the runtime collects more
// often instead, so the provider's peak follows what a step keeps live:
// a plan of 49,000 deletions (140 MB live) peaked at 354 MB without it
// and 253 MB with it, for about 10 s more CPU (contributing/performance.md).
// Below the limit nothing changes, and a step that needs more than it is
// not stopped: the limit is soft.
const defaultMemoryLimit = 192 << 20

// defaultGCPercent is the provider's GOGC when the environment does not
// set one: the heap grows to five times what is live (the runtime's
// default: twice) before it is collected, the soft limit above still
// bounding it. A plan reads thousands of manifests while its live heap
// grows from a few megabytes, and with the default the collector ran
// every few hundred of them: reading 10,000 tags spent three times the
// floor's collector CPU, on a machine whose cores the registry shares,
// and read at 1.08-1.15x of the floor's time; at 400, 0.87-0.93x. The
// plan's peak stayed about the same (148-150 MB; contributing/performance.md).
const defaultGCPercent = 400

func limitMemory() {
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
}
