package libbarco

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/libbarco/configs"
	"github.com/barco-oci/barco/libbarco/criu"
	"github.com/barco-oci/barco/state"
)

// Files barco adds to a checkpoint's image directory.
const (
	// descriptorsFile lists what the init's stdio pointed to, in runc's
	// format (the /proc/PID/fd link of fds 0, 1 and 2).
	descriptorsFile = "descriptors.json"
	// stdioFile holds the --inherit-fd keys restore must give for the
	// init's stdio: pipes and files from outside the container.
	stdioFile = "barco-stdio.json"
)

// CriuOpts are the options checkpoint and restore share.
type CriuOpts struct {
	Criu      string // criu binary; "" looks up criu in PATH
	ImagePath string // the image directory (checkpoint creates it if missing)
	WorkPath  string // directory for criu's log; ImagePath if empty
	// ManageCgroupsMode is criu's --manage-cgroups mode; "" keeps criu's
	// default.
	ManageCgroupsMode string
	TCPEstablished    bool
	ExtUnixSk         bool
	ShellJob          bool
	FileLocks         bool
	AutoDedup         bool
	// EmptyNS are namespaces (runtime-spec names) criu creates empty
	// instead of restoring; only "network" is supported.
	EmptyNS   []string
	LazyPages bool
}

// common is the part of criu's options that o sets, with the image and
// work directories resolved.
func (o CriuOpts) common(imageDir, workDir string) criu.Common {
	return criu.Common{
		ImagesDir:         imageDir,
		WorkDir:           workDir,
		ManageCgroupsMode: o.ManageCgroupsMode,
		TCPEstablished:    o.TCPEstablished,
		ExtUnixSk:         o.ExtUnixSk,
		ShellJob:          o.ShellJob,
		FileLocks:         o.FileLocks,
	}
}

// CheckpointOpts are the options of `checkpoint`.
type CheckpointOpts struct {
	CriuOpts
	// ParentPath is a previous pre-dump's image directory (relative to
	// ImagePath or absolute): only memory changed since is dumped.
	ParentPath      string
	PreDump         bool
	LeaveRunning    bool
	TCPSkipInFlight bool
	LinkRemap       bool
}

// ErrCheckpointUnsupported is returned for checkpoint and restore options
// and container settings barco cannot handle.
var ErrCheckpointUnsupported = errors.New("not supported by barco's checkpoint/restore")

// Checkpoint dumps the running container's process tree into
// opts.ImagePath with criu. Unless LeaveRunning (or PreDump) is set, criu
// then kills the processes and the container is stopped; its state stays
// until `delete`. The caller holds the container's lock.
func (c *Container) Checkpoint(opts CheckpointOpts) error {
	if err := opts.validate(); err != nil {
		return err
	}
	switch s := c.Status(); s {
	case state.StatusRunning, state.StatusPaused:
	default:
		return fmt.Errorf("cannot checkpoint container %q: it is %s: %w", c.ID, s, ErrNotRunning)
	}
	cfg, err := c.Config()
	if err != nil {
		return err
	}
	if cfg.Process.Terminal {
		return fmt.Errorf("checkpoint of a container with process.terminal: %w", ErrCheckpointUnsupported)
	}
	bin, err := criu.LookPath(opts.Criu)
	if err != nil {
		return err
	}
	imageDir, workDir, err := checkpointDirs(opts.ImagePath, opts.WorkPath, true)
	if err != nil {
		return err
	}
	d := &criu.DumpOpts{
		Common:          opts.common(imageDir, workDir),
		Pid:             c.st.Pid,
		PreDump:         opts.PreDump,
		LeaveRunning:    opts.LeaveRunning,
		ParentImages:    opts.ParentPath,
		TCPSkipInFlight: opts.TCPSkipInFlight,
		LinkRemap:       opts.LinkRemap,
		AutoDedup:       opts.AutoDedup,
	}
	// A pre-dump only copies memory; the rest is for the final dump.
	if !opts.PreDump {
		ext, err := c.dumpExternals(cfg)
		if err != nil {
			return err
		}
		d.External = append(d.External, ext...)
		inherit, stdioExt, err := c.describeStdio(imageDir)
		if err != nil {
			return err
		}
		d.External = append(d.External, stdioExt...)
		if err := writeJSON(filepath.Join(imageDir, stdioFile), inherit); err != nil {
			return err
		}
	}
	if cg, err := c.cgroup(); err == nil && cg != nil && cg.Exists() {
		d.FreezeCgroup = cg.Dir()
	}
	c.rt.Log.Debug("checkpoint", "id", c.ID, "criu", bin, "args", d.Args())
	cmd := exec.Command(bin, d.Args()...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return criuError(d.Op(), workDir, d.LogName(), out, err)
	}
	if opts.PreDump || opts.LeaveRunning {
		return nil
	}
	// criu killed the tree after dumping it; report stopped only once the
	// init is really gone.
	return c.waitInitExit()
}

func (o *CheckpointOpts) validate() error {
	if o.LazyPages {
		return fmt.Errorf("--lazy-pages: %w", ErrCheckpointUnsupported)
	}
	if o.PreDump && o.LeaveRunning {
		// Harmless: a pre-dump always leaves the container running.
		o.LeaveRunning = false
	}
	if _, err := emptyNet(o.EmptyNS); err != nil {
		return err
	}
	return criu.ValidateCgroupsMode(o.ManageCgroupsMode)
}

// emptyNet converts --empty-ns values: criu can only leave the network
// namespace empty.
func emptyNet(ns []string) (bool, error) {
	empty := false
	for _, n := range ns {
		switch n {
		case "network", "net":
			empty = true
		default:
			return false, fmt.Errorf("--empty-ns %q: only network is supported: %w", n, ErrCheckpointUnsupported)
		}
	}
	return empty, nil
}

// checkpointDirs makes the image and work paths absolute; for a dump they
// are created, for a restore the image directory must exist.
func checkpointDirs(image, work string, create bool) (string, string, error) {
	if image == "" {
		wd, err := os.Getwd()
		if err != nil {
			return "", "", err
		}
		image = filepath.Join(wd, "checkpoint")
	}
	image, err := filepath.Abs(image)
	if err != nil {
		return "", "", err
	}
	if create {
		if err := os.MkdirAll(image, 0o700); err != nil {
			return "", "", fmt.Errorf("image path: %w", err)
		}
	} else if fi, err := os.Stat(image); err != nil {
		return "", "", fmt.Errorf("image path: %w", err)
	} else if !fi.IsDir() {
		return "", "", fmt.Errorf("image path %s is not a directory", image)
	}
	if work == "" {
		return image, image, nil
	}
	if work, err = filepath.Abs(work); err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(work, 0o700); err != nil {
		return "", "", fmt.Errorf("work path: %w", err)
	}
	return image, work, nil
}

// dumpExternals describes to criu what the container uses but does not
// own: bind mounts, the null device over masked files, and namespaces it
// joined by path (those are expected to exist again at restore).
func (c *Container) dumpExternals(cfg *configs.Config) ([]string, error) {
	var out []string
	for _, m := range criu.ExternalMounts(cfg) {
		out = append(out, criu.ExtMountDump(containerPath(cfg.Rootfs, m.Mountpoint), m.Cookie))
	}
	for _, p := range cfg.MaskedPaths {
		fi, err := os.Stat(fmt.Sprintf("/proc/%d/root%s", c.st.Pid, p))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("masked path %s: %w", p, err)
		}
		if !fi.IsDir() {
			m := criu.MaskedFileMount(p)
			out = append(out, criu.ExtMountDump(m.Mountpoint, m.Cookie))
		}
	}
	for _, t := range []configs.NamespaceType{configs.NEWNET, configs.NEWPID} {
		ns, ok := cfg.Namespace(t)
		if !ok || ns.Path == "" {
			continue
		}
		var st unix.Stat_t
		if err := unix.Stat(ns.Path, &st); err != nil {
			return nil, fmt.Errorf("%s namespace %s: %w", t, ns.Path, err)
		}
		out = append(out, criu.ExtNamespace(criuNSName[t], st.Ino, externalNSKey[t]))
	}
	return out, nil
}

var criuNSName = map[configs.NamespaceType]string{configs.NEWNET: "net", configs.NEWPID: "pid"}

// externalNSKey names a joined namespace in the image, as runc names it.
var externalNSKey = map[configs.NamespaceType]string{configs.NEWNET: "extRootNetNS", configs.NEWPID: "extRootPidNS"}

// containerPath resolves dest inside the rootfs the way the mount was
// made (symlinks followed within the rootfs) and returns it as the
// container sees it.
func containerPath(rootfs, dest string) string {
	p, err := securejoin.SecureJoin(rootfs, dest)
	if err != nil {
		return dest
	}
	if rel, ok := strings.CutPrefix(p, rootfs); ok && strings.HasPrefix(rel, "/") {
		return rel
	}
	return dest
}

// describeStdio names the init's stdio to criu, so that restore can hand
// the new stdio in its place: pipes are dumped by criu and replaced by key;
// files and terminals opened outside the container (the host's /dev/null,
// a log file) cannot be dumped and are declared external, also replaced on
// restore. Keys name files, not fds: whichever fds of whichever process of
// the tree hold them when criu freezes it are covered. The record made at
// create is used; a container without one (created by an older barco) is
// described from its init's fds as they are now. descriptors.json, runc's
// list of the init's stdio, always shows the fds as they are now.
func (c *Container) describeStdio(imageDir string) (inherit []criu.InheritFD, external []string, err error) {
	pid := c.st.Pid
	stdio := c.st.Stdio
	if stdio == nil {
		if stdio, err = readStdio(pid); err != nil {
			return nil, nil, err
		}
	}
	for _, s := range stdio {
		if s.Key == "" || s.FD < 0 || s.FD > 2 {
			continue
		}
		inherit = append(inherit, criu.InheritFD{FD: s.FD, Key: s.Key})
		if s.External {
			external = append(external, s.Key)
		}
	}
	links := make([]string, 3)
	for fd := range links {
		links[fd], _ = os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, fd))
	}
	if err := writeJSON(filepath.Join(imageDir, descriptorsFile), links); err != nil {
		return nil, nil, err
	}
	return inherit, external, nil
}

// recordStdio describes files, the init's stdin, stdout and stderr, for a
// later checkpoint. What cannot be examined is left out: it only matters
// to checkpoint, which then gives criu no key for it.
func recordStdio(files [3]*os.File) []state.StdioFile {
	out := make([]state.StdioFile, 0, 3)
	for fd, f := range files {
		if s, err := stdioEntry(fd, int(f.Fd()), ""); err == nil {
			out = append(out, s)
		}
	}
	return out
}

// readStdio describes the stdio fds pid has now; closed ones are left out.
func readStdio(pid int) ([]state.StdioFile, error) {
	var out []state.StdioFile
	for fd := 0; fd < 3; fd++ {
		s, err := stdioEntry(fd, unix.AT_FDCWD, fmt.Sprintf("/proc/%d/fd/%d", pid, fd))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("stdio of pid %d: %w", pid, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// stdioEntry describes, as the container's stdio fd, the open file at
// dirfd when path is empty, or behind path, a /proc/PID/fd link.
func stdioEntry(fd, dirfd int, path string) (state.StdioFile, error) {
	flags := 0
	if path == "" {
		flags = unix.AT_EMPTY_PATH
	}
	var stx unix.Statx_t
	if err := unix.Statx(dirfd, path, flags, unix.STATX_TYPE|unix.STATX_INO|unix.STATX_MNT_ID, &stx); err != nil {
		return state.StdioFile{}, &os.PathError{Op: "statx", Path: path, Err: err}
	}
	s := state.StdioFile{FD: fd}
	switch stx.Mode & unix.S_IFMT {
	case unix.S_IFIFO:
		var fs unix.Statfs_t
		var err error
		if path == "" {
			err = unix.Fstatfs(dirfd, &fs)
		} else {
			err = unix.Statfs(path, &fs)
		}
		if err != nil {
			return state.StdioFile{}, &os.PathError{Op: "statfs", Path: path, Err: err}
		}
		if fs.Type == unix.PIPEFS_MAGIC {
			// criu's name of a pipe is its /proc link.
			s.Key = "pipe:[" + strconv.FormatUint(stx.Ino, 10) + "]"
			return s, nil
		}
		// A named FIFO is a file like any other.
	case unix.S_IFSOCK, 0:
		// criu's own business: a socket, or an anonymous inode.
		return s, nil
	}
	s.External = true
	if stx.Mode&unix.S_IFMT == unix.S_IFCHR && isTTYMajor(stx.Rdev_major) {
		s.Key = criu.ExtTTY(unix.Mkdev(stx.Rdev_major, stx.Rdev_minor), unix.Mkdev(stx.Dev_major, stx.Dev_minor))
	} else {
		s.Key = criu.ExtFile(stx.Mnt_id, stx.Ino)
	}
	return s, nil
}

// isTTYMajor: the virtual consoles and serial lines, /dev/tty and ptmx,
// and the Unix98 pty slaves.
func isTTYMajor(major uint32) bool {
	return major == 4 || major == 5 || (major >= 136 && major <= 143)
}

func writeJSON(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// criuError wraps a failed criu run with the end of its log, or of its
// output when it failed before opening the log.
func criuError(op, workDir, logName string, out []byte, err error) error {
	logPath := filepath.Join(workDir, logName)
	e := &criu.Error{Op: op, Err: err}
	if t := criu.LogTail(logPath, 15); t != "" {
		e.LogPath, e.Tail = logPath, t
	} else {
		e.Tail = strings.TrimSpace(string(out))
	}
	return e
}
