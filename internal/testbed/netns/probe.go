//go:build linux

package netns

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// TCPGreeting is what a [Namespace.ServeTCP] server writes to every connection.
const TCPGreeting = "ok\n"

// checkTarget keeps probes and servers on loopback and the documentation
// ranges; servers may also listen on the unspecified address.
func checkTarget(ap netip.AddrPort, listen bool) error {
	a := ap.Addr()
	switch {
	case !ap.IsValid():
		return fmt.Errorf("invalid address %s", ap)
	case a.IsLoopback(), inDocRanges(a), listen && a.IsUnspecified():
		return nil
	}
	return fmt.Errorf("address %s is neither loopback nor in a documentation range", ap)
}

// ServeTCP listens on addr inside the namespace; to every connection it
// writes [TCPGreeting] and closes. The server stops when the test ends.
func (n *Namespace) ServeTCP(t testing.TB, addr netip.AddrPort) {
	t.Helper()
	if err := checkTarget(addr, true); err != nil {
		t.Fatalf("testbed: ServeTCP: %v", err)
	}
	var ln net.Listener
	err := n.Do(func() (err error) {
		ln, err = net.Listen("tcp", addr.String())
		return err
	})
	if err != nil {
		t.Fatalf("testbed: ServeTCP in %s: %v", n.Name, err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed at cleanup
			}
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				c.Write([]byte(TCPGreeting))
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
}

// ServeUDP listens on addr inside the namespace and echoes every datagram
// back to its sender. The server stops when the test ends.
func (n *Namespace) ServeUDP(t testing.TB, addr netip.AddrPort) {
	t.Helper()
	if err := checkTarget(addr, true); err != nil {
		t.Fatalf("testbed: ServeUDP: %v", err)
	}
	var pc net.PacketConn
	err := n.Do(func() (err error) {
		pc, err = net.ListenPacket("udp", addr.String())
		return err
	})
	if err != nil {
		t.Fatalf("testbed: ServeUDP in %s: %v", n.Name, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			k, from, err := pc.ReadFrom(buf)
			if err != nil {
				return // closed at cleanup
			}
			pc.WriteTo(buf[:k], from)
		}
	}()
	t.Cleanup(func() {
		pc.Close()
		<-done
	})
}

// ProbeTCP connects from inside the namespace to to and reads the greeting.
// It returns nil when a connection is made and [TCPGreeting] is read within
// timeout, and otherwise an error saying what happened (refused, timed out,
// wrong answer).
func (n *Namespace) ProbeTCP(to netip.AddrPort, timeout time.Duration) error {
	if err := checkTarget(to, false); err != nil {
		return err
	}
	return n.Do(func() error {
		deadline := time.Now().Add(timeout)
		d := net.Dialer{Deadline: deadline}
		c, err := d.Dial("tcp", to.String())
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(deadline)
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return fmt.Errorf("read greeting from %s: %w", to, err)
		}
		if line != TCPGreeting {
			return fmt.Errorf("%s greeted %q, want %q", to, line, TCPGreeting)
		}
		return nil
	})
}

// ProbeUDP sends a random datagram from inside the namespace to to and
// returns nil when the same bytes come back within timeout.
func (n *Namespace) ProbeUDP(to netip.AddrPort, timeout time.Duration) error {
	if err := checkTarget(to, false); err != nil {
		return err
	}
	return n.Do(func() error {
		c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(to))
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(timeout))
		msg := make([]byte, 16)
		rand.Read(msg)
		if _, err := c.Write(msg); err != nil {
			return fmt.Errorf("send to %s: %w", to, err)
		}
		buf := make([]byte, 64)
		k, err := c.Read(buf)
		if err != nil {
			return fmt.Errorf("no echo from %s: %w", to, err)
		}
		if !bytes.Equal(buf[:k], msg) {
			return errors.New("echo differs from the datagram sent")
		}
		return nil
	})
}
