package netdev

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// conn is a route netlink socket, bound to the network namespace of the
// thread that opened it.
type conn struct {
	fd  int
	seq uint32
}

func openConn() (*conn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	// Dumps filtered by the kernel (an address dump of one device), and
	// requests with a bad attribute refused instead of half applied.
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_GET_STRICT_CHK, 1)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	return &conn{fd: fd}, nil
}

func (c *conn) close() { unix.Close(c.fd) }

// message builds one netlink request: a header, a fixed-size body and
// attributes.
type message struct {
	typ   uint16
	flags uint16 // NLM_F_* of a change (the same bits mean other things in a get)
	dump  bool
	body  []byte
	attrs []byte
}

func (m *message) addAttr(typ uint16, data []byte) {
	n := unix.SizeofRtAttr + len(data)
	a := make([]byte, align(n))
	binary.NativeEndian.PutUint16(a[0:2], uint16(n))
	binary.NativeEndian.PutUint16(a[2:4], typ)
	copy(a[unix.SizeofRtAttr:], data)
	m.attrs = append(m.attrs, a...)
}

func (m *message) addUint32(typ uint16, v uint32) {
	b := make([]byte, 4)
	binary.NativeEndian.PutUint32(b, v)
	m.addAttr(typ, b)
}

func (m *message) addString(typ uint16, s string) {
	m.addAttr(typ, append([]byte(s), 0))
}

func align(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

// request sends m and returns the replies: the messages of a dump, or
// none for an acknowledged change. A kernel error comes back as its errno.
func (c *conn) request(m *message) ([]syscall.NetlinkMessage, error) {
	c.seq++
	body := append(m.body[:len(m.body):len(m.body)], m.attrs...)
	b := make([]byte, unix.SizeofNlMsghdr+len(body))
	binary.NativeEndian.PutUint32(b[0:4], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:6], m.typ)
	flags := m.flags | unix.NLM_F_REQUEST | unix.NLM_F_ACK
	if m.dump {
		flags |= unix.NLM_F_DUMP
	}
	binary.NativeEndian.PutUint16(b[6:8], flags)
	binary.NativeEndian.PutUint32(b[8:12], c.seq)
	copy(b[unix.SizeofNlMsghdr:], body)
	if err := unix.Sendto(c.fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, err
	}
	var out []syscall.NetlinkMessage
	for {
		// A buffer per read: the messages kept point into it.
		buf := make([]byte, 64<<10)
		n, _, err := unix.Recvfrom(c.fd, buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, fmt.Errorf("parse netlink reply: %w", err)
		}
		for _, msg := range msgs {
			if msg.Header.Seq != c.seq {
				continue
			}
			switch msg.Header.Type {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				if len(msg.Data) < 4 {
					return nil, errors.New("short netlink error message")
				}
				if errno := int32(binary.NativeEndian.Uint32(msg.Data[0:4])); errno != 0 {
					return nil, syscall.Errno(-errno)
				}
				// The acknowledgement of a change (a dump ends with DONE).
				if !m.dump {
					return out, nil
				}
			default:
				out = append(out, msg)
			}
		}
	}
}

// ifInfo lays out a struct ifinfomsg for the device with the given index
// (0: any), changing the given IFF_* flags to set.
func ifInfo(index int32, set uint32) []byte {
	b := make([]byte, unix.SizeofIfInfomsg)
	binary.NativeEndian.PutUint32(b[4:8], uint32(index))
	binary.NativeEndian.PutUint32(b[8:12], set)  // ifi_flags
	binary.NativeEndian.PutUint32(b[12:16], set) // ifi_change
	return b
}

// ifAddr lays out a struct ifaddrmsg for address a of the device with the
// given index.
func ifAddr(index int32, a address) []byte {
	b := make([]byte, unix.SizeofIfAddrmsg)
	b[0], b[1], b[2], b[3] = a.family, a.prefixLen, uint8(a.flags), a.scope
	binary.NativeEndian.PutUint32(b[4:8], uint32(index))
	return b
}

// link is what a device is found by.
type link struct {
	index int32
	name  string
}

// linkByName looks a device up by name.
func (c *conn) linkByName(name string) (link, error) {
	m := &message{typ: unix.RTM_GETLINK, body: ifInfo(0, 0)}
	m.addString(unix.IFLA_IFNAME, name)
	msgs, err := c.request(m)
	if err != nil {
		return link{}, err
	}
	for _, msg := range msgs {
		if l, ok := parseLink(msg); ok {
			return l, nil
		}
	}
	return link{}, unix.ENODEV
}

// links lists every device.
func (c *conn) links() ([]link, error) {
	m := &message{typ: unix.RTM_GETLINK, dump: true, body: ifInfo(0, 0)}
	msgs, err := c.request(m)
	if err != nil {
		return nil, err
	}
	var out []link
	for _, msg := range msgs {
		if l, ok := parseLink(msg); ok {
			out = append(out, l)
		}
	}
	return out, nil
}

func parseLink(msg syscall.NetlinkMessage) (link, bool) {
	if msg.Header.Type != unix.RTM_NEWLINK || len(msg.Data) < unix.SizeofIfInfomsg {
		return link{}, false
	}
	l := link{index: int32(binary.NativeEndian.Uint32(msg.Data[4:8]))}
	for _, a := range parseAttrs(msg.Data[unix.SizeofIfInfomsg:]) {
		if a.typ == unix.IFLA_IFNAME {
			l.name = cString(a.val)
		}
	}
	return l, true
}

// attr is one netlink attribute.
type attr struct {
	typ uint16
	val []byte
}

// parseAttrs splits the attributes that follow a message's fixed part,
// up to the first malformed one.
func parseAttrs(b []byte) []attr {
	var out []attr
	for len(b) >= unix.SizeofRtAttr {
		n := int(binary.NativeEndian.Uint16(b[0:2]))
		if n < unix.SizeofRtAttr || n > len(b) {
			break
		}
		// The nested and byte-order flags are not part of the type.
		out = append(out, attr{typ: binary.NativeEndian.Uint16(b[2:4]) &^ (unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER), val: b[unix.SizeofRtAttr:n]})
		b = b[min(align(n), len(b)):]
	}
	return out
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// address is one address of a device, as the kernel reported it.
type address struct {
	family    uint8
	prefixLen uint8
	flags     uint32 // IFA_F_*, from IFA_FLAGS when the kernel sent it
	scope     uint8
	attrs     []attr
}

// addresses lists the addresses of the device with the given index.
func (c *conn) addresses(index int32) ([]address, error) {
	m := &message{typ: unix.RTM_GETADDR, dump: true, body: ifAddr(index, address{})}
	msgs, err := c.request(m)
	if err != nil {
		return nil, err
	}
	var out []address
	for _, msg := range msgs {
		if msg.Header.Type != unix.RTM_NEWADDR || len(msg.Data) < unix.SizeofIfAddrmsg {
			continue
		}
		if int32(binary.NativeEndian.Uint32(msg.Data[4:8])) != index {
			continue // a kernel that ignores the filter
		}
		a := address{family: msg.Data[0], prefixLen: msg.Data[1], flags: uint32(msg.Data[2]), scope: msg.Data[3]}
		attrs := parseAttrs(msg.Data[unix.SizeofIfAddrmsg:])
		for _, at := range attrs {
			if at.typ == unix.IFA_FLAGS && len(at.val) >= 4 {
				a.flags = binary.NativeEndian.Uint32(at.val)
			}
		}
		a.attrs = attrs
		out = append(out, a)
	}
	return out, nil
}

// addAddress gives the device with the given index the address a. Only
// the attributes that define an address are sent: its label named the
// device's old name, and its lifetimes are infinite (a permanent address).
func (c *conn) addAddress(index int32, a address) error {
	m := &message{typ: unix.RTM_NEWADDR, flags: unix.NLM_F_CREATE | unix.NLM_F_EXCL, body: ifAddr(index, a)}
	for _, at := range a.attrs {
		switch at.typ {
		case unix.IFA_ADDRESS, unix.IFA_LOCAL, unix.IFA_BROADCAST:
			m.addAttr(at.typ, at.val)
		}
	}
	m.addUint32(unix.IFA_FLAGS, a.flags)
	_, err := c.request(m)
	return err
}

// moveLink moves the device into the network namespace open at nsFD,
// renamed to name unless it is empty, in one request: the kernel checks
// the name in the target namespace and expands a "%d" in it.
func (c *conn) moveLink(index int32, nsFD int, name string) error {
	m := &message{typ: unix.RTM_NEWLINK, body: ifInfo(index, 0)}
	m.addUint32(unix.IFLA_NET_NS_FD, uint32(nsFD))
	if name != "" {
		m.addString(unix.IFLA_IFNAME, name)
	}
	_, err := c.request(m)
	return err
}

// setUp sets the device's administrative state up.
func (c *conn) setUp(index int32) error {
	_, err := c.request(&message{typ: unix.RTM_NEWLINK, body: ifInfo(index, unix.IFF_UP)})
	return err
}
