package specconv

import (
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/barco-oci/barco/libbarco/configs"
)

// maxNUMANode bounds node numbers (the kernel's MAX_NUMNODES is at most
// 1024).
const maxNUMANode = 1023

func convertMemoryPolicy(spec *specs.Spec, c *configs.Config) error {
	mp := spec.Linux.MemoryPolicy
	if mp == nil {
		return nil
	}
	mode, ok := configs.MemoryPolicyModes[string(mp.Mode)]
	if !ok {
		return fieldErr("linux.memoryPolicy.mode", "unknown mode %q", mp.Mode)
	}
	for i, f := range mp.Flags {
		v, ok := configs.MemoryPolicyFlags[string(f)]
		if !ok {
			return fieldErr(index("linux.memoryPolicy.flags", i), "unknown flag %q", f)
		}
		mode |= v
	}
	nodes, err := parseNodes(mp.Nodes)
	if err != nil {
		return fieldErr("linux.memoryPolicy.nodes", "%w", err)
	}
	// MPOL_DEFAULT and MPOL_LOCAL take no nodes; the others need some.
	switch mp.Mode {
	case specs.MpolDefault, specs.MpolLocal:
		if len(nodes) > 0 {
			return fieldErr("linux.memoryPolicy.nodes", "must be empty for %s", mp.Mode)
		}
	default:
		if len(nodes) == 0 && mp.Mode != specs.MpolPreferred {
			return fieldErr("linux.memoryPolicy.nodes", "required for %s", mp.Mode)
		}
	}
	c.MemoryPolicy = &configs.MemoryPolicy{Mode: mode, Nodemask: nodes}
	return nil
}

// parseNodes turns "0-2,5" into a nodemask.
func parseNodes(list string) ([]uint64, error) {
	var mask []uint64
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 || a > maxNUMANode {
			return nil, &strconv.NumError{Func: "node", Num: part, Err: strconv.ErrRange}
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a || b > maxNUMANode {
				return nil, &strconv.NumError{Func: "node range", Num: part, Err: strconv.ErrRange}
			}
		}
		for n := a; n <= b; n++ {
			for len(mask) <= n/64 {
				mask = append(mask, 0)
			}
			mask[n/64] |= 1 << (n % 64)
		}
	}
	return mask, nil
}
