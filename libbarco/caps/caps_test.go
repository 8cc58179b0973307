package caps

import (
	"strings"
	"testing"

	"github.com/barco-oci/barco/libbarco/configs"
)

func TestKnownHasCommonNames(t *testing.T) {
	known := strings.Join(Known(), ",")
	for _, n := range []string{"chown", "kill", "net_bind_service", "sys_admin", "audit_write"} {
		if !strings.Contains(","+known+",", ","+n+",") {
			t.Errorf("%s missing from %s", n, known)
		}
	}
}

func TestResolve(t *testing.T) {
	s, err := Resolve(&configs.Capabilities{
		Bounding:  []string{"kill", "CAP_CHOWN"},
		Effective: []string{"kill"},
		Ambient:   []string{},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.bounding) != 2 || len(s.effective) != 1 || len(s.ambient) != 0 {
		t.Fatalf("resolved %+v", s)
	}
	_, err = Resolve(&configs.Capabilities{Permitted: []string{"kill", "bogus"}}, nil)
	if err == nil || !strings.Contains(err.Error(), `process.capabilities.permitted: unknown capability "bogus"`) {
		t.Fatalf("err %v", err)
	}
}
