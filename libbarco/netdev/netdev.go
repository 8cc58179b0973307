// Package netdev moves network devices of the host into a container's
// network namespace (linux.netDevices): renamed when the config says so,
// with their permanent global addresses, and up.
//
// The requests are built on golang.org/x/sys/unix's netlink constants and
// the syscall package's parsers: the four requests this needs do not
// justify a netlink library in a binary that every barco command maps.
package netdev

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// Device is one entry of linux.netDevices.
type Device struct {
	HostName string // the device's name in the runtime's network namespace
	Name     string // its name in the container's; "" keeps HostName
}

// target is the name the device is asked to have in the container.
func (d Device) target() string {
	if d.Name == "" {
		return d.HostName
	}
	return d.Name
}

// CheckName checks a device name as the kernel does (dev_valid_name):
// not empty, shorter than IFNAMSIZ, not "." or "..", no '/', ':' or white
// space. A name in the container may be a template with one "%d", which
// the kernel replaces by the first free number.
func CheckName(name string, template bool) error {
	switch {
	case name == "":
		return errors.New("empty device name")
	case len(name) >= unix.IFNAMSIZ:
		return fmt.Errorf("device name %q is longer than %d bytes", name, unix.IFNAMSIZ-1)
	case name == "." || name == "..":
		return fmt.Errorf("device name %q is not allowed", name)
	case strings.ContainsAny(name, "/: \t\n\v\f\r"):
		return fmt.Errorf("device name %q contains '/', ':' or white space", name)
	}
	if n := strings.Count(name, "%"); n > 0 {
		if !template || n > 1 || !strings.Contains(name, "%d") {
			return fmt.Errorf("device name %q: only a container name may hold a \"%%d\" template, and only one", name)
		}
	}
	return nil
}

// IsTemplate reports whether a name in the container asks the kernel for
// a free number.
func IsTemplate(name string) bool { return strings.Contains(name, "%d") }

// MoveAll moves each device from the caller's network namespace into the
// one open at nsFD, keeping its permanent addresses of global scope (the
// kernel drops every address of a device that changes namespace), and
// sets it up there. nsFD must be another namespace than the caller's: the
// kernel takes a move into the namespace a device is in as done, without
// renaming it. The devices are left where they are when the
// container's namespace ends: the kernel gives physical devices back to
// the initial namespace and destroys virtual ones.
func MoveAll(devs []Device, nsFD int) error {
	if len(devs) == 0 {
		return nil
	}
	host, err := openConn()
	if err != nil {
		return err
	}
	defer host.close()
	inside, err := openConnIn(nsFD)
	if err != nil {
		return err
	}
	defer inside.close()
	for _, d := range devs {
		if err := move(host, inside, d, nsFD); err != nil {
			return fmt.Errorf("linux.netDevices[%s]: %w", d.HostName, err)
		}
	}
	return nil
}

func move(host, inside *conn, d Device, nsFD int) error {
	l, err := host.linkByName(d.HostName)
	if errors.Is(err, unix.ENODEV) {
		return errors.New("no such device in the runtime's network namespace")
	}
	if err != nil {
		return fmt.Errorf("find device: %w", err)
	}
	addrs, err := host.addresses(l.index)
	if err != nil {
		return fmt.Errorf("list addresses: %w", err)
	}
	name := d.target()
	var before []link
	if IsTemplate(name) {
		if before, err = inside.links(); err != nil {
			return fmt.Errorf("list the container's devices: %w", err)
		}
	} else if _, err := inside.linkByName(name); err == nil {
		return fmt.Errorf("a device named %q already exists in the container's network namespace", name)
	}
	rename := ""
	if name != l.name {
		rename = name
	}
	if err := host.moveLink(l.index, nsFD, rename); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("move to the container's network namespace as %q: the name is taken there", name)
		}
		return fmt.Errorf("move to the container's network namespace as %q: %w", name, err)
	}
	moved, err := findMoved(inside, name, before)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if a.scope != unix.RT_SCOPE_UNIVERSE || a.flags&unix.IFA_F_PERMANENT == 0 {
			continue
		}
		if err := inside.addAddress(moved.index, a); err != nil {
			return fmt.Errorf("restore an address on %s: %w", moved.name, err)
		}
	}
	if err := inside.setUp(moved.index); err != nil {
		return fmt.Errorf("set %s up: %w", moved.name, err)
	}
	return nil
}

// findMoved finds the moved device in the container's namespace: by name,
// or for a template the one device that was not there before.
func findMoved(inside *conn, name string, before []link) (link, error) {
	if !IsTemplate(name) {
		l, err := inside.linkByName(name)
		if err != nil {
			return link{}, fmt.Errorf("find %s after the move: %w", name, err)
		}
		return l, nil
	}
	after, err := inside.links()
	if err != nil {
		return link{}, fmt.Errorf("list the container's devices: %w", err)
	}
	known := map[int32]bool{}
	for _, l := range before {
		known[l.index] = true
	}
	var found []link
	for _, l := range after {
		if !known[l.index] {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		return link{}, fmt.Errorf("find the device named after %q: %d new devices in the container's namespace", name, len(found))
	}
	return found[0], nil
}

// openConnIn opens a netlink socket in the network namespace open at nsFD.
// A socket stays in the namespace it was made in, so one thread enters the
// namespace, makes it and returns; a thread that cannot return is never
// used again (it stays locked, and ends with its goroutine).
func openConnIn(nsFD int) (*conn, error) {
	type result struct {
		c   *conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		own, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("open own network namespace: %w", err)}
			return
		}
		defer unix.Close(own)
		if err := unix.Setns(nsFD, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("enter the container's network namespace: %w", err)}
			return
		}
		c, cerr := openConn()
		if err := unix.Setns(own, unix.CLONE_NEWNET); err != nil {
			if c != nil {
				c.close()
			}
			ch <- result{err: fmt.Errorf("return to own network namespace: %w", err)}
			return // still locked: the thread ends with this goroutine
		}
		runtime.UnlockOSThread()
		ch <- result{c: c, err: cerr}
	}()
	r := <-ch
	return r.c, r.err
}
