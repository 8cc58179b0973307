package specconv

import (
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/barco-oci/barco/libbarco/configs"
)

func TestConvertMemoryPolicy(t *testing.T) {
	cases := []struct {
		mp      specs.LinuxMemoryPolicy
		want    *configs.MemoryPolicy
		errPart string
	}{
		{mp: specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "0"}, want: &configs.MemoryPolicy{Mode: 2, Nodemask: []uint64{1}}},
		{mp: specs.LinuxMemoryPolicy{Mode: specs.MpolInterleave, Nodes: "0-2,5", Flags: []specs.MemoryPolicyFlagType{specs.MpolFStaticNodes}},
			want: &configs.MemoryPolicy{Mode: 3 | 1<<15, Nodemask: []uint64{0b100111}}},
		{mp: specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "64"}, want: &configs.MemoryPolicy{Mode: 2, Nodemask: []uint64{0, 1}}},
		{mp: specs.LinuxMemoryPolicy{Mode: specs.MpolLocal}, want: &configs.MemoryPolicy{Mode: 4}},
		{mp: specs.LinuxMemoryPolicy{Mode: "MPOL_BOGUS"}, errPart: "linux.memoryPolicy.mode"},
		{mp: specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "0", Flags: []specs.MemoryPolicyFlagType{"X"}}, errPart: "linux.memoryPolicy.flags[0]"},
		{mp: specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "3-1"}, errPart: "linux.memoryPolicy.nodes"},
		{mp: specs.LinuxMemoryPolicy{Mode: specs.MpolBind}, errPart: "required for MPOL_BIND"},
		{mp: specs.LinuxMemoryPolicy{Mode: specs.MpolDefault, Nodes: "1"}, errPart: "must be empty"},
	}
	for _, c := range cases {
		s := Example()
		mp := c.mp
		s.Linux.MemoryPolicy = &mp
		got, err := Convert(s, Options{Bundle: newBundle(t)})
		if c.errPart != "" {
			if err == nil || !strings.Contains(err.Error(), c.errPart) {
				t.Errorf("%+v: err %v, want %q", c.mp, err, c.errPart)
			}
			continue
		}
		if err != nil {
			t.Errorf("%+v: %v", c.mp, err)
			continue
		}
		if !reflect.DeepEqual(got.MemoryPolicy, c.want) {
			t.Errorf("%+v: got %+v, want %+v", c.mp, got.MemoryPolicy, c.want)
		}
	}
}
