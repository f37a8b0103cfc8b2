package allowlist

import (
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// TestListenerOverLoopback dials from a trusted (127.0.0.2) and an untrusted
// (127.0.0.1) loopback address: the untrusted connection is reset without
// being returned by Accept, and Accept goes on serving.
func TestListenerOverLoopback(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var rejected atomic.Int32
	ln := Listener{Listener: inner, Trusted: MustParse("127.0.0.2\n"), OnReject: func(net.Addr) { rejected.Add(1) }}
	defer ln.Close()

	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
			c.Write([]byte("hello"))
			c.Close()
		}
	}()

	dial := func(local string) (string, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 2 * time.Second}
		c, err := d.Dial("tcp", inner.Addr().String())
		if err != nil {
			return "", err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		b, err := io.ReadAll(c)
		return string(b), err
	}

	for range 3 {
		got, err := dial("127.0.0.1")
		if got != "" || err == nil && got == "hello" {
			t.Errorf("untrusted peer read %q, %v", got, err)
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("untrusted peer was left hanging: %v", err)
		}
	}
	got, err := dial("127.0.0.2")
	if got != "hello" || err != nil {
		t.Fatalf("trusted peer read %q, %v", got, err)
	}
	c := <-accepted
	if c.RemoteAddr().(*net.TCPAddr).IP.String() != "127.0.0.2" {
		t.Errorf("Accept returned a connection from %v", c.RemoteAddr())
	}
	if n := rejected.Load(); n != 3 {
		t.Errorf("%d rejections, want 3", n)
	}
	select {
	case c := <-accepted:
		t.Errorf("an untrusted connection from %v was accepted", c.RemoteAddr())
	default:
	}

	ln.Close()
	if _, ok := <-accepted; ok {
		t.Error("Accept did not stop when the listener closed")
	}
}

func TestListenerNilTrustedAdmitsNoOne(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := Listener{Listener: inner}
	defer ln.Close()
	go func() {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err == nil {
			c.Close()
		}
		time.Sleep(100 * time.Millisecond)
		ln.Close()
	}()
	if c, err := ln.Accept(); err == nil {
		t.Errorf("accepted %v with no trusted set", c.RemoteAddr())
	}
}

// blockingConn is a connection whose RemoteAddr blocks until it is closed,
// as a PROXY-protocol wrapper's does while it waits for the header.
type blockingConn struct {
	net.Conn
	closed chan struct{}
}

func (c *blockingConn) RemoteAddr() net.Addr {
	<-c.closed
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 1}
}

func (c *blockingConn) Close() error {
	select {
	case <-c.closed:
	default:
		close(c.closed)
	}
	return nil
}

// addrConn is a connection from a fixed address.
type addrConn struct {
	net.Conn
	addr net.Addr
}

func (c addrConn) RemoteAddr() net.Addr { return c.addr }
func (c addrConn) Close() error         { return nil }

// sliceListener hands out the given connections, then blocks.
type sliceListener struct {
	net.Listener
	conns chan net.Conn
}

func (l sliceListener) Accept() (net.Conn, error) { return <-l.conns, nil }

// TestListenerBoundsRemoteAddr: a connection whose RemoteAddr blocks (a
// PROXY-protocol wrapper under the Listener, whose client sends nothing)
// must not hold up Accept for the connections behind it.
func TestListenerBoundsRemoteAddr(t *testing.T) {
	conns := make(chan net.Conn, 2)
	blocked := &blockingConn{closed: make(chan struct{})}
	good := addrConn{addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 2}}
	conns <- blocked
	conns <- good
	var rejected []net.Addr
	ln := Listener{Listener: sliceListener{conns: conns}, Trusted: MustParse("127.0.0.2\n"),
		PeerTimeout: 50 * time.Millisecond, OnReject: func(a net.Addr) { rejected = append(rejected, a) }}
	done := make(chan net.Conn)
	go func() {
		c, _ := ln.Accept()
		done <- c
	}()
	select {
	case c := <-done:
		if c != good || len(rejected) != 1 || rejected[0] != nil {
			t.Errorf("Accept returned %v; rejected %v", c, rejected)
		}
	case <-time.After(5 * time.Second):
		blocked.Close()
		t.Fatal("a connection whose RemoteAddr blocks held up Accept")
	}
	select {
	case <-blocked.closed:
	default:
		t.Error("the blocked connection was not closed")
	}
}
