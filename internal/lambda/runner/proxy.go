package runner

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
)

// ProxyCommand is the argument that makes the nimbus binary run as a
// sandbox's Runtime API proxy: main calls ProxyMain(os.Args[2:]) when
// os.Args[1] == ProxyCommand, as it does for oci.ShimCommand.
//
// Why: a runtime reaches its Runtime API over TCP (AWS_LAMBDA_RUNTIME_API
// is host:port), and giving each sandbox a network (CNI bridge, veth,
// nftables) costs every cold start about 45 ms of attach and 4 ms of
// firewall here (substrate Run p50 160 ms with a network, 115 ms without,
// on an idle host). With Options.RuntimeAPIProxy the sandbox gets no
// network at all: this proxy, PID 1 of the sandbox, listens on the
// sandbox's own 127.0.0.1 and forwards each connection to a Unix socket the
// Pool serves on the host, bind-mounted into the sandbox; then it runs the
// runtime as its child.
//
// The saving is smaller than it could be: the proxy is a re-exec of the
// whole nimbus binary, which takes about 30 ms to start (17 ms of it
// package initialisers) and about 12 MB that count against the function's
// memory. A small dedicated proxy binary would keep nearly all 45 ms.
const ProxyCommand = "__lambda-rapi-proxy"

// Paths of the proxy inside a sandbox.
const (
	proxyBinary = "/.nimbus/rapi-proxy"
	proxySocket = "/.nimbus/rapi.sock"
	proxyListen = "127.0.0.1:9001"
)

// ProxyMain runs the proxy: args is [socket, listen address, argv...]. It
// returns the runtime's exit code, or 128 plus the signal that ended it.
func ProxyMain(args []string) int {
	if len(args) < 3 {
		fmt.Fprintln(os.Stderr, "rapi-proxy: usage: SOCKET LISTEN-ADDR COMMAND...")
		return 2
	}
	socket, addr, argv := args[0], args[1], args[2:]
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "rapi-proxy: %v\n", err)
		return 1
	}
	var conns sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed as the runtime ended
			}
			conns.Add(1)
			go func() { defer conns.Done(); forward(c, socket) }()
		}
	}()

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "rapi-proxy: start runtime: %v\n", err)
		return 127
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	ln.Close()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	fmt.Fprintf(os.Stderr, "rapi-proxy: wait runtime: %v\n", err)
	return 1
}

// forward copies one runtime connection to the host's socket and back.
func forward(c net.Conn, socket string) {
	defer c.Close()
	up, err := net.Dial("unix", socket)
	if err != nil {
		fmt.Fprintf(os.Stderr, "rapi-proxy: %v\n", err)
		return
	}
	defer up.Close()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	done := make(chan struct{})
	go func() {
		io.Copy(up, c)
		up.(*net.UnixConn).CloseWrite()
		close(done)
	}()
	io.Copy(c, up)
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	<-done
}
