package seccomp

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/mailru/easyjson/jwriter"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/barco-oci/barco/internal/fill"
)

// countingCompile wraps Compile and counts how often libseccomp is entered.
type countingCompile struct{ n int }

func (c *countingCompile) compile(s *specs.LinuxSeccomp, log *slog.Logger) (*Program, error) {
	c.n++
	return Compile(s, log)
}

func cacheEntries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, filepath.Join(dir, e.Name()))
	}
	return names
}

func TestCompileCachedHit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "seccomp")
	s := loadProfile(t, "large-profile.json")
	var c countingCompile

	first, err := compileCached(dir, s, nil, c.compile)
	if err != nil {
		t.Fatal(err)
	}
	entries := cacheEntries(t, dir)
	if len(entries) != 1 {
		t.Fatalf("cache holds %v, want one entry", entries)
	}
	st, err := os.Stat(entries[0])
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("entry mode %v, want 0600", st.Mode().Perm())
	}
	if dst, err := os.Stat(dir); err != nil {
		t.Error(err)
	} else if dst.Mode().Perm() != 0o700 {
		t.Errorf("cache dir mode %v, want 0700", dst.Mode().Perm())
	}

	second, err := compileCached(dir, s, nil, c.compile)
	if err != nil {
		t.Fatal(err)
	}
	if c.n != 1 {
		t.Errorf("libseccomp compiled %d times for two calls with the same profile, want 1", c.n)
	}
	if !reflect.DeepEqual(first, second) {
		t.Error("cached program differs from the compiled one")
	}
	// The public entry point finds the entry written through the hook.
	third, err := CompileCached(dir, s, nil)
	if err != nil || !reflect.DeepEqual(first, third) {
		t.Errorf("CompileCached: %v, same program: %v", err, reflect.DeepEqual(first, third))
	}

	// Another profile gets its own entry.
	s.Syscalls = s.Syscalls[:1]
	if _, err := compileCached(dir, s, nil, c.compile); err != nil {
		t.Fatal(err)
	}
	if c.n != 2 || len(cacheEntries(t, dir)) != 2 {
		t.Errorf("after a second profile: %d compilations, entries %v; want 2 and 2", c.n, cacheEntries(t, dir))
	}
}

func TestCompileCachedBadEntry(t *testing.T) {
	damage := map[string]func([]byte) []byte{
		"flipped byte": func(b []byte) []byte { b[len(b)/2] ^= 0x40; return b },
		"truncated":    func(b []byte) []byte { return b[:len(b)-sockFilterSize-3] },
		"empty":        func([]byte) []byte { return nil },
		"garbage": func(b []byte) []byte {
			return []byte("not a filter at all, but long enough to pass a length check.......")
		},
	}
	for name, mangle := range damage {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s := smallProfile()
			var c countingCompile
			want, err := compileCached(dir, s, nil, c.compile)
			if err != nil {
				t.Fatal(err)
			}
			path := cacheEntries(t, dir)[0]
			good, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, mangle(append([]byte(nil), good...)), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := compileCached(dir, s, nil, c.compile)
			if err != nil {
				t.Fatal(err)
			}
			if c.n != 2 {
				t.Errorf("damaged entry: %d compilations, want 2", c.n)
			}
			if !reflect.DeepEqual(got, want) {
				t.Error("recompiled program differs")
			}
			if repaired, _ := os.ReadFile(path); string(repaired) != string(good) {
				t.Error("damaged entry was not rewritten")
			}
		})
	}
}

func TestCompileCachedWrongKey(t *testing.T) {
	// An intact entry stored under another profile's name is not used.
	dir := t.TempDir()
	var c countingCompile
	a, b := smallProfile(), smallProfile()
	b.DefaultAction = specs.ActKillProcess
	if _, err := compileCached(dir, a, nil, c.compile); err != nil {
		t.Fatal(err)
	}
	keyB, err := cacheKey(b)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(cacheEntries(t, dir)[0])
	if err := os.WriteFile(filepath.Join(dir, keyName(keyB)), data, 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := compileCached(dir, b, nil, c.compile)
	if err != nil {
		t.Fatal(err)
	}
	if c.n != 2 {
		t.Errorf("%d compilations, want 2: the entry of another key was used", c.n)
	}
	want, _ := Compile(b, nil)
	if !reflect.DeepEqual(p, want) {
		t.Error("program is not the one for the profile asked")
	}
}

func TestCompileCachedUnsafeDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	var c countingCompile
	if _, err := compileCached(dir, smallProfile(), nil, c.compile); err == nil {
		t.Error("a world-writable cache dir was accepted")
	}
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := compileCached(file, smallProfile(), nil, c.compile); err == nil {
		t.Error("a regular file was accepted as cache dir")
	}
	if c.n != 0 {
		t.Errorf("compiled %d times despite the error", c.n)
	}
}

func TestCompileCachedInvalid(t *testing.T) {
	dir := t.TempDir()
	s := smallProfile()
	s.Architectures = []specs.Arch{"SCMP_ARCH_PDP11"}
	if _, err := CompileCached(dir, s, nil); err == nil || err.Error() != `linux.seccomp.architectures[0]: unknown architecture "SCMP_ARCH_PDP11"` {
		t.Errorf("CompileCached of an invalid profile: %v", err)
	}
	if n := len(cacheEntries(t, dir)); n != 0 {
		t.Errorf("%d entries written for an invalid profile", n)
	}
}

// The cache key spells out every field of the profile: a field its
// generated encoder missed would give two profiles one key, and one of
// them the other's program.
func TestCacheKeyCoversEveryField(t *testing.T) {
	var s specs.LinuxSeccomp
	fill.Fill(&s)
	var w jwriter.Writer
	keyProfile{&s}.MarshalEasyJSON(&w)
	data, err := w.BuildBytes()
	if err != nil {
		t.Fatal(err)
	}
	var back keyProfile
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Profile, &s) {
		t.Errorf("the cache key leaves out fields (run make generate):\n%s", data)
	}
}
