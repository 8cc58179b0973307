package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mailru/easyjson/buffer"
	"github.com/mailru/easyjson/jlexer"
	"github.com/mailru/easyjson/jwriter"
	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/internal/sysfile"
)

// StateFile is the name of the state file inside a container directory.
const StateFile = "state.json"

// Handle is an open container directory. File operations go through the
// directory fd, so they keep acting on the directory that was opened (and
// maybe locked) even if the path is replaced. A Handle is not safe for
// concurrent use by several goroutines.
type Handle struct {
	ID  string
	Dir string
	fd  int
}

var errClosed = errors.New("handle is closed")

// Lock takes the exclusive lock on the container, waiting for any other
// holder. If the container was removed while we waited, the lock is released
// and the error matches ErrNotExist.
func (h *Handle) Lock() error {
	if h.fd < 0 {
		return fmt.Errorf("lock container %q: %w", h.ID, errClosed)
	}
	if err := flock(h.fd, unix.LOCK_EX); err != nil {
		return fmt.Errorf("lock container %q: %w", h.ID, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(h.fd, &st); err != nil {
		_ = flock(h.fd, unix.LOCK_UN)
		return fmt.Errorf("lock container %q: stat: %w", h.ID, err)
	}
	// A removed directory has no links left; holding its lock means nothing.
	if st.Nlink == 0 {
		_ = flock(h.fd, unix.LOCK_UN)
		return errNotExist(h.ID)
	}
	return nil
}

// Unlock releases the lock taken by Lock or Create.
func (h *Handle) Unlock() error {
	if h.fd < 0 {
		return fmt.Errorf("unlock container %q: %w", h.ID, errClosed)
	}
	if err := flock(h.fd, unix.LOCK_UN); err != nil {
		return fmt.Errorf("unlock container %q: %w", h.ID, err)
	}
	return nil
}

// Close releases the lock, if held, and the directory fd. Closing twice is a
// no-op.
func (h *Handle) Close() error {
	if h.fd < 0 {
		return nil
	}
	err := unix.Close(h.fd)
	h.fd = -1
	if err != nil {
		return fmt.Errorf("close container %q: %w", h.ID, err)
	}
	return nil
}

// Remove deletes the container directory with everything in it and closes
// the handle.
func (h *Handle) Remove() error {
	rmErr := h.removeDir()
	if rmErr != nil {
		rmErr = fmt.Errorf("remove container %q: %w", h.ID, rmErr)
	}
	return errors.Join(rmErr, h.Close())
}

// removeDir empties the directory through the handle's fd (a container
// directory holds a few files) and removes it; anything the fd cannot
// list or unlink, such as a subdirectory, goes to os.RemoveAll, which also
// takes the directory itself if some entry is left.
func (h *Handle) removeDir() error {
	if h.fd < 0 {
		return os.RemoveAll(h.Dir)
	}
	if _, err := unix.Seek(h.fd, 0, 0); err != nil {
		return os.RemoveAll(h.Dir)
	}
	buf := make([]byte, 4096)
	var names []string
	for {
		n, err := unix.ReadDirent(h.fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return os.RemoveAll(h.Dir)
		}
		if n == 0 {
			break
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
	for _, name := range names {
		err := unix.Unlinkat(h.fd, name, 0)
		if err == nil || err == unix.ENOENT {
			continue
		}
		if err := os.RemoveAll(filepath.Join(h.Dir, name)); err != nil {
			return err
		}
	}
	if err := unix.Rmdir(h.Dir); err != nil && err != unix.ENOENT {
		return os.RemoveAll(h.Dir)
	}
	return nil
}

// Path returns the path of name inside the container directory.
func (h *Handle) Path(name string) string {
	return filepath.Join(h.Dir, name)
}

// Save replaces state.json atomically: readers see the old or the new state,
// never a torn one. There is no fsync: the root normally lives on tmpfs, and
// the state is meaningless after a reboot anyway.
func (h *Handle) Save(st *State) error {
	// Room for a usual state.json at once (the writer's own buffer starts
	// at 128 bytes and grows by chunks, copied together at the end).
	w := jwriter.Writer{Buffer: buffer.Buffer{Buf: make([]byte, 0, 1024)}}
	st.MarshalEasyJSON(&w)
	data, err := w.BuildBytes()
	if err != nil {
		return fmt.Errorf("save container %q: %w", h.ID, err)
	}
	if err := h.WriteFile(StateFile, data, 0o600); err != nil {
		return fmt.Errorf("save container %q: %w", h.ID, err)
	}
	return nil
}

// Load reads state.json. A container whose creator has not saved it yet
// gives an error matching ErrNotCreated.
func (h *Handle) Load() (*State, error) {
	data, err := h.ReadFile(StateFile)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, errNotCreated(h.ID)
		}
		return nil, fmt.Errorf("load container %q: %w", h.ID, err)
	}
	st, err := decodeState(data)
	if err != nil {
		return nil, fmt.Errorf("load container %q: parse %s: %w", h.ID, h.Path(StateFile), err)
	}
	if st.ID != h.ID {
		return nil, fmt.Errorf("load container %q: %s holds id %q", h.ID, h.Path(StateFile), quotableID(st.ID))
	}
	return st, nil
}

// decodeState decodes state.json. barco writes valid UTF-8; a file with
// other bytes (a damaged one) is decoded by encoding/json, which replaces
// them with U+FFFD where the generated decoder would keep them.
func decodeState(data []byte) (*State, error) {
	var st State
	if !utf8.Valid(data) {
		return &st, json.Unmarshal(data, &st)
	}
	l := jlexer.Lexer{Data: data}
	st.UnmarshalEasyJSON(&l)
	return &st, l.Error()
}

// WriteFile atomically replaces the file name in the container directory
// with data, with exactly the permissions perm (umask does not apply).
func (h *Handle) WriteFile(name string, data []byte, perm os.FileMode) error {
	if err := h.checkName(name); err != nil {
		return err
	}
	tmp := "." + name + ".tmp-" + strconv.FormatUint(rand.Uint64(), 36)
	fd, err := unix.Openat(h.fd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return &os.PathError{Op: "create", Path: h.Path(tmp), Err: err}
	}
	op := "write"
	err = sysfile.WriteAll(fd, data)
	if err == nil {
		op, err = "chmod", unix.Fchmod(fd, uint32(perm.Perm()))
	}
	if cerr := unix.Close(fd); err == nil && cerr != nil {
		op, err = "close", cerr
	}
	if err != nil {
		err = &os.PathError{Op: op, Path: h.Path(tmp), Err: err}
	} else {
		err = h.replace(tmp, name)
	}
	if err != nil {
		_ = unix.Unlinkat(h.fd, tmp, 0)
		return err
	}
	return nil
}

// replace renames tmp to name. An existing name is exchanged with tmp,
// which then goes: ext4 writes a file's data out before renaming it over
// another (its auto_da_alloc), and what barco keeps here never needs to
// outlive a crash of the machine.
func (h *Handle) replace(tmp, name string) error {
	err := unix.Renameat2(h.fd, tmp, h.fd, name, unix.RENAME_EXCHANGE)
	switch {
	case err == nil:
		_ = unix.Unlinkat(h.fd, tmp, 0)
		return nil
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.EINVAL):
		// No file to exchange with, or a filesystem that cannot.
		err = unix.Renameat(h.fd, tmp, h.fd, name)
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: h.Path(tmp), New: h.Path(name), Err: err}
	}
	return nil
}

// ReadFile returns the content of the file name in the container directory.
// A missing file gives an error matching os.ErrNotExist.
func (h *Handle) ReadFile(name string) ([]byte, error) {
	if err := h.checkName(name); err != nil {
		return nil, err
	}
	// The container directory holds regular files only (O_NOFOLLOW).
	return sysfile.ReadWhole(h.fd, name, unix.O_NOFOLLOW, h.Path(name))
}

// Has reports whether the container directory holds an entry name (not
// followed if it is a symlink).
func (h *Handle) Has(name string) bool {
	if h.checkName(name) != nil {
		return false
	}
	var st unix.Stat_t
	return unix.Fstatat(h.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil
}

// checkName keeps auxiliary files directly inside the container directory.
func (h *Handle) checkName(name string) error {
	if h.fd < 0 {
		return fmt.Errorf("container %q: %w", h.ID, errClosed)
	}
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') {
		return fmt.Errorf("container %q: invalid file name %q", h.ID, name)
	}
	return nil
}

func flock(fd, how int) error {
	for {
		err := unix.Flock(fd, how)
		if err != unix.EINTR {
			return err
		}
	}
}
