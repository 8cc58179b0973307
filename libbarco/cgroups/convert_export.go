package cgroups

// The systemd driver hands systemd the values this package writes, so that
// systemd, which rewrites a unit's cgroup files from its properties (on
// daemon-reload, for instance), keeps the limits Set wrote.

// SharesToWeight converts cpu.shares to cpu.weight as Set does; 0 (not set)
// gives 0.
func SharesToWeight(shares uint64) uint64 { return sharesToWeight(shares) }

// SwapMax returns the memory.swap.max value Set writes for the v1-style
// memory and memory+swap limits: "" for nothing to write, "max", or a byte
// count.
func SwapMax(memory, swap int64) (string, error) { return swapMax(memory, swap) }

// BlkioWeightToIOWeight converts a blkio weight (10..1000) to io.weight as
// Set does when the BFQ scheduler's own weight file is absent.
func BlkioWeightToIOWeight(w uint16) (uint64, error) { return blkioWeightToIOWeight(w) }
