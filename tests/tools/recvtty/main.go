// Command recvtty receives the pty master of a container created with
// `barco create --console-socket SOCKET`: it listens on SOCKET, takes one
// connection and the one fd sent over it (SCM_RIGHTS), and then serves
// that terminal until the container side closes it.
//
//	recvtty [--mode single|null] [--pid-file FILE] SOCKET
//
// In single mode (the default) the terminal is joined to recvtty's own
// stdin and stdout, which are put in raw mode when they are a terminal, so
// a person can work in the container:
//
//	terminal 1: recvtty /tmp/tty.sock
//	terminal 2: barco create --console-socket /tmp/tty.sock ID && barco start ID
//
// In null mode the container's output is read and thrown away, which is
// enough to let a terminal process run to completion (tests, benchmarks).
//
// recvtty writes nothing on stdout but the container's output, and exits
// once the container has closed its terminal. The pid file is written after
// the socket is listening, so its appearance means recvtty is ready.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/barco-oci/barco/libbarco/console"
)

func main() {
	mode := flag.String("mode", "single", "what to do with the terminal: single (join it to stdin/stdout) or null (discard its output)")
	pidFile := flag.String("pid-file", "", "write recvtty's pid to this file once the socket is listening")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: %s [--mode single|null] [--pid-file FILE] SOCKET\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if *mode != "single" && *mode != "null" {
		fmt.Fprintf(os.Stderr, "recvtty: unknown mode %q: must be single or null\n", *mode)
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *mode, *pidFile); err != nil {
		fmt.Fprintf(os.Stderr, "recvtty: %v\n", err)
		os.Exit(1)
	}
}

func run(path, mode, pidFile string) error {
	master, err := receive(path, pidFile)
	if err != nil {
		return err
	}
	defer master.Close()
	if mode == "null" {
		return drain(io.Discard, master)
	}
	done, restore := console.Proxy(master, os.Stdin, os.Stdout)
	defer restore()
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, unix.SIGWINCH)
	defer signal.Stop(winch)
	for {
		select {
		case <-winch:
			console.ResizeFrom(master, os.Stdin)
		case <-done:
			return nil
		}
	}
}

// receive listens on path, accepts one connection and returns the fd
// received over it. The socket file is removed before returning.
func receive(path, pidFile string) (*os.File, error) {
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	if pidFile != "" {
		if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			return nil, fmt.Errorf("write pid file: %w", err)
		}
	}
	conn, err := ln.Accept()
	if err != nil {
		return nil, fmt.Errorf("accept: %w", err)
	}
	defer conn.Close()
	sock, err := conn.(*net.UnixConn).File()
	if err != nil {
		return nil, err
	}
	defer sock.Close()
	return console.RecvFd(sock)
}

// drain copies the master to w until the container closes the last slave,
// which a pty master reports as EIO rather than EOF.
func drain(w io.Writer, master *os.File) error {
	_, err := io.Copy(w, master)
	if err != nil && !errors.Is(err, unix.EIO) {
		return fmt.Errorf("read terminal: %w", err)
	}
	return nil
}
