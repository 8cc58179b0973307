package seccomp

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"

	"github.com/mailru/easyjson/jwriter"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/internal/sysfile"
)

// Cache entry layout, all integers in host byte order:
//
//	magic [8]byte | keylen u32 | key [keylen]byte | flags u32 | notify u32 |
//	count u32 | count × sock_filter | FNV-1a 128 of everything before [16]byte
//
// The entry's name is the FNV-1a 128 hash of its key, which is everything
// the program depends on, spelled out (see cacheKey). A hit is an entry
// whose key equals the one asked for, byte for byte: the hash only finds
// the file, and a profile made to collide with another's gets no program
// but its own. The trailing checksum catches truncated and corrupt
// entries, which is why writes need no fsync: an entry lost or torn by a
// crash is recompiled. FNV rather than a cryptographic hash: crypto/sha256
// brings dozens of packages whose initialisation every barco process pays.
const (
	cacheMagic   = "barcoBF2"
	cacheVersion = "2" // bump when the layout or the compilation changes
	sumSize      = 16
)

var errBadEntry = errors.New("bad cache entry")

// compileFunc is Compile; tests pass a counting wrapper to prove hits skip
// libseccomp.
type compileFunc func(*specs.LinuxSeccomp, *slog.Logger) (*Program, error)

// CompileCached is Compile with an on-disk cache in dir.
//
// The key is a hash of the JSON of s, the libseccomp version and API level,
// GOARCH and the kernel's machine name: everything the program depends on.
// A missing, truncated or corrupt entry is compiled and written again,
// atomically (temporary file and rename), mode 0600. dir is created 0700
// and must be owned by the caller and not writable by group or others: an
// entry is a security policy that is loaded without further checks.
// Failing to write an entry is logged, not returned: the program is good.
func CompileCached(dir string, s *specs.LinuxSeccomp, log *slog.Logger) (*Program, error) {
	return compileCached(dir, s, log, Compile)
}

func compileCached(dir string, s *specs.LinuxSeccomp, log *slog.Logger, compile compileFunc) (*Program, error) {
	if s == nil {
		return nil, errors.New("linux.seccomp: no seccomp section to compile")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := checkCacheDir(dir); err != nil {
		return nil, err
	}
	key, err := cacheKey(s)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, keyName(key))
	if raw, err := sysfile.ReadRegular(path); err == nil {
		p, err := decodeEntry(raw, key)
		if err == nil {
			return p, nil
		}
		log.Debug("seccomp: recompiling cache entry", "path", path, "error", err)
	} else if !errors.Is(err, os.ErrNotExist) {
		log.Debug("seccomp: recompiling cache entry", "path", path, "error", err)
	}
	p, err := compile(s, log)
	if err != nil {
		return nil, err
	}
	if err := writeEntry(dir, path, encodeEntry(p, key)); err != nil {
		log.Warn("seccomp: cannot cache compiled filter", "path", path, "error", err)
	}
	return p, nil
}

func checkCacheDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("seccomp cache: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return fmt.Errorf("seccomp cache: lstat %s: %w", dir, err)
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return fmt.Errorf("seccomp cache: %s is not a directory", dir)
	case int(st.Uid) != os.Geteuid():
		return fmt.Errorf("seccomp cache: %s is owned by uid %d, not %d", dir, st.Uid, os.Geteuid())
	case st.Mode&0o022 != 0:
		return fmt.Errorf("seccomp cache: %s is writable by group or others (mode %#o)", dir, st.Mode&0o777)
	}
	return nil
}

// cacheKey spells out what the program of s depends on: the cache
// version, libseccomp's version and API level (what it found the kernel
// supports changes the programs it generates), GOARCH, the kernel's
// machine name, and the profile as JSON.
func cacheKey(s *specs.LinuxSeccomp) ([]byte, error) {
	var w jwriter.Writer
	keyProfile{s}.MarshalEasyJSON(&w)
	js, err := w.BuildBytes()
	if err != nil {
		return nil, fmt.Errorf("seccomp cache key: %w", err)
	}
	api, _ := libseccomp.GetAPI()
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return nil, fmt.Errorf("seccomp cache key: uname: %w", err)
	}
	key := fmt.Appendf(nil, "%s\x00%s\x00%d\x00%s\x00%s\x00", cacheVersion, Version(), api, runtime.GOARCH, unix.ByteSliceToString(uts.Machine[:]))
	return append(key, js...), nil
}

// keyProfile is the profile as it goes into a cache key; its JSON encoder
// is generated (cache_easyjson.go, `make generate`).
//
//easyjson:json
type keyProfile struct{ Profile *specs.LinuxSeccomp }

func checksum(b []byte) []byte {
	h := fnv.New128a()
	h.Write(b)
	return h.Sum(nil)
}

func keyName(key []byte) string { return hex.EncodeToString(checksum(key)) }

func encodeEntry(p *Program, key []byte) []byte {
	var b bytes.Buffer
	b.WriteString(cacheMagic)
	b.Write(binary.NativeEndian.AppendUint32(nil, uint32(len(key))))
	b.Write(key)
	notify := uint32(0)
	if p.notify {
		notify = 1
	}
	for _, v := range []uint32{uint32(p.flags), notify, uint32(len(p.insns))} {
		b.Write(binary.NativeEndian.AppendUint32(nil, v))
	}
	b.Write(encodeInsns(p.insns))
	b.Write(checksum(b.Bytes()))
	return b.Bytes()
}

func decodeEntry(raw []byte, key []byte) (*Program, error) {
	if len(raw) < len(cacheMagic)+4+sumSize {
		return nil, fmt.Errorf("%w: %d bytes is too short", errBadEntry, len(raw))
	}
	body, sum := raw[:len(raw)-sumSize], raw[len(raw)-sumSize:]
	if !bytes.Equal(sum, checksum(body)) {
		return nil, fmt.Errorf("%w: checksum mismatch", errBadEntry)
	}
	if string(body[:len(cacheMagic)]) != cacheMagic {
		return nil, fmt.Errorf("%w: bad magic", errBadEntry)
	}
	body = body[len(cacheMagic):]
	keyLen := uint64(binary.NativeEndian.Uint32(body))
	body = body[4:]
	if keyLen+12 > uint64(len(body)) {
		return nil, fmt.Errorf("%w: a key of %d bytes in %d", errBadEntry, keyLen, len(body))
	}
	if !bytes.Equal(body[:keyLen], key) {
		return nil, fmt.Errorf("%w: entry is for another key", errBadEntry)
	}
	body = body[keyLen:]
	flagBits := binary.NativeEndian.Uint32(body[0:])
	notify := binary.NativeEndian.Uint32(body[4:])
	count := binary.NativeEndian.Uint32(body[8:])
	body = body[12:]
	if uint64(count)*sockFilterSize != uint64(len(body)) {
		return nil, fmt.Errorf("%w: %d instructions in %d bytes", errBadEntry, count, len(body))
	}
	insns, err := decodeInsns(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadEntry, err)
	}
	return &Program{insns: insns, flags: uint(flagBits), notify: notify == 1}, nil
}

func writeEntry(dir, path string, data []byte) error {
	tmp, err := os.CreateTemp(dir, ".tmp-*") // mode 0600
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}
