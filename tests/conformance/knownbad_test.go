package main

import (
	"testing"

	"github.com/moby/sys/capability"
)

func TestKnownBadListIsExplained(t *testing.T) {
	seen := map[[2]string]bool{}
	for _, kb := range knownBadList {
		if kb.Test == "" || kb.Reason == "" {
			t.Errorf("entry without test or reason: %+v", kb)
		}
		key := [2]string{kb.Test, kb.Assertion}
		if seen[key] {
			t.Errorf("duplicate entry %q / %q", kb.Test, kb.Assertion)
		}
		seen[key] = true
		if _, ok := excluded[kb.Test]; ok {
			t.Errorf("%s is both excluded and known-bad", kb.Test)
		}
	}
}

func TestUngrantableCapabilities(t *testing.T) {
	known := []capability.Cap{capability.CAP_CHOWN, capability.CAP_SYS_RESOURCE, capability.CAP_BPF}
	cases := []struct {
		name    string
		status  string
		want    []string // assertions
		wantErr bool
	}{
		{
			name:   "full bounding set",
			status: "Name:\tx\nCapBnd:\t000001ffffffffff\n",
		},
		{
			name:   "no CAP_SYS_RESOURCE (bit 24)",
			status: "CapPrm:\t000001fffeffffff\nCapBnd:\t000001fffeffffff\nCapAmb:\t0000000000000000\n",
			want: []string{
				"expected bounding capability CAP_SYS_RESOURCE set",
				"expected effective capability CAP_SYS_RESOURCE set",
				"expected inheritable capability CAP_SYS_RESOURCE set",
				"expected permitted capability CAP_SYS_RESOURCE set",
				"expected ambient capability CAP_SYS_RESOURCE set",
			},
		},
		{
			name:   "empty bounding set names only the known capabilities",
			status: "CapBnd:\t0000000000000000\n",
			want: []string{
				"expected bounding capability CAP_CHOWN set", "expected effective capability CAP_CHOWN set",
				"expected inheritable capability CAP_CHOWN set", "expected permitted capability CAP_CHOWN set",
				"expected ambient capability CAP_CHOWN set",
				"expected bounding capability CAP_SYS_RESOURCE set", "expected effective capability CAP_SYS_RESOURCE set",
				"expected inheritable capability CAP_SYS_RESOURCE set", "expected permitted capability CAP_SYS_RESOURCE set",
				"expected ambient capability CAP_SYS_RESOURCE set",
				"expected bounding capability CAP_BPF set", "expected effective capability CAP_BPF set",
				"expected inheritable capability CAP_BPF set", "expected permitted capability CAP_BPF set",
				"expected ambient capability CAP_BPF set",
			},
		},
		{name: "no CapBnd line", status: "Name:\tx\n", wantErr: true},
		{name: "bad hex", status: "CapBnd:\tzz\n", wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ungrantableCapabilities(c.status, known)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, c.wantErr)
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %d entries, want %d: %+v", len(got), len(c.want), got)
			}
			for i, kb := range got {
				if kb.Test != "process_capabilities" || kb.Assertion != c.want[i] || kb.Reason == "" {
					t.Errorf("entry %d = %+v, want assertion %q", i, kb, c.want[i])
				}
			}
		})
	}
}
