package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Malformed and adversarial config.json files: each gets a clear error
// naming the field, exit code 1, and leaves nothing behind. Each case is a
// jq-free edit of the default config's JSON text.
func TestAdversarialConfigs(t *testing.T) {
	huge := `"` + strings.Repeat("x", 1<<20) + `"`
	manyMounts := `[` + strings.TrimSuffix(strings.Repeat(`{"destination":"relative","type":"tmpfs","source":"tmpfs"},`, 5000), ",") + `]`
	cases := []struct {
		name    string
		edit    func(string) string
		wantErr []string
	}{
		{"args of the wrong type", replace(`"args": [`, `"args": 7, "x": [`), []string{"config.json", "invalid JSON"}},
		{"mounts of the wrong type", replace(`"mounts": [`, `"mounts": {"a": 1}, "x": [`), []string{"config.json", "invalid JSON"}},
		{"huge hostname", replace(`"hostname": "barco"`, `"hostname": `+huge), []string{"hostname"}},
		{"thousands of relative mounts", replace(`"mounts": [`, `"mounts": `+manyMounts+`, "x": [`), []string{"mounts[0].destination", "absolute"}},
		{"invalid mount option", replace(`"nosuid",`, `"nosuid", "idmap",`), []string{"mounts[1].uidMappings", "idmap"}},
		{"relative cwd", replace(`"cwd": "/"`, `"cwd": "tmp"`), []string{"process.cwd"}},
		{"duplicate namespace", replace(`{
				"type": "pid"
			},`, `{
				"type": "pid"
			},
			{
				"type": "pid"
			},`), []string{"linux.namespaces[1]", "pid"}},
		{"unknown capability", replace(`"CAP_KILL",`, `"CAP_KILL", "CAP_TAKE_OVER_THE_WORLD",`), []string{"process.capabilities", "CAP_TAKE_OVER_THE_WORLD"}},
		{"unknown rlimit", replace(`"RLIMIT_NOFILE"`, `"RLIMIT_EVERYTHING"`), []string{"process.rlimits[0]"}},
		{"unknown namespace", replace(`"type": "pid"`, `"type": "galaxy"`), []string{"linux.namespaces[0].type", "galaxy"}},
		{"bad ociVersion", replace(`"ociVersion": "`, `"ociVersion": "9`), []string{"ociVersion"}},
		{"not JSON at all", func(string) string { return "\x00\x01 not json" }, []string{"config.json", "invalid JSON"}},
		{"truncated", func(s string) string { return s[:len(s)/2] }, []string{"config.json", "invalid JSON"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newRuntime(t).newContainer("true")
			path := filepath.Join(c.bundle, "config.json")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			edited := tc.edit(string(data))
			if edited == string(data) {
				t.Fatalf("the edit did not apply to the default config")
			}
			writeFile(t, path, edited)
			res := c.barco("create", "--bundle", c.bundle, c.id)
			if res.Code != 1 {
				t.Errorf("exit code %d, want 1", res.Code)
			}
			expectFailure(t, c, res, c.id, tc.wantErr...)
		})
	}
}

// replace edits the first occurrence of old.
func replace(old, new string) func(string) string {
	return func(s string) string { return strings.Replace(s, old, new, 1) }
}
