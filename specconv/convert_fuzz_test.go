package specconv

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

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
		enc, err := json.Marshal(cfg)
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
		if err := json.Unmarshal(enc, &back); err != nil {
			t.Fatalf("decode accepted config: %v", err)
		}
		reenc, err := json.Marshal(&back)
		if err != nil || string(reenc) != string(enc) {
			t.Fatalf("config does not survive a JSON round trip: %v\n%s\n%s", err, enc, reenc)
		}
	})
}
