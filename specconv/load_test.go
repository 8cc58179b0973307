package specconv

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/barco-oci/barco/internal/fill"
)

func TestLoadSpecErrors(t *testing.T) {
	dir := t.TempDir()
	missingDir := filepath.Join(dir, "nobundle")
	emptyBundle := filepath.Join(dir, "empty")
	badBundle := filepath.Join(dir, "bad")
	fileBundle := filepath.Join(dir, "file")
	for _, d := range []string{emptyBundle, badBundle} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(badBundle, "config.json"), []byte("{\n  \"ociVersion\": \"1.0.0\",\n  \"process\": {,\n}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fileBundle, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		bundle   string
		want     []string
		notExist bool
	}{
		{"missing bundle", missingDir, []string{"bundle " + missingDir + ": no such file or directory"}, true},
		{"bundle is a file", fileBundle, []string{"bundle " + fileBundle + ": not a directory"}, false},
		{"missing config", emptyBundle, []string{filepath.Join(emptyBundle, "config.json") + ": no such file or directory"}, true},
		{"invalid JSON", badBundle, []string{filepath.Join(badBundle, "config.json") + ": invalid JSON: ", "line 3"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadSpec(tt.bundle)
			if err == nil {
				t.Fatal("LoadSpec succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if errors.Is(err, fs.ErrNotExist) != tt.notExist {
				t.Errorf("errors.Is(%v, fs.ErrNotExist) = %v, want %v", err, !tt.notExist, tt.notExist)
			}
		})
	}
}

func TestLoadSpecTypeError(t *testing.T) {
	bundle := t.TempDir()
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), []byte(`{"ociVersion": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadSpec(bundle)
	if err == nil || !strings.Contains(err.Error(), "invalid JSON: line 1") || !strings.Contains(err.Error(), "ociVersion") {
		t.Fatalf("got %v, want a located type error", err)
	}
}

// The example must survive a round trip through config.json, since that
// is how `barco spec` hands it to `barco run`; unknown fields are ignored.
func TestLoadSpecRoundTrip(t *testing.T) {
	bundle := t.TempDir()
	data, err := json.MarshalIndent(Example(), "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	data = append(data[:len(data)-1], []byte(",\"futureField\": {\"x\": 1}}")...)
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	spec, err := LoadSpec(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(spec, Example()) {
		t.Errorf("round trip changed the spec:\n%+v\n%+v", spec, Example())
	}
}

// TestDecodeSpecMatchesFullDecode: the Linux-only decode gives what a
// decode into specs.Spec gives, and a config with another platform's
// section is decoded whole (and checked).
func TestDecodeSpecMatchesFullDecode(t *testing.T) {
	for _, doc := range []string{
		`{"ociVersion":"1.2.0","process":{"args":["sh"],"cwd":"/","user":{"uid":1,"gid":2}},"root":{"path":"rootfs","readonly":true},` +
			`"hostname":"h","domainname":"d","mounts":[{"destination":"/proc","type":"proc","source":"proc"}],` +
			`"hooks":{"poststop":[{"path":"/bin/true"}]},"annotations":{"a":"b"},` +
			`"linux":{"namespaces":[{"type":"pid"}],"maskedPaths":["/proc/kcore"],"resources":{"pids":{"limit":5}}}}`,
		`{"ociVersion":"1.2.0","windows":{"layerFolders":["c:\\x"]},"linux":{}}`,
		`{"ociVersion":"1.2.0","vm":{"hypervisor":{"path":"/qemu"}}}`,
		`{}`,
	} {
		got, err := decodeSpec([]byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		var want specs.Spec
		if err := json.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", doc, *got, want)
		}
	}
	for _, doc := range []string{`{"windows":5}`, `{"process":{"args":"sh"}}`, `{"linux":{"namespaces":{}}}`} {
		if _, err := decodeSpec([]byte(doc)); err == nil {
			t.Errorf("%s: decoded without error", doc)
		}
	}
}

// The generated decoder of config.json knows every field of the spec's
// Linux types: one added to runtime-spec without a `make generate` would be
// dropped without a word.
func TestGeneratedDecoderCoversEveryField(t *testing.T) {
	var full config
	fill.Fill(&full)
	full.Solaris, full.Windows, full.VM, full.ZOS, full.FreeBSD = nil, nil, nil, nil, nil
	data, err := json.Marshal(stdConfig(full))
	if err != nil {
		t.Fatal(err)
	}
	var got config
	if !decodeGenerated(data, &got) {
		t.Fatalf("the generated decoder refuses %s", data)
	}
	var want stdConfig
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, config(want)) {
		t.Errorf("the generated decoder loses fields (run make generate):\n%+v\nwant\n%+v", got, config(want))
	}
}
