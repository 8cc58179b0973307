// Package cpulist parses the kernel's list format for CPUs and memory
// nodes ("0-3,8,10-11"), as cpuset files, systemd and runtime-spec's
// execCPUAffinity write it.
package cpulist

import (
	"fmt"
	"strconv"
	"strings"
)

// Parse returns the numbers of list in its order, ranges expanded. Blanks
// around a number are allowed; a number must be below limit. An empty list
// is an empty result.
func Parse(list string, limit uint64) ([]int, error) {
	var out []int
	if strings.TrimSpace(list) == "" {
		return out, nil
	}
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := strconv.ParseUint(strings.TrimSpace(lo), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("invalid list %q", list)
		}
		last := first
		if isRange {
			if last, err = strconv.ParseUint(strings.TrimSpace(hi), 10, 32); err != nil {
				return nil, fmt.Errorf("invalid list %q", list)
			}
		}
		if last < first {
			return nil, fmt.Errorf("invalid list %q: range %d-%d is reversed", list, first, last)
		}
		if last >= limit {
			return nil, fmt.Errorf("invalid list %q: %d is beyond %d", list, last, limit-1)
		}
		for n := first; n <= last; n++ {
			out = append(out, int(n))
		}
	}
	return out, nil
}
