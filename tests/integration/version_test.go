package integration

import (
	"os"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	requireEnv(t)
	res := runCmd(t, env.binary, "--version")
	if res.Code != 0 {
		t.Fatalf("--version failed\n%s", res)
	}
	want, err := os.ReadFile("../../VERSION")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(res.Stdout, "\n")
	if len(lines) < 3 {
		t.Fatalf("--version prints %q, want at least 3 lines", res.Stdout)
	}
	if got, want := lines[0], "barco version "+strings.TrimSpace(string(want)); got != want {
		t.Errorf("first line %q, want %q", got, want)
	}
	if commit, ok := strings.CutPrefix(lines[1], "commit: "); !ok || strings.TrimSpace(commit) == "" {
		t.Errorf("second line %q, want \"commit: <hash>\"", lines[1])
	}
	if lines[2] != "spec: 1.3.0" {
		t.Errorf("third line %q, want \"spec: 1.3.0\"", lines[2])
	}
}
