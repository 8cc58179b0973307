package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func newTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := NewStore(filepath.Join(t.TempDir(), "run", "barco"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// lockedByOther reports whether another open file description cannot take
// the lock on dir right now. It never blocks.
func lockedByOther(t *testing.T, dir string) bool {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	err = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return true
	}
	if err != nil {
		t.Fatal(err)
	}
	return false
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestNewStore(t *testing.T) {
	t.Chdir(t.TempDir())
	s, err := NewStore("a/b")
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(s.Root) {
		t.Errorf("Root = %q, want an absolute path", s.Root)
	}
	fi, err := os.Stat(s.Root)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.IsDir() {
		t.Fatalf("%s is not a directory", s.Root)
	}
	// An existing root is fine.
	if _, err := NewStore(s.Root); err != nil {
		t.Errorf("NewStore on an existing root: %v", err)
	}
}

func TestCreate(t *testing.T) {
	s := newTestStore(t)
	h, err := s.Create("c1")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if h.ID != "c1" || h.Dir != filepath.Join(s.Root, "c1") {
		t.Errorf("handle = {ID: %q, Dir: %q}", h.ID, h.Dir)
	}
	fi, err := os.Stat(h.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.IsDir() {
		t.Fatalf("%s is not a directory", h.Dir)
	}
	if !lockedByOther(t, h.Dir) {
		t.Error("Create returned an unlocked container")
	}
	if got := dirNames(t, s.Root); !reflect.DeepEqual(got, []string{"c1"}) {
		t.Errorf("root holds %v, want only c1", got)
	}
}

func TestCreateTwice(t *testing.T) {
	s := newTestStore(t)
	h, err := s.Create("dup")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	_, err = s.Create("dup")
	if !errors.Is(err, ErrExist) {
		t.Fatalf("second Create: %v, want ErrExist", err)
	}
	if want := `container "dup" already exists`; err.Error() != want {
		t.Errorf("message = %q, want %q", err, want)
	}
	// The failed attempt leaves no temporary directory behind.
	if got := dirNames(t, s.Root); !reflect.DeepEqual(got, []string{"dup"}) {
		t.Errorf("root holds %v, want only dup", got)
	}
}

func TestCreateRace(t *testing.T) {
	s := newTestStore(t)
	const n = 16
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created int
		exist   int
		other   []error
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, err := s.Create("same")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				created++
				h.Close()
			case errors.Is(err, ErrExist):
				exist++
			default:
				other = append(other, err)
			}
		}()
	}
	wg.Wait()
	if created != 1 || exist != n-1 || len(other) != 0 {
		t.Errorf("created %d, exist %d, other errors %v; want 1, %d, none", created, exist, other, n-1)
	}
}

func TestCreateInvalidID(t *testing.T) {
	s := newTestStore(t)
	for _, id := range []string{"", "..", "../escape", "a/b"} {
		if _, err := s.Create(id); !errors.Is(err, ErrInvalidID) {
			t.Errorf("Create(%q): %v, want ErrInvalidID", id, err)
		}
	}
	if got := dirNames(t, s.Root); len(got) != 0 {
		t.Errorf("root holds %v after invalid creates", got)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(s.Root), "escape")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an invalid id created something outside the root: %v", err)
	}
}

func TestOpen(t *testing.T) {
	s := newTestStore(t)
	c, err := s.Create("c1")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	h, err := s.Open("c1")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if h.ID != "c1" || h.Dir != filepath.Join(s.Root, "c1") {
		t.Errorf("handle = {ID: %q, Dir: %q}", h.ID, h.Dir)
	}
	if lockedByOther(t, h.Dir) {
		t.Error("Open took the lock")
	}
}

func TestOpenNotExist(t *testing.T) {
	s := newTestStore(t)
	if err := os.WriteFile(filepath.Join(s.Root, "afile"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(t.TempDir(), filepath.Join(s.Root, "alink")); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"missing", "afile", "alink"} {
		_, err := s.Open(id)
		if !errors.Is(err, ErrNotExist) {
			t.Errorf("Open(%q): %v, want ErrNotExist", id, err)
			continue
		}
		if want := `container "` + id + `" does not exist`; err.Error() != want {
			t.Errorf("Open(%q) message = %q, want %q", id, err, want)
		}
	}
	if _, err := s.Open("../x"); !errors.Is(err, ErrInvalidID) {
		t.Errorf("Open(../x): %v, want ErrInvalidID", err)
	}
}

func TestList(t *testing.T) {
	s := newTestStore(t)
	for _, id := range []string{"zeta", "alpha", "Mid", "b-2", "b+1"} {
		h, err := s.Create(id)
		if err != nil {
			t.Fatal(err)
		}
		h.Close()
	}
	// Junk that is not a container.
	mustMkdir(t, filepath.Join(s.Root, ".hidden"))
	mustMkdir(t, filepath.Join(s.Root, ".new-x-abc"))
	mustMkdir(t, filepath.Join(s.Root, "has space"))
	if err := os.WriteFile(filepath.Join(s.Root, "plainfile"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(s.Root, "alpha"), filepath.Join(s.Root, "linktoalpha")); err != nil {
		t.Fatal(err)
	}
	got, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Mid", "alpha", "b+1", "b-2", "zeta"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List() = %v, want %v", got, want)
	}
}

func TestListEmptyAndMissingRoot(t *testing.T) {
	s := newTestStore(t)
	got, err := s.List()
	if err != nil || len(got) != 0 {
		t.Errorf("List() on an empty root = %v, %v", got, err)
	}
	missing := &Store{Root: filepath.Join(t.TempDir(), "gone")}
	got, err = missing.List()
	if err != nil || len(got) != 0 {
		t.Errorf("List() on a missing root = %v, %v", got, err)
	}
}

func mustMkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
}

func TestLockExclusive(t *testing.T) {
	s := newTestStore(t)
	first, err := s.Create("c1")
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	second, err := s.Open("c1")
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()

	done := make(chan error, 1)
	go func() { done <- second.Lock() }()

	// While first holds the lock, second cannot have it.
	select {
	case err := <-done:
		t.Fatalf("second Lock returned while the lock was held: %v", err)
	default:
	}
	if !lockedByOther(t, first.Dir) {
		t.Fatal("the lock taken by Create is not held")
	}

	if err := first.Unlock(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("second Lock: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("second Lock still blocked after Unlock")
	}
	if !lockedByOther(t, first.Dir) {
		t.Error("second Lock returned without holding the lock")
	}
	if err := second.Unlock(); err != nil {
		t.Fatal(err)
	}
	if lockedByOther(t, first.Dir) {
		t.Error("the lock is still held after both unlocked")
	}
}

func TestCloseReleasesLock(t *testing.T) {
	s := newTestStore(t)
	h, err := s.Create("c1")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if lockedByOther(t, filepath.Join(s.Root, "c1")) {
		t.Error("Close did not release the lock")
	}
	if err := h.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := h.Lock(); err == nil {
		t.Error("Lock on a closed handle succeeded")
	}
	if err := h.Save(&State{ID: "c1"}); err == nil {
		t.Error("Save on a closed handle succeeded")
	}
}

func TestLockAfterRemove(t *testing.T) {
	s := newTestStore(t)
	owner, err := s.Create("c1")
	if err != nil {
		t.Fatal(err)
	}
	waiter, err := s.Open("c1")
	if err != nil {
		t.Fatal(err)
	}
	defer waiter.Close()

	done := make(chan error, 1)
	go func() { done <- waiter.Lock() }()
	if err := owner.Remove(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrNotExist) {
			t.Errorf("Lock on a removed container: %v, want ErrNotExist", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Lock still blocked after the owner removed the container")
	}
}

func TestRemove(t *testing.T) {
	s := newTestStore(t)
	h, err := s.Create("c1")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Save(&State{ID: "c1", Pid: 1}); err != nil {
		t.Fatal(err)
	}
	if err := h.WriteFile("config.json", []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustMkdir(t, h.Path("sub"))
	if err := os.WriteFile(filepath.Join(h.Path("sub"), "f"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	// More entries than one read of the directory returns.
	for i := range 200 {
		name := fmt.Sprintf("file-%03d-%s", i, strings.Repeat("n", 40))
		if err := h.WriteFile(name, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(h.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("container directory still there: %v", err)
	}
	if got := dirNames(t, s.Root); len(got) != 0 {
		t.Errorf("root holds %v after Remove", got)
	}
	if _, err := s.Open("c1"); !errors.Is(err, ErrNotExist) {
		t.Errorf("Open after Remove: %v, want ErrNotExist", err)
	}
	if err := h.Close(); err != nil {
		t.Errorf("Close after Remove: %v", err)
	}
	// The id is free again.
	h2, err := s.Create("c1")
	if err != nil {
		t.Fatalf("Create after Remove: %v", err)
	}
	h2.Close()
}

func TestSaveLoad(t *testing.T) {
	s := newTestStore(t)
	h, err := s.Create("c1")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	want := &State{
		OCIVersion:   "1.3.0",
		ID:           "c1",
		Bundle:       "/bundles/c1",
		Rootfs:       "/bundles/c1/rootfs",
		Pid:          4242,
		PidStartTime: 987654321,
		CgroupPath:   "/sys/fs/cgroup/barco/c1",
		Created:      time.Date(2025, 6, 7, 8, 9, 10, 123456789, time.UTC),
		Owner:        "root",
		Annotations:  map[string]string{"org.example/a": "1", "b": ""},
		Paused:       true,
	}
	if err := h.Save(want); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(h.Path(StateFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state.json mode = %v, want 0600", fi.Mode().Perm())
	}
	got, err := h.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !got.Created.Equal(want.Created) {
		t.Errorf("Created = %v, want %v", got.Created, want.Created)
	}
	gotCopy, wantCopy := *got, *want
	gotCopy.Created, wantCopy.Created = time.Time{}, time.Time{}
	if !reflect.DeepEqual(gotCopy, wantCopy) {
		t.Errorf("Load() = %+v, want %+v", gotCopy, wantCopy)
	}

	// A second Save replaces the first and leaves no temporary file.
	want.Pid, want.Paused = 5, false
	if err := h.Save(want); err != nil {
		t.Fatal(err)
	}
	got, err = h.Load()
	if err != nil {
		t.Fatal(err)
	}
	if got.Pid != 5 || got.Paused {
		t.Errorf("after the second Save: pid %d paused %v, want 5 false", got.Pid, got.Paused)
	}
	if names := dirNames(t, h.Dir); !reflect.DeepEqual(names, []string{StateFile}) {
		t.Errorf("container directory holds %v, want only %s", names, StateFile)
	}

	// Another handle on the same container sees the saved state.
	other, err := s.Open("c1")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	got, err = other.Load()
	if err != nil || got.Pid != 5 {
		t.Errorf("Load through another handle = %+v, %v", got, err)
	}
}

func TestLoadNotCreated(t *testing.T) {
	s := newTestStore(t)
	h, err := s.Create("c1")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	_, err = h.Load()
	if !errors.Is(err, ErrNotCreated) {
		t.Fatalf("Load without state.json: %v, want ErrNotCreated", err)
	}
	if !strings.Contains(err.Error(), `"c1"`) {
		t.Errorf("message %q does not name the container", err)
	}
}

func TestLoadBadStateFile(t *testing.T) {
	tests := []struct {
		name    string
		content string
		wantErr string
	}{
		{name: "truncated", content: `{"id":"c1","pid":`, wantErr: "parse"},
		{name: "not json", content: "garbage", wantErr: "parse"},
		{name: "wrong type", content: `{"id":"c1","pid":"one"}`, wantErr: "parse"},
		{name: "other id", content: `{"id":"c2"}`, wantErr: `holds id "c2"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t)
			h, err := s.Create("c1")
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			if err := os.WriteFile(h.Path(StateFile), []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err = h.Load()
			if err == nil {
				t.Fatal("Load of a bad state.json succeeded")
			}
			if errors.Is(err, ErrNotCreated) {
				t.Errorf("bad state.json reported as not created: %v", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, h.Path(StateFile)) || !strings.Contains(msg, tt.wantErr) {
				t.Errorf("error %q should name %s and contain %q", msg, h.Path(StateFile), tt.wantErr)
			}
		})
	}
}

func TestWriteReadFile(t *testing.T) {
	s := newTestStore(t)
	h, err := s.Create("c1")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for _, perm := range []os.FileMode{0o600, 0o644, 0o640, 0o400} {
		data := []byte("content for " + perm.String())
		if err := h.WriteFile("config.json", data, perm); err != nil {
			t.Fatalf("WriteFile(%v): %v", perm, err)
		}
		got, err := h.ReadFile("config.json")
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(data) {
			t.Errorf("ReadFile = %q, want %q", got, data)
		}
		fi, err := os.Stat(h.Path("config.json"))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != perm {
			t.Errorf("mode = %v, want %v", fi.Mode().Perm(), perm)
		}
	}
	if names := dirNames(t, h.Dir); !reflect.DeepEqual(names, []string{"config.json"}) {
		t.Errorf("container directory holds %v, want only config.json", names)
	}
	if _, err := h.ReadFile("absent"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadFile of a missing file: %v, want os.ErrNotExist", err)
	}
}

func TestWriteFileReplacesSymlink(t *testing.T) {
	s := newTestStore(t)
	h, err := s.Create("c1")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	outside := filepath.Join(t.TempDir(), "outside")
	if err := os.WriteFile(outside, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, h.Path("link")); err != nil {
		t.Fatal(err)
	}
	if _, err := h.ReadFile("link"); err == nil {
		t.Error("ReadFile followed a symlink")
	}
	if err := h.WriteFile("link", []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(outside); string(data) != "keep" {
		t.Errorf("WriteFile wrote through a symlink: outside file holds %q", data)
	}
	fi, err := os.Lstat(h.Path("link"))
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Mode().IsRegular() {
		t.Errorf("link is %v after WriteFile, want a regular file", fi.Mode())
	}
}

func TestFileNameValidation(t *testing.T) {
	s := newTestStore(t)
	h, err := s.Create("c1")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for _, name := range []string{"", ".", "..", "a/b", "../escape", "/abs"} {
		if err := h.WriteFile(name, []byte("x"), 0o600); err == nil {
			t.Errorf("WriteFile(%q) succeeded", name)
		}
		if _, err := h.ReadFile(name); err == nil {
			t.Errorf("ReadFile(%q) succeeded", name)
		}
	}
	if _, err := os.Stat(filepath.Join(s.Root, "escape")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("WriteFile escaped the container directory: %v", err)
	}
}

func TestPath(t *testing.T) {
	h := &Handle{ID: "c1", Dir: "/run/barco/c1", fd: -1}
	if got := h.Path("exec.fifo"); got != "/run/barco/c1/exec.fifo" {
		t.Errorf("Path = %q", got)
	}
}

func TestCreateLongID(t *testing.T) {
	s := newTestStore(t)
	id := strings.Repeat("n", 255) // NAME_MAX: the longest directory name
	h, err := s.Create(id)
	if err != nil {
		t.Fatalf("Create of a %d-byte id: %v", len(id), err)
	}
	h.Close()
	got, err := s.List()
	if err != nil || !reflect.DeepEqual(got, []string{id}) {
		t.Errorf("List() = %v, %v", got, err)
	}
}

// A temporary directory nobody holds is an abandoned create and goes; one
// whose create still holds it (locked), a container and other hidden
// entries stay.
func TestSweepAbandoned(t *testing.T) {
	s := newTestStore(t)
	h, err := s.Create("kept")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	abandoned := filepath.Join(s.Root, tmpPrefix+"dead")
	mustMkdir(t, abandoned)
	busy := filepath.Join(s.Root, tmpPrefix+"busy")
	mustMkdir(t, busy)
	fd, err := openLockedDir(busy)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	other := filepath.Join(s.Root, ".seccomp-cache")
	mustMkdir(t, other)

	if err := s.SweepAbandoned(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(abandoned); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("abandoned %s is still there: %v", abandoned, err)
	}
	for _, p := range []string{busy, other, filepath.Join(s.Root, "kept")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	// A missing root has nothing to sweep.
	if err := (&Store{Root: filepath.Join(s.Root, "missing")}).SweepAbandoned(); err != nil {
		t.Errorf("missing root: %v", err)
	}
}

func TestHas(t *testing.T) {
	s := newTestStore(t)
	h, err := s.Create("c1")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := unix.Mkfifo(h.Path("exec.fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/nonexistent", h.Path("dangling")); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"exec.fifo": true, "dangling": true, "missing": false, "../c1": false, "": false} {
		if got := h.Has(name); got != want {
			t.Errorf("Has(%q) = %v, want %v", name, got, want)
		}
	}
}
