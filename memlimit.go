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

func limitMemory() {
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
}
