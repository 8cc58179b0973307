package configs

// MemoryPolicy is set_mempolicy(2)'s arguments, converted from
// linux.memoryPolicy.
type MemoryPolicy struct {
	Mode     int      // MPOL_* with MPOL_F_* flags or'ed in
	Nodemask []uint64 // bit n of word n/64 is node n
}

// MemoryPolicyModes and MemoryPolicyFlags are the values set_mempolicy(2)
// takes, by their runtime-spec names.
var (
	MemoryPolicyModes = map[string]int{
		"MPOL_DEFAULT": 0, "MPOL_PREFERRED": 1, "MPOL_BIND": 2, "MPOL_INTERLEAVE": 3,
		"MPOL_LOCAL": 4, "MPOL_PREFERRED_MANY": 5, "MPOL_WEIGHTED_INTERLEAVE": 6,
	}
	MemoryPolicyFlags = map[string]int{
		"MPOL_F_STATIC_NODES": 1 << 15, "MPOL_F_RELATIVE_NODES": 1 << 14, "MPOL_F_NUMA_BALANCING": 1 << 13,
	}
)
