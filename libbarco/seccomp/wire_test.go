package seccomp

import (
	"encoding/json"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestProgramJSONRoundTrip(t *testing.T) {
	p, err := Compile(&specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno},
			{Names: []string{"getppid"}, Action: specs.ActNotify},
		},
		ListenerPath: "/run/agent.sock",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var got Program
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, p) {
		t.Fatalf("program changed in transit: %d insns vs %d", got.Len(), p.Len())
	}
	if !got.Notify() {
		t.Error("notify flag lost")
	}
	if err := json.Unmarshal([]byte(`{"bpf":"AAAA"}`), &got); err == nil {
		t.Error("truncated program accepted")
	}
}
