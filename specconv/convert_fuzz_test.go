package specconv

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/barco-oci/barco/libbarco/configs"
)

// FuzzLoadAndConvert feeds arbitrary bytes as config.json through the same
// path `barco create` takes. Whatever the input, LoadSpec and Convert must
// return (never panic), a failure must say what is wrong, and an accepted
// spec must give an engine config the rest of barco can rely on.
func FuzzLoadAndConvert(f *testing.F) {
	example, err := json.Marshal(Example())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	// One bundle per fuzzing process; each input replaces its config.json.
	bundle := f.TempDir()
	if err := os.Mkdir(filepath.Join(bundle, "rootfs"), 0o755); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		spec, err := LoadSpec(bundle)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("LoadSpec failed with an empty message")
			}
			return
		}
		cfg, err := Convert(spec, Options{Bundle: bundle})
		if err != nil {
			if err.Error() == "" {
				t.Fatal("Convert failed with an empty message")
			}
			return
		}
		if !filepath.IsAbs(cfg.Rootfs) || !filepath.IsAbs(cfg.Bundle) {
			t.Fatalf("accepted spec gives a relative rootfs %q or bundle %q", cfg.Rootfs, cfg.Bundle)
		}
		// A spec without a process is accepted (start refuses it later);
		// one with a process must have args and an absolute cwd.
		if spec.Process != nil {
			if len(cfg.Process.Args) == 0 {
				t.Fatal("accepted spec has no process.args")
			}
			if !filepath.IsAbs(cfg.Process.Cwd) {
				t.Fatalf("accepted spec has a relative cwd %q", cfg.Process.Cwd)
			}
		} else if len(cfg.Process.Args) != 0 {
			t.Fatal("a spec without a process got process args")
		}
		for i, m := range cfg.Mounts {
			if !filepath.IsAbs(m.Destination) {
				t.Fatalf("accepted mount %d has a relative destination %q", i, m.Destination)
			}
		}
		// The engine config is stored as JSON and read back by every later
		// command: it must survive that trip unchanged.
		enc, err := configs.Encode(cfg)
		if err != nil {
			t.Fatalf("encode accepted config: %v", err)
		}
		again, err := Convert(spec, Options{Bundle: bundle})
		if err != nil {
			t.Fatalf("second Convert of the same spec failed: %v", err)
		}
		if !reflect.DeepEqual(cfg, again) {
			t.Fatalf("Convert is not deterministic:\n%+v\n%+v", cfg, again)
		}
		var back configs.Config
		if err := configs.Decode(enc, &back); err != nil {
			t.Fatalf("decode accepted config: %v", err)
		}
		if !reflect.DeepEqual(&back, cfg) {
			t.Fatalf("config does not survive a round trip through its stored form:\n%+v\n%+v", cfg, &back)
		}
	})
}

// FuzzDecodeLikeEncodingJSON holds the generated config.json decoder to
// encoding/json's verdicts and values. The one difference allowed is by
// design: keys must match exactly, where encoding/json also takes another
// letter case. So {"VM": ""} is a config with an unknown key for barco
// (and crun), and a vm section of the wrong type for encoding/json.
func FuzzDecodeLikeEncodingJSON(f *testing.F) {
	example, err := json.Marshal(Example())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte(`{"ociVersion": "1.0.0", "process": {"args": ["sh"], "user": {"uid": 1}}, "linux": {"resources": {"memory": {"limit": 5}}}}`))
	f.Add([]byte(`{"ociVersion": null, "unknown": [1, {"a": [}]}`))
	f.Add([]byte(`{"hostname": "\ud800\udc00\ud800x\u0000", "domainname": "\udfff"}`))
	f.Add([]byte(`{"process": {"user": {"uid": 1e2}, "consoleSize": {"height": -0}, "oomScoreAdj": 99999999999999999999}}`))
	f.Add([]byte(`{"process": {"args": ["a"], "args": null}, "Hostname": "x", "hostname": "y"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeSpec(data)
		var want specs.Spec
		wantErr := json.Unmarshal(data, &want)
		if hasCaseVariantKey(data) {
			return
		}
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("decodeSpec error %v, encoding/json error %v", err, wantErr)
		}
		if err != nil || reflect.DeepEqual(got, &want) {
			return
		}
		t.Fatalf("decodeSpec gives\n%+v\nencoding/json gives\n%+v", got, &want)
	})
}

// hasCaseVariantKey reports whether data has an object key that is a
// field name of the spec in another letter case.
func hasCaseVariantKey(data []byte) bool {
	names := map[string]bool{}
	specKeys(reflect.TypeOf(specs.Spec{}), names, map[reflect.Type]bool{})
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if key, ok := tok.(string); ok && !names[key] {
			for name := range names {
				if strings.EqualFold(key, name) {
					return true
				}
			}
		}
	}
}

// specKeys collects the JSON keys of t and the types under it.
func specKeys(t reflect.Type, names map[string]bool, seen map[reflect.Type]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map || t.Kind() == reflect.Array {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] {
		return
	}
	seen[t] = true
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		names[name] = true
		specKeys(f.Type, names, seen)
	}
}
