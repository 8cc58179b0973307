package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// FuzzLoad treats arbitrary bytes as a container's state.json, as a
// corrupted or hostile --root could hold. Load must return, never panic; a
// state it accepts must belong to the container, print as OCI state for
// every status, and survive Save and Load unchanged.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(`{"ociVersion":"1.3.0","id":"fuzz","bundle":"/b","rootfs":"/b/rootfs","pid":42,"pid_start_time":7,"cgroup_path":"/sys/fs/cgroup/x","created":"2024-01-02T03:04:05Z","owner":"root"}`))
	// One store per fuzzing process; each input gets a fresh container.
	s, err := NewStore(filepath.Join(f.TempDir(), "root"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := s.Create("fuzz")
		if err != nil {
			t.Fatal(err)
		}
		defer h.Remove()
		if err := os.WriteFile(h.Path(StateFile), data, 0o600); err != nil {
			t.Fatal(err)
		}
		st, err := h.Load()
		if err != nil {
			if errors.Is(err, ErrNotCreated) || err.Error() == "" {
				t.Fatalf("a present state file gives %v", err)
			}
			return
		}
		if st.ID != "fuzz" {
			t.Fatalf("Load accepted the state of %q for container fuzz", st.ID)
		}
		for _, status := range []string{StatusCreating, StatusCreated, StatusRunning, StatusPaused, StatusStopped} {
			oci := st.OCI(status)
			if oci.Status != status || oci.ID != st.ID {
				t.Fatalf("OCI(%s) = %+v", status, oci)
			}
			if status == StatusStopped && oci.Pid != 0 {
				t.Fatalf("a stopped container reports pid %d", oci.Pid)
			}
			if _, err := json.Marshal(oci); err != nil {
				t.Fatalf("OCI state of an accepted state.json does not encode: %v", err)
			}
		}
		want, err := json.Marshal(st)
		if err != nil {
			// encoding/json refuses some values it decodes (a year beyond
			// 9999); Save must then fail cleanly rather than write garbage.
			if serr := h.Save(st); serr == nil {
				t.Fatalf("Save wrote a state json.Marshal refuses: %v", err)
			}
			return
		}
		if err := h.Save(st); err != nil {
			t.Fatalf("Save of an accepted state: %v", err)
		}
		again, err := h.Load()
		if err != nil {
			t.Fatalf("Load after Save: %v", err)
		}
		got, _ := json.Marshal(again)
		if string(got) != string(want) {
			t.Fatalf("state changed through Save and Load:\n%s\n%s", want, got)
		}
	})
}

// FuzzParseStat: the command name in /proc/PID/stat is chosen by whoever
// runs the process (inside a container too) and may hold spaces, ')' and
// fake fields; the start time and state must still come from the kernel's
// own fields after it.
func FuzzParseStat(f *testing.F) {
	f.Add("sleep", uint64(98765))
	f.Add(") R 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 (", uint64(1))
	f.Fuzz(func(t *testing.T, comm string, start uint64) {
		line := "1234 (" + comm + ") S 1 1234 1234 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 " +
			strconv.FormatUint(start, 10) + " 1000 100 18446744073709551615\n"
		gotStart, st, err := parseStat([]byte(line))
		if err != nil {
			t.Fatalf("parseStat(%q): %v", line, err)
		}
		if gotStart != start || st != 'S' {
			t.Fatalf("parseStat(%q) = %d %q, want %d 'S'", line, gotStart, st, start)
		}
	})
}

// FuzzValidateID: an id ValidateID accepts must be usable as exactly one
// directory under the root, and one it refuses must never create anything.
func FuzzValidateID(f *testing.F) {
	f.Add("abc")
	root := filepath.Join(f.TempDir(), "root")
	s, err := NewStore(root)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, id string) {
		h, err := s.Create(id)
		entries, rerr := os.ReadDir(root)
		if rerr != nil {
			t.Fatal(rerr)
		}
		if ValidateID(id) != nil {
			if err == nil || !errors.Is(err, ErrInvalidID) {
				t.Fatalf("Create(%s) of an invalid id: %v", shortID(id), err)
			}
			if len(entries) != 0 {
				t.Fatalf("Create(%s) of an invalid id left %v", shortID(id), entries)
			}
			return
		}
		if err != nil {
			t.Fatalf("Create(%s) of a valid id failed: %v", shortID(id), err)
		}
		defer h.Remove()
		if len(entries) != 1 || entries[0].Name() != id || !entries[0].IsDir() {
			t.Fatalf("Create(%s) made %v, want exactly one directory named by the id", shortID(id), entries)
		}
		if h.Dir != filepath.Join(root, id) || filepath.Dir(h.Dir) != root {
			t.Fatalf("Create(%s) made the directory %s outside %s", shortID(id), h.Dir, root)
		}
	})
}

// shortID names a possibly huge fuzzed id in a message.
func shortID(id string) string {
	if len(id) <= 40 {
		return strconv.Quote(id)
	}
	return fmt.Sprintf("%q... (%d bytes)", id[:40], len(id))
}
